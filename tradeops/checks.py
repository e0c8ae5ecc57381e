"""System checks of the wiring named by strings: the schedule (tradeops.schedule: a typo in a
dotted path, a queue missing from RQ_QUEUES or a bad cron) and the roles' grants (a permission
name no model defines) fail `manage.py check`, and so the tests and every deploy."""

from croniter import croniter
from django.apps import apps
from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from tradeops import schedule as schedule_module


@register()
def check_schedule(app_configs=None, **kwargs):
    errors = []
    names = set()
    for entry in schedule_module.SCHEDULE:
        where = f"schedule entry {entry.name!r}"
        if entry.name in names:
            errors.append(Error(f"{where}: the name is used twice", id="tradeops.E101"))
        names.add(entry.name)
        for field in ("func", "units", "unit_func"):
            path = getattr(entry, field)
            if not path:
                continue
            try:
                import_string(path)
            except ImportError as exc:
                errors.append(Error(f"{where}: {field} {path!r} does not import: {exc}",
                                    id="tradeops.E102"))  # fmt: skip
        if bool(entry.units) != bool(entry.unit_func):
            errors.append(Error(f"{where}: units and unit_func go together", id="tradeops.E103"))
        try:
            func = import_string(entry.func)
        except ImportError:
            func = None
        if func is not None and getattr(func, "schedule_name", None) != entry.name:
            errors.append(
                Error(
                    f"{where}: {entry.func} is not a job recorded as {entry.name!r} "
                    "(recorded_job or fan_out_job)",
                    id="tradeops.E104",
                )
            )
        if entry.queue not in settings.RQ_QUEUES:
            errors.append(Error(f"{where}: queue {entry.queue!r} is not in RQ_QUEUES",
                                id="tradeops.E105"))  # fmt: skip
        if not croniter.is_valid(entry.cron):
            errors.append(Error(f"{where}: cron {entry.cron!r} is not valid", id="tradeops.E106"))
        if entry.timeout <= 0:
            errors.append(Error(f"{where}: timeout must be positive", id="tradeops.E107"))
        if entry.daily and any(len(field) != 1 for field in croniter(entry.cron).expanded[:2]):
            errors.append(Error(f"{where}: a daily job runs once a day", id="tradeops.E108"))
    return errors


def known_permissions():
    """Every permission the models define, as "app_label.codename", read from the models (no
    database): the default ones of each model and its Meta.permissions."""
    known = set()
    for model in apps.get_models():
        opts = model._meta
        known.update(f"{opts.app_label}.{a}_{opts.model_name}" for a in opts.default_permissions)
        known.update(f"{opts.app_label}.{codename}" for codename, _ in opts.permissions)
    return known


def named_permissions(roles_module):
    """The permissions roles.py names: its constants ("app_label.codename", checked by name in
    the services and views) and every role's grants."""
    named = {
        f"{name} = {value!r}": value
        for name, value in vars(roles_module).items()
        if name.isupper() and isinstance(value, str) and "." in value
    }
    for role, grants in roles_module.ROLE_GRANTS.items():
        named.update({f"role {role!r} grants {value!r}": value for value in grants})
    return named


@register()
def check_role_grants(app_configs=None, **kwargs):
    """Every permission roles.py names exists: a typo would grant nothing, or let a has_perm
    check refuse everyone, silently."""
    from tradeops import roles

    known = known_permissions()
    return [
        Error(f"{where}: no model defines the permission {value!r}", id="tradeops.E109")
        for where, value in named_permissions(roles).items()
        if value not in known
    ]
