"""The demo: one bot, its people, releases and alert channel, its history loaded through the real
ingestion path (demo.history), and the decision framework mid-flight: the Phase 1 winner frozen
for a week after it went live, Experiment A (soft side-balance pressure) running its candidate for
the last days (so its trades are less one-sided), and Experiment B queued behind it. The bot has a
shadow, registered with it: dry-run, it runs the baseline beside A's candidate.

Things to practise on (PRACTICE, printed by load_demo; docs/operations.md, "Practise with the
demo"): open incidents to acknowledge, one trade stored before today's P&L rule for the cleanup
SOP, yesterday's daily review missed, and the shadow reporting an old release to the drift watch.
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
    build_shadow_history,
)
from demo.reviews import demo_now, load_reviews
from experiments import services
from experiments.plan import draft_from_plan
from experiments.releases import approve_release, create_release, freeze_config
from experiments.scorecard import refresh_scorecard
from experiments.services import make_baseline
from ingestion.services import ingest_records
from integrity.alerts import confirm_test_alert, send_test_alerts
from integrity.models import AlertChannel
from integrity.services import run_integrity_checks
from kpis.jobs import compute_daily_snapshots
from kpis.services import capture_baseline
from tradeops.models import Bot, ConfigRelease, ParamSpec, Trade
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER, ensure_roles
from tradeops.scheduling import enqueue
from tradeops.services import create_bot

DEMO_BOT = "demo-perp"
DEMO_SHADOW = "demo-perp-shadow"
DEMO_PASSWORD = "tradeops-demo"
DEMO_USERS = [("lead", TEAM_LEAD), ("operator", OPERATOR), ("viewer", VIEWER)]
DEMO_CHANNEL = "Ops email"
CHUNK = 5000
FREEZE_DAYS = 7
# The demo's oldest trade, sent by v1.3.0 with its net P&L before fees (a bug of that version)
# and stored before ingestion checked that net = gross - fees - funding.
LEGACY_TRADE = "D00-000"
# What the shadow's host, restarted from an old image, reports running.
SHADOW_STALE_RELEASE = "v1.3.0"
PRACTICE = [
    "acknowledge the open incident 'Stored trades failing validation' (Integrity incidents)",
    f"clean up what it names, {LEGACY_TRADE}, stored before the P&L rule: "
    f"docs/operations.md#cleanup-runbook (--dry-run --bot {DEMO_BOT}, --apply, --restore)",
    "yesterday's daily review was missed: the command center shows it not signed off",
    f"{DEMO_SHADOW} reports {SHADOW_STALE_RELEASE}, not v1.4.0: the drift watch opens its "
    "incident within 5 minutes of loading, while the schedule runs",
]

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


def _setup_people(bot):
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
    return users[TEAM_LEAD], users[OPERATOR]


def _release(bot, *, based_on, params, tag, notes, operator, lead, approved):
    """Drafted by the operator a day before the lead approves it and makes it the baseline."""
    release = create_release(
        bot=bot,
        based_on=based_on,
        changes=params,
        tag=tag,
        by=operator,
        git_commit=hashlib.sha1(tag.encode()).hexdigest(),
        notes=notes,
        now=approved - datetime.timedelta(days=1),
    )
    approve_release(release, by=lead, note=notes, now=approved)
    make_baseline(release, by=lead, note=notes, now=approved)
    return release


def _releases(bot, start, lead, operator):
    """v1.3.0 (Phase 1's candidate), then v1.4.0 (the winner: one lever changed), frozen for a
    week after it went live, as plan section 1 asks."""
    old = _release(
        bot,
        based_on=None,
        params=OLD_PARAMS,
        tag="v1.3.0",
        notes="Phase 1 candidate.",
        operator=operator,
        lead=lead,
        approved=start - datetime.timedelta(days=20),
    )
    winner_live = start + datetime.timedelta(days=14)
    _release(
        bot,
        based_on=old,
        params={"fib_proximity_bps": WINNER_PARAMS["fib_proximity_bps"]},
        tag="v1.4.0",
        notes="Phase 1 winner.",
        operator=operator,
        lead=lead,
        approved=winner_live,
    )
    freeze_config(
        bot,
        days=FREEZE_DAYS,
        reason="Plan section 1: freeze the Phase 1 winner and measure it before any change.",
        by=lead,
        now=winner_live,
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
    started = datetime.datetime.combine(
        end_date - datetime.timedelta(days=EXPERIMENT_A_DAYS), datetime.time(), tzinfo=datetime.UTC
    )
    # Registered, its history imported, yesterday an hour before its review hour: that review
    # was due and is missed (a bot created today has missed none). Not earlier: the
    # missed-schedule watches would count the daily jobs the demo never ran before then.
    review_hour = Bot._meta.get_field("daily_review_due_hour").default
    registered = datetime.datetime.combine(
        end_date - datetime.timedelta(days=1), datetime.time(review_hour - 1), tzinfo=datetime.UTC
    )
    with transaction.atomic():
        bot, _ = create_bot(
            slug=DEMO_BOT, name="Demo perps bot", exchange="binance-futures", now=registered
        )
        bot.starting_equity = START_EQUITY
        bot.save(update_fields=["starting_equity"])
        lead, operator = _setup_people(bot)
        _releases(bot, start, lead, operator)
        experiment = _prepare_experiment_a(bot, lead, operator, started)
    history = build_history(end_date, days)
    summary = {}
    batches = [
        ("trades", history.trades),
        ("fills", history.fills),
        ("decisions", history.decisions),
        ("health", history.health),
        ("equity", history.equity),
        ("trades", history.malformed),
        ("trades", history.malformed[:1]),  # the bot retried one: quarantine counts it twice
    ]
    _ingest(bot, batches, summary)
    _stored_before_the_pnl_rule(bot)
    _run_experiment_a(bot, experiment, lead, operator, started)
    # The shadow, registered with it (not earlier, for the same watches), runs the baseline
    # beside A from then; its records of A's days are imported like the bot's history.
    shadow, _ = create_bot(
        slug=DEMO_SHADOW,
        name="Demo perps bot's shadow (dry-run)",
        shadow_of=bot,
        created_by=lead,
        now=registered,
    )
    shadow_history = build_shadow_history(history, end_date)
    batches = [
        ("trades", shadow_history.trades),
        ("fills", shadow_history.fills),
        ("health", shadow_history.health),
    ]
    _ingest(shadow, batches, summary)
    # Experiment A's scorecard as the refresh job stores it, so that its page shows the verdict
    # against the shadow from the first look (the schedule refreshes it every 15 minutes).
    experiment.refresh_from_db()
    refresh_scorecard(experiment, demo_now(end_date))
    _capture_kpis(bot, end_date)
    _integrity(bot)
    run_integrity_checks(shadow, triggered_by="demo")
    load_reviews(bot, end_date, DEMO_USERS[0][0], DEMO_USERS[1][0])
    _shadow_restarted_on_an_old_release(shadow, demo_now(end_date))
    return summary


def _ingest(who, batches, summary):
    """Each (kind, rows) of `batches` through the ingestion service, in chunks; the counts are
    added to `summary` by kind ("shadow trades" for the shadow's)."""
    for kind, rows in batches:
        for offset in range(0, len(rows), CHUNK):
            result = ingest_records(
                who, kind, as_records(rows[offset : offset + CHUNK]), source="demo"
            )
            key = f"shadow {kind}" if who.is_shadow else kind
            totals = summary.setdefault(key, {"accepted": 0, "unchanged": 0, "quarantined": 0})
            for name in totals:
                totals[name] += getattr(result, name)


def _stored_before_the_pnl_rule(bot):
    """One trade today's P&L rule refuses but an older ingestion stored, for the cleanup SOP
    (docs/operations.md#cleanup-runbook) to find. It came in with the history through the
    ingestion service (its batch, release and fills are real); only its net P&L is then written
    as v1.3.0 sent it, before fees. A raw write is the honest way to stand for the older
    validator: every path that stores a trade today refuses it (that is the rule), and the
    validator that let it in is no longer in the code; tests/test_cleanup.py does the same."""
    trade = Trade.objects.get(bot=bot, external_id=LEGACY_TRADE)
    Trade.objects.filter(pk=trade.pk).update(net_pnl=trade.gross_pnl - trade.funding)


def _shadow_restarted_on_an_old_release(shadow, now):
    """The shadow's host restarted from an old image as the demo loads: its heartbeat, through
    the ingestion API's service, reports v1.3.0, not the baseline it runs beside A. The drift
    watch (every minute, in `make demo`'s process) opens its incident once the grace passed."""
    heartbeat = {
        "ts": now.isoformat(),
        "kind": "heartbeat",
        "running_release": SHADOW_STALE_RELEASE,
    }
    ingest_records(shadow, "health", as_records([heartbeat]), source="demo")


def _prepare_experiment_a(bot, lead, operator, started):
    """Before the history lands (its last days' trades carry the candidate's tag): Experiment A
    drafted from the plan, its candidate release approved, the experiment submitted."""
    experiment = draft_from_plan(
        bot=bot,
        key="A",
        lever="side_balance_pressure",
        value="0.3",
        tag=EXPERIMENT_A_TAG,
        by=operator,
        now=started - datetime.timedelta(hours=26),
    )
    approve_release(
        experiment.candidate_release,
        by=lead,
        note="One lever; risk caps unchanged.",
        now=started - datetime.timedelta(hours=25, minutes=30),
    )
    services.submit(
        experiment,
        by=operator,
        note="Short share is 75%: plan section 4, first.",
        now=started - datetime.timedelta(hours=25),
    )
    return experiment


def _run_experiment_a(bot, experiment, lead, operator, started):
    """Once the baseline's trades are in: the lead approves A (its rollback triggers frozen on
    the baseline's figures) and the operator starts it; B is drafted and queued behind it."""
    services.approve(
        experiment,
        by=lead,
        note="Success criteria and triggers as the plan says.",
        now=started - datetime.timedelta(hours=2),
    )
    services.start(experiment, by=operator, note=f"{EXPERIMENT_A_TAG} deployed.", now=started)
    queued = draft_from_plan(
        bot=bot, key="B", lever="fib_proximity_bps", value=15, tag="v1.5.0-b", by=operator
    )
    services.submit(queued, by=operator, note="Queued behind A: starts once A is decided.")


def _integrity(bot):
    """The operator tests the ops channel's firing paths and confirms each test alert reached
    them (the link in the email); today's integrity check runs."""

    operator = User.objects.get(username=DEMO_USERS[1][0])
    for alert in send_test_alerts(AlertChannel.objects.get(name=DEMO_CHANNEL), user=operator):
        confirm_test_alert(alert, by=operator)
    run_integrity_checks(bot, triggered_by="demo")


def _capture_kpis(bot, end_date):
    """What the lead and the scheduler would have done: the baseline report of the frozen winner
    and today's 7d/30d snapshots (in-process without Redis, on a worker with it)."""

    winner = ConfigRelease.objects.get(bot=bot, is_baseline=True)
    lead = User.objects.get(username=DEMO_USERS[0][0])
    capture_baseline(winner, captured_by=lead, as_of=end_date)
    enqueue(compute_daily_snapshots, end_date)
