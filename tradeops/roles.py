"""The trading team's roles as Django groups, with their permissions defined in one place.

Every role reads everything in TradeOps; the extra grants are what each role may change.
No role drives the RQ queue dashboard (`django_rq.admin`: superusers, or a user granted it).
Only who may change alert channels (Team lead) sees their full targets; others see them masked.
`ensure_roles` is idempotent: it runs after every migrate and from `manage.py setup_roles`.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

TEAM_LEAD = "Team lead"
OPERATOR = "Operator"
VIEWER = "Viewer"

TRADEOPS_APPS = ("tradeops", "integrity", "kpis", "experiments")

# Operators draft releases, experiments and scaling steps and log decisions; a Team lead
# approves them (never their own: four-eyes is enforced in the services and the database).
_OPERATOR_GRANTS = [
    "tradeops.add_configrelease",
    "tradeops.change_configrelease",
    "experiments.add_experiment",
    "experiments.change_experiment",
    "experiments.add_scalingstep",
    "experiments.change_scalingstep",
    "integrity.change_integrityincident",
    "integrity.add_cleanupplan",
]
ROLE_GRANTS = {
    VIEWER: [],
    OPERATOR: _OPERATOR_GRANTS,
    TEAM_LEAD: [
        *_OPERATOR_GRANTS,
        "tradeops.add_bot",
        "tradeops.change_bot",
        "tradeops.add_apitoken",
        "tradeops.change_apitoken",
        "tradeops.add_paramspec",
        "tradeops.change_paramspec",
        "kpis.add_baselinereport",
        "integrity.add_alertchannel",
        "integrity.change_alertchannel",
        "integrity.apply_cleanupplan",
        "tradeops.approve_configrelease",
        "experiments.approve_experiment",
        "experiments.approve_scalingstep",
    ],
}


def role_permissions(role):
    grants = Q()
    for dotted in ROLE_GRANTS[role]:
        app_label, codename = dotted.split(".")
        grants |= Q(content_type__app_label=app_label, codename=codename)
    view_all = Q(content_type__app_label__in=TRADEOPS_APPS, codename__startswith="view_")
    return Permission.objects.filter(view_all | grants)


def ensure_roles():
    for role in ROLE_GRANTS:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(role_permissions(role))


def ensure_roles_after_migrate(sender, **kwargs):
    ensure_roles()
