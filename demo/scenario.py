"""The demo: one bot, its people, releases and alert channel, its history loaded through the real
ingestion path (demo.history), and the decision framework mid-flight: the Phase 1 winner frozen
for a week after it went live, Experiment A (soft side-balance pressure) running its candidate for
the last days (so its trades are less one-sided), and Experiment B queued behind it.
"""

import datetime
import hashlib

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from demo.history import (
    EXPERIMENT_A_DAYS,
    EXPERIMENT_A_TAG,
    START_EQUITY,
    as_records,
    build_history,
)
from ingestion.services import ingest_records
from integrity.models import AlertChannel
from tradeops.models import Bot, ConfigRelease, ParamSpec, StabilizationWindow
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER, ensure_roles
from tradeops.services import create_bot

DEMO_BOT = "demo-perp"
DEMO_PASSWORD = "tradeops-demo"
DEMO_USERS = [("lead", TEAM_LEAD), ("operator", OPERATOR), ("viewer", VIEWER)]
DEMO_CHANNEL = "Ops email"
CHUNK = 5000
FREEZE_DAYS = 7

PARAM_SPECS = [
    ("fib_proximity_bps", "strategy", "int", 1, 200, "Max distance from a fib level, in bps."),
    ("entry_zone_tolerance_pct", "strategy", "decimal", "0.05", "2", "Entry zone width, %."),
    ("side_balance_pressure", "strategy", "decimal", "0", "1", "Soft long/short balancing."),
    ("risk_per_trade_pct", "risk", "decimal", "0.1", "3", "Equity risked per trade, %."),
    ("max_leverage", "risk", "int", 1, 20, "Leverage cap."),
    ("max_open_positions", "risk", "int", 1, 20, "Concurrent positions cap."),
    ("order_type", "execution", "str", None, None, "Entry order type (limit or market)."),
    (
        "cost_model_slippage_bps",
        "strategy",
        "decimal",
        "0",
        "20",
        "Slippage the entry filter's cost model assumes, bps.",
    ),
]
OLD_PARAMS = {
    "fib_proximity_bps": 25,
    "entry_zone_tolerance_pct": "0.35",
    "side_balance_pressure": "0",
    "risk_per_trade_pct": "0.5",
    "max_leverage": 5,
    "max_open_positions": 6,
    "order_type": "limit",
    "cost_model_slippage_bps": "1.5",
}
WINNER_PARAMS = {**OLD_PARAMS, "fib_proximity_bps": 18}


def _setup_people_and_releases(bot, start):
    ensure_roles()
    users = {}
    for username, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "email": f"{username}@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
    # Email to the console (EMAIL_URL=consolemail://): alerts print where `make demo` runs.
    AlertChannel.objects.get_or_create(
        name=DEMO_CHANNEL, defaults={"kind": "email", "target": "ops@example.com"}
    )

    for key, category, value_type, low, high, description in PARAM_SPECS:
        ParamSpec.objects.get_or_create(
            key=key,
            defaults={
                "category": category,
                "value_type": value_type,
                "min_value": low,
                "max_value": high,
                "description": description,
            },
        )
    for version, tag, params, approved, notes in [
        (1, "v1.3.0", OLD_PARAMS, start - datetime.timedelta(days=20), "Phase 1 candidate."),
        (2, "v1.4.0", WINNER_PARAMS, start + datetime.timedelta(days=14), "Phase 1 winner."),
    ]:
        ConfigRelease.objects.get_or_create(
            bot=bot,
            tag=tag,
            defaults={
                "version": version,
                "git_commit": hashlib.sha1(tag.encode()).hexdigest(),
                "params": params,
                "notes": notes,
                "created_by": users[OPERATOR],
                "approved_by": users[TEAM_LEAD],
                "approved_at": approved,
                "is_baseline": tag == "v1.4.0",
            },
        )


def load_demo(end_date=None, days=45):
    """Create the demo bot, people and releases, and ingest its history. Returns the counts by
    kind, or None if the demo bot already exists (loading twice would shift the history)."""
    if Bot.objects.filter(slug=DEMO_BOT).exists():
        return None
    end_date = end_date or timezone.now().date()
    start = datetime.datetime.combine(
        end_date - datetime.timedelta(days=days), datetime.time(), tzinfo=datetime.UTC
    )
    with transaction.atomic():
        bot, _ = create_bot(slug=DEMO_BOT, name="Demo perps bot", exchange="binance-futures")
        bot.starting_equity = START_EQUITY
        bot.save(update_fields=["starting_equity"])
        _setup_people_and_releases(bot, start)
        _prepare_experiment_a(bot)
    history = build_history(end_date, days)
    summary = {}
    for kind, rows in [
        ("trades", history.trades),
        ("fills", history.fills),
        ("decisions", history.decisions),
        ("health", history.health),
        ("equity", history.equity),
        ("trades", history.malformed),
        ("trades", history.malformed[:1]),  # the bot retried one: quarantine counts it twice
    ]:
        for offset in range(0, len(rows), CHUNK):
            result = ingest_records(
                bot, kind, as_records(rows[offset : offset + CHUNK]), source="demo"
            )
            totals = summary.setdefault(kind, {"accepted": 0, "unchanged": 0, "quarantined": 0})
            for name in totals:
                totals[name] += getattr(result, name)
    _run_experiment_a(bot, end_date)
    _capture_kpis(bot, end_date)
    _integrity(bot)
    return summary


def _prepare_experiment_a(bot):
    """Before the history lands: the week's freeze after the winner went live, and Experiment A
    drafted from the plan, its candidate release approved (the last days' trades carry its tag)."""
    from experiments import services
    from experiments.plan import draft_from_plan
    from experiments.releases import approve_release
    from tradeops.audit import history, record_audit

    lead, operator = (User.objects.get(username=name) for name, _ in DEMO_USERS[:2])
    winner = ConfigRelease.objects.get(bot=bot, is_baseline=True)
    freeze = StabilizationWindow.objects.create(
        bot=bot,
        starts_at=winner.approved_at,
        ends_at=winner.approved_at + datetime.timedelta(days=FREEZE_DAYS),
        reason="Plan section 1: freeze the Phase 1 winner and measure it before any change.",
        created_by=lead,
    )
    record_audit(freeze, "frozen", actor=lead, to_state="frozen", note=freeze.reason)
    history(freeze).update(at=freeze.starts_at)
    experiment = draft_from_plan(
        bot=bot,
        key="A",
        lever="side_balance_pressure",
        value="0.3",
        tag=EXPERIMENT_A_TAG,
        by=operator,
    )
    approve_release(experiment.candidate_release, by=lead, note="One lever; risk caps unchanged.")
    services.submit(experiment, by=operator, note="Short share is 75%: plan section 4, first.")


def _run_experiment_a(bot, end_date):
    """The lead approves A (its rollback triggers frozen on the baseline's figures) and the
    operator starts it, dated to when its trades begin; B is drafted and queued behind it."""
    from experiments import services
    from experiments.models import Experiment
    from experiments.plan import draft_from_plan
    from tradeops.audit import history

    lead, operator = (User.objects.get(username=name) for name, _ in DEMO_USERS[:2])
    experiment = Experiment.objects.get(bot=bot, plan_key="A")
    services.approve(experiment, by=lead, note="Success criteria and triggers as the plan says.")
    services.start(experiment, by=operator, note=f"{EXPERIMENT_A_TAG} deployed.")
    started = datetime.datetime.combine(
        end_date - datetime.timedelta(days=EXPERIMENT_A_DAYS), datetime.time(), tzinfo=datetime.UTC
    )
    Experiment.objects.filter(pk=experiment.pk).update(
        approved_at=started - datetime.timedelta(hours=2), started_at=started
    )
    for action, hours_before in [("created", 26), ("submit", 25), ("approve", 2), ("start", 0)]:
        history(experiment).filter(action=action).update(
            at=started - datetime.timedelta(hours=hours_before)
        )
    queued = draft_from_plan(
        bot=bot, key="B", lever="fib_proximity_bps", value=15, tag="v1.5.0-b", by=operator
    )
    services.submit(queued, by=operator, note="Queued behind A: starts once A is decided.")


def _integrity(bot):
    """The operator tests the ops channel's firing paths; today's integrity check runs."""
    from integrity.alerts import send_test_alerts
    from integrity.models import AlertChannel
    from integrity.services import run_integrity_checks

    operator = User.objects.get(username=DEMO_USERS[1][0])
    send_test_alerts(AlertChannel.objects.get(name=DEMO_CHANNEL), user=operator)
    run_integrity_checks(bot, triggered_by="demo")


def _capture_kpis(bot, end_date):
    """What the lead and the scheduler would have done: the baseline report of the frozen winner
    and today's 7d/30d snapshots (in-process without Redis, on a worker with it)."""
    from kpis.jobs import compute_daily_snapshots
    from kpis.services import capture_baseline
    from tradeops.scheduling import enqueue

    winner = ConfigRelease.objects.get(bot=bot, is_baseline=True)
    lead = User.objects.get(username=DEMO_USERS[0][0])
    capture_baseline(winner, captured_by=lead, as_of=end_date)
    enqueue(compute_daily_snapshots, end_date)
