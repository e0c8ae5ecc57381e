"""The trading team's roles as Django groups, with their permissions defined in one place.

Every role reads everything in TradeOps; the extra grants are what each role may change.
No role drives the RQ queue dashboard (`django_rq.admin`: superusers, or a user granted it).
Only who may change alert channels (Team lead) sees their full targets; others see them masked.
Likewise a bot's release push webhook: a Team lead sets it up and sees its URL; no one sees its
secret after it is issued.
`ensure_roles` is idempotent: it runs after every migrate and from `manage.py setup_roles`.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

TEAM_LEAD = "Team lead"
OPERATOR = "Operator"
VIEWER = "Viewer"

TRADEOPS_APPS = ("tradeops", "ingestion", "integrity", "kpis", "experiments", "cadence")

# The permissions checked by name, named for what they let a person do: every check and the
# grants below use these names, never the codename.
APPROVE_RELEASE = "tradeops.approve_configrelease"
ISSUE_TOKENS = "tradeops.add_apitoken"
REVOKE_TOKENS = "tradeops.change_apitoken"
QUEUE_DASHBOARD = "django_rq.admin"  # granted to no role
CAPTURE_BASELINE = "kpis.add_baselinereport"
HANDLE_INCIDENTS = "integrity.change_integrityincident"
PLAN_CLEANUP = "integrity.add_cleanupplan"
APPLY_CLEANUP = "integrity.apply_cleanupplan"
CHANGE_ALERT_CHANNELS = "integrity.change_alertchannel"
# Where a bot's release changes are pushed, and the secret they are signed with.
SET_UP_RELEASE_PUSH = "integrity.add_releasewebhook"
CHANGE_RELEASE_PUSH = "integrity.change_releasewebhook"
OPERATE_EXPERIMENT = "experiments.change_experiment"
APPROVE_EXPERIMENT = "experiments.approve_experiment"
PROPOSE_SCALING = "experiments.add_scalingstep"
ROLL_BACK_SCALING = "experiments.change_scalingstep"
APPROVE_SCALING = "experiments.approve_scalingstep"
# The operating cadence: an Operator signs off the daily review, a Team lead the weekly one.
SIGN_OFF_DAILY_REVIEW = "cadence.sign_off_dailyreview"
SIGN_OFF_WEEKLY_REVIEW = "cadence.sign_off_weeklyreview"
# Where a freqtrade bot's database is (its URL may hold a password).
SET_UP_FREQTRADE_SOURCE = "ingestion.add_freqtradesource"
CHANGE_FREQTRADE_SOURCE = "ingestion.change_freqtradesource"
# A bot's trading mode: an Operator stops entries (the safe direction); a Team lead also makes it
# exit all, resumes it, stops the whole fleet and sets its circuit breaker.
STOP_ENTRIES = "tradeops.stop_entries"
EXIT_ALL = "tradeops.exit_all"
RESUME_TRADING = "tradeops.resume_trading"
STOP_FLEET_ENTRIES = "tradeops.stop_fleet_entries"
SET_CIRCUIT_BREAKER = "tradeops.set_circuit_breaker"
# The audit trail, exported to be kept or checked elsewhere (its hash chain goes with it).
EXPORT_AUDIT = "tradeops.export_auditevent"

# Operators draft releases, experiments and scaling steps and log decisions; a Team lead
# approves them (never their own: four-eyes is enforced in the services and the database).
# The plain add/change grants are model permissions the admin checks by itself.
_OPERATOR_GRANTS = [
    "tradeops.add_configrelease",
    "tradeops.change_configrelease",
    "experiments.add_experiment",
    OPERATE_EXPERIMENT,
    PROPOSE_SCALING,
    ROLL_BACK_SCALING,
    HANDLE_INCIDENTS,
    PLAN_CLEANUP,
    SIGN_OFF_DAILY_REVIEW,
    STOP_ENTRIES,
]
ROLE_GRANTS = {
    VIEWER: [],
    OPERATOR: _OPERATOR_GRANTS,
    TEAM_LEAD: [
        *_OPERATOR_GRANTS,
        "tradeops.add_bot",
        "tradeops.change_bot",
        ISSUE_TOKENS,
        REVOKE_TOKENS,
        "tradeops.add_paramspec",
        "tradeops.change_paramspec",
        SET_UP_FREQTRADE_SOURCE,
        CHANGE_FREQTRADE_SOURCE,
        CAPTURE_BASELINE,
        "integrity.add_alertchannel",
        CHANGE_ALERT_CHANNELS,
        SET_UP_RELEASE_PUSH,
        CHANGE_RELEASE_PUSH,
        APPLY_CLEANUP,
        APPROVE_RELEASE,
        APPROVE_EXPERIMENT,
        APPROVE_SCALING,
        SIGN_OFF_WEEKLY_REVIEW,
        EXPORT_AUDIT,
        EXIT_ALL,
        RESUME_TRADING,
        STOP_FLEET_ENTRIES,
        SET_CIRCUIT_BREAKER,
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
