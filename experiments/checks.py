"""System checks of the lifecycle table (experiments.lifecycle): four eyes reads its people by
name (`did`), so a mistyped field would watch nobody and a mistyped permission let nobody move;
either fails `manage.py check`, as contrib/admin's checks do for ModelAdmin options."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import FieldDoesNotExist

from tradeops.checks import known_permissions


def four_eyes_errors(model, name, move):
    errors = []
    where = f"{model._meta.label} move {name!r}"
    for who, _done in move.not_by:
        if callable(getattr(model, who, None)):
            continue
        try:
            field = model._meta.get_field(who)
        except FieldDoesNotExist:
            errors.append(Error(f"{where}: four eyes names {who!r}, neither a field nor a "
                                "method of the model", id="experiments.E001"))  # fmt: skip
            continue
        target = field.related_model
        if (
            not field.many_to_one
            or target is None
            or target._meta.label != settings.AUTH_USER_MODEL
        ):
            errors.append(Error(f"{where}: four eyes names {who!r}, which is not a ForeignKey "
                                "to the user", id="experiments.E002"))  # fmt: skip
    return errors


@register()
def check_lifecycles(app_configs=None, **kwargs):
    from experiments.lifecycle import LIFECYCLES

    known = known_permissions()
    errors = []
    for model, lifecycle in LIFECYCLES.items():
        for name, move in lifecycle.moves.items():
            errors += four_eyes_errors(model, name, move)
            if move.permission is not None and move.permission not in known:
                message = f"{model._meta.label} move {name!r}: no model defines the permission"
                errors.append(Error(f"{message} {move.permission!r}", id="experiments.E003"))
    return errors
