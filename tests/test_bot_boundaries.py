"""Every relation between two bots' rows stays within one bot: an experiment acts on its own bot
only (its baseline, candidate, prerequisite), a restore runs a release on the bot it belongs to
only, and the database refuses a cross-bot row whoever writes it (PostgreSQL here, SQLite in the
embedded default)."""

import datetime
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from cadence.models import SAME_BOT, DigestMessage, WeeklyReview
from cadence.services import sign_off_weekly_review
from experiments import same_bot, services
from experiments.models import Experiment, ScalingStep
from experiments.releases import run_release, set_baseline
from integrity.models import (
    AlertChannel,
    AlertDelivery,
    IntegrityIncident,
    ReleasePush,
    ReleaseWebhook,
)
from kpis.models import BaselineReport, KPISnapshot
from tests.factories import PARAMS, candidate, change_form_data, draft, run_through
from tradeops.models import Bot, ConfigRelease, Fill, ReleaseChange, Trade
from tradeops.services import create_bot

NOW = datetime.datetime(2026, 11, 2, 10, tzinfo=datetime.UTC)
Reason = ReleaseChange.Reason


def fill(bot, trade):
    return Fill.objects.create(
        bot=bot,
        external_id="F-1",
        trade_external_id=trade.external_id,
        trade=trade,
        ts=NOW,
        side="buy",
        price=Decimal("100"),
        qty=Decimal("1"),
        fee=Decimal("0"),
        liquidity="taker",
    )


@pytest.fixture
def victim(baseline, people):
    """Another bot, running its own baseline, with a candidate of its own."""
    bot, _ = create_bot(slug="victim")
    release = ConfigRelease.objects.create(
        bot=bot,
        version=1,
        tag="v-victim",
        params=PARAMS,  # the same config as alpha's: a candidate of one differs by one lever
        created_by=people["operator"],
        approved_by=people["lead"],
        approved_at=NOW,
        is_baseline=True,
    )
    run_release(release, bot=bot, reason=Reason.BASELINE, reference="its own", by="test")
    return bot


def baseline_of(bot):
    return ConfigRelease.objects.get(bot=bot, is_baseline=True)


def victim_runs(victim):
    victim.refresh_from_db()
    return victim.current_release.tag


def victim_candidate(victim, people):
    return candidate(
        baseline_of(victim),
        people,
        tag="v-victim-c",
        **{"side_balance_pressure": "0.3"},
    )


# -- the finding: an Operator moves a draft to another bot in the admin ------------------------


def test_an_operator_cannot_move_a_draft_to_another_bot_in_the_admin(baseline, people, victim):
    experiment = draft(baseline, people)
    theirs = victim_candidate(victim, people)
    operator = Client()
    operator.force_login(people["operator"])
    url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
    form = change_form_data(operator, url)
    assert "bot" not in form  # the draft's bot is shown, not offered for editing

    response = operator.post(url, {**form, "bot": victim.pk, "candidate_release": theirs.pk})

    assert response.status_code == 200  # the form again, with the refusal on it
    assert response.context["adminform"].form.errors["candidate_release"]
    experiment.refresh_from_db()
    assert (experiment.bot, experiment.candidate_release.bot) == (baseline.bot, baseline.bot)


def test_the_finding_a_moved_draft_would_roll_back_the_other_bot(baseline, people, victim):
    """The hostile run: the Operator posts the draft's bot and candidate as victim's; the draft
    had kept alpha's baseline, so the rollback ran it on alpha while victim went on running the
    candidate. Now the move is refused, and the rollback acts on the experiment's bot only."""
    experiment = draft(baseline, people)
    operator = Client()
    operator.force_login(people["operator"])
    url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
    theirs = victim_candidate(victim, people)
    operator.post(
        url, {**change_form_data(operator, url), "bot": victim.pk, "candidate_release": theirs.pk}
    )
    experiment.refresh_from_db()

    run_through(experiment, people)
    services.send_to_review(experiment, by=people["operator"], note="seen")
    services.decide(experiment, decision="rollback", by=people["operator"], rationale="no")

    assert victim_runs(victim) == "v-victim"
    baseline.bot.refresh_from_db()
    assert baseline.bot.current_release == baseline


# -- the services -------------------------------------------------------------------------------


def test_editing_a_draft_onto_another_bot_is_refused_with_the_reason(baseline, people, victim):
    experiment = draft(baseline, people)
    experiment.bot = victim
    experiment.candidate_release = victim_candidate(victim, people)

    with pytest.raises(ValidationError) as refused:
        services.edit_draft(experiment, by=people["operator"], changed=["bot"])

    assert "stays on it" in refused.value.message_dict["bot"][0]
    assert Experiment.objects.get(pk=experiment.pk).bot == baseline.bot


def test_a_draft_keeps_its_baseline(baseline, people, victim):
    experiment = draft(baseline, people)
    experiment.baseline_release = baseline_of(victim)
    with pytest.raises(ValidationError) as refused:
        services.edit_draft(experiment, by=people["operator"], changed=["baseline_release"])
    assert "baseline_release" in refused.value.message_dict


@pytest.mark.parametrize("field", ["baseline", "prerequisite", "iterated_from"])
def test_a_new_experiment_is_refused_anything_of_another_bot(baseline, people, victim, field):
    theirs = {
        "baseline": baseline_of(victim),
        "prerequisite": draft(baseline_of(victim), people),
        "iterated_from": draft(baseline_of(victim), people),
    }[field]
    with pytest.raises(ValidationError, match="belongs to victim, not alpha"):
        services.create_experiment(
            bot=baseline.bot,
            name="crossing",
            lever="side_balance_pressure",
            candidate=candidate(baseline, people, side_balance_pressure="0.3"),
            success_criteria="x",
            by=people["operator"],
            **{field: theirs},
        )


def test_a_restore_refuses_a_release_of_another_bot(baseline, people, victim):
    """What the restores (rollback, iterate, triggers, HALT, a keep, scaling) call: the bot acted
    on is named, and another bot's release is refused, not run on the bot it belongs to."""
    with pytest.raises(ValidationError, match="belongs to victim, not alpha"):
        run_release(
            baseline_of(victim),
            bot=baseline.bot,
            reason=Reason.TRIGGER,
            reference="x",
            by="trigger",
        )
    with pytest.raises(ValidationError, match="belongs to victim, not alpha"):
        set_baseline(baseline_of(victim), bot=baseline.bot, by="x", note="x")
    assert victim_runs(victim) == "v-victim"
    assert not ReleaseChange.objects.filter(bot=baseline.bot).exists()


def test_a_weekly_sign_off_names_an_experiment_of_its_own_bot(baseline, people, victim):
    theirs = draft(baseline_of(victim), people)
    with pytest.raises(ValidationError, match="belongs to victim, not alpha"):
        sign_off_weekly_review(
            baseline.bot,
            datetime.date(2026, 10, 26),
            by=people["lead"],
            note="next",
            next_experiment=theirs,
            assignee=people["operator"],
            assignment_due=datetime.date(2026, 11, 30),
            now=NOW,
        )


# -- the database -------------------------------------------------------------------------------


def trade(bot, external_id, release=None):
    return Trade.objects.create(
        bot=bot,
        external_id=external_id,
        symbol="BTCUSDT",
        side="long",
        status="open",
        opened_at=NOW,
        qty=Decimal("1"),
        entry_price=Decimal("100"),
        release=release,
    )


def snapshot(bot, release):
    return KPISnapshot.objects.create(
        bot=bot,
        window_days=7,
        as_of=NOW.date(),
        release=release,
        figures={},
        fingerprint="x",
        computed_at=NOW,
    )


@pytest.fixture
def world(baseline, people, victim):
    """Each bot's own rows: releases, an experiment, a release change, a trade, a KPI snapshot,
    a webhook, an alert channel and an incident."""
    rows = {}
    for bot in (baseline.bot, victim):
        release = ConfigRelease.objects.get(bot=bot, is_baseline=True)
        change = run_release(release, bot=bot, reason=Reason.BASELINE, reference="t", by="t")
        rows[bot.slug] = {
            "bot": bot,
            "release": release,
            "experiment": draft(release, people),
            "change": change,
            "trade": trade(bot, f"T-{bot.slug}", release),
            "snapshot": snapshot(bot, release),
            "webhook": ReleaseWebhook.objects.create(
                bot=bot, url="https://bot.example.com/push", secret="s", secret_issued_at=NOW
            ),
            "channel": AlertChannel.objects.create(
                name=f"{bot.slug} team", kind="email", target="a@example.com", bot=bot
            ),
            "incident": IntegrityIncident.objects.create(
                bot=bot,
                kind="bot_silent",
                key=bot.slug,
                severity="critical",
                title="silent",
                opened_at=NOW,
                last_seen_at=NOW,
            ),
        }
    return rows["alpha"], rows["victim"], people["operator"]


def refused(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


CROSSINGS = {
    "experiment's baseline": lambda a, v, _: Experiment.objects.filter(
        pk=a["experiment"].pk
    ).update(baseline_release=v["release"]),
    "experiment's candidate": lambda a, v, _: Experiment.objects.filter(
        pk=a["experiment"].pk
    ).update(candidate_release=v["release"]),
    "experiment moved to another bot": lambda a, v, _: Experiment.objects.filter(
        pk=a["experiment"].pk
    ).update(bot=v["bot"]),
    "experiment moved with the other bot's releases": lambda a, v, _: Experiment.objects.filter(
        pk=a["experiment"].pk
    ).update(
        bot=v["bot"],
        baseline_release=v["release"],
        candidate_release=v["experiment"].candidate_release,
    ),
    "experiment's prerequisite": lambda a, v, _: Experiment.objects.filter(
        pk=a["experiment"].pk
    ).update(prerequisite=v["experiment"]),
    "experiment iterated from": lambda a, v, _: Experiment.objects.filter(
        pk=a["experiment"].pk
    ).update(iterated_from=v["experiment"]),
    "scaling step's releases": lambda a, v, who: ScalingStep.objects.create(
        bot=a["bot"],
        param="risk_per_trade_pct",
        from_release=v["release"],
        to_release=a["release"],
        step_pct=10,
        proposed_by=who,
    ),
    "draft release moved to another bot": lambda a, v, _: ConfigRelease.objects.filter(
        pk=ConfigRelease.objects.create(bot=a["bot"], version=99, tag="draft").pk
    ).update(bot=v["bot"]),
    "release change of another bot's release": lambda a, v, _: ReleaseChange.objects.create(
        bot=a["bot"], release=v["release"], reason="baseline", reference="x", at=NOW, by="x"
    ),
    "bot's current release": lambda a, v, _: Bot.objects.filter(pk=a["bot"].pk).update(
        current_release=v["release"]
    ),
    "bot's current change": lambda a, v, _: Bot.objects.filter(pk=a["bot"].pk).update(
        current_change=v["change"]
    ),
    "trade's release": lambda a, v, _: trade(a["bot"], "T-new", v["release"]),
    "trade's release updated": lambda a, v, _: Trade.objects.filter(pk=a["trade"].pk).update(
        release=v["release"]
    ),
    "fill's trade": lambda a, v, _: fill(a["bot"], v["trade"]),
    "KPI snapshot's release": lambda a, v, _: snapshot(a["bot"], v["release"]),
    "baseline report's snapshot": lambda a, v, _: BaselineReport.objects.create(
        release=a["release"],
        as_of=NOW.date(),
        snapshot_7d=a["snapshot"],
        snapshot_30d=v["snapshot"],
        captured_at=NOW,
    ),
    "push of another bot's change": lambda a, v, _: ReleasePush.objects.create(
        webhook=a["webhook"], change=v["change"], event="release_change", next_attempt_at=NOW
    ),
    "alert to another bot's channel": lambda a, v, _: AlertDelivery.objects.create(
        channel=a["channel"],
        incident=v["incident"],
        event="opened",
        path="bot_silent",
        title="x",
        body="x",
        next_attempt_at=NOW,
    ),
    "weekly review's next experiment": lambda a, v, who: WeeklyReview.objects.create(
        bot=a["bot"],
        week=datetime.date(2026, 10, 26),
        note="x",
        next_experiment=v["experiment"],
        assignee=who,
        assignment_due=NOW.date(),
        signed_off_by=who,
        signed_off_at=NOW,
    ),
    "weekly review's confirmed keep": lambda a, v, who: WeeklyReview.objects.create(
        bot=a["bot"],
        week=datetime.date(2026, 10, 26),
        note="x",
        confirmed_keep=v["experiment"],
        signed_off_by=who,
        signed_off_at=NOW,
    ),
    "digest to another bot's channel": lambda a, v, _: DigestMessage.objects.create(
        channel=a["channel"], bot=v["bot"], day=NOW.date(), title="x", body="x", next_attempt_at=NOW
    ),
    "incident moved to another bot": lambda a, v, _: IntegrityIncident.objects.filter(
        pk=a["incident"].pk
    ).update(bot=v["bot"]),
}


@pytest.mark.parametrize("write", CROSSINGS.values(), ids=CROSSINGS.keys())
def test_the_database_refuses_a_relation_across_bots(world, write):
    refused(lambda: write(*world))


def test_the_database_lets_relations_within_a_bot_through(world):
    alpha, victim, who = world
    everyone = AlertChannel.objects.create(name="all", kind="email", target="b@example.com")
    AlertDelivery.objects.create(
        channel=everyone,
        incident=victim["incident"],
        event="opened",
        path="bot_silent",
        title="x",
        body="x",
        next_attempt_at=NOW,
    )
    DigestMessage.objects.create(
        channel=everyone,
        bot=victim["bot"],
        day=NOW.date(),
        title="x",
        body="x",
        next_attempt_at=NOW,
    )
    fill(alpha["bot"], alpha["trade"])
    Trade.objects.filter(pk=alpha["trade"].pk).update(release=None)
    Experiment.objects.filter(pk=alpha["experiment"].pk).update(name="renamed")


def test_a_trade_tag_resolves_within_the_sending_bot_only(world):
    """Ingestion looks a release tag up among the sending bot's releases (ingestion.writers):
    another bot's release of the same tag is never linked."""
    from tests.factories import ingest

    alpha, victim, _ = world
    record = {
        "external_id": "T-tag",
        "symbol": "BTCUSDT",
        "side": "long",
        "status": "open",
        "opened_at": NOW.isoformat(),
        "qty": "1",
        "entry_price": "100",
    }
    ingest(alpha["bot"], "trades", {**record, "release": "v-victim"})
    ingest(victim["bot"], "trades", {**record, "release": "v-victim"})
    assert Trade.objects.get(bot=alpha["bot"], external_id="T-tag").release is None
    assert Trade.objects.get(bot=victim["bot"], external_id="T-tag").release == victim["release"]


# -- the embedded default: SQLite holds the same rules ----------------------------------------

SQLITE_CHECK = """
from django.db import IntegrityError, transaction
from experiments.models import Experiment
from tradeops.models import Bot, ConfigRelease
a, b = Bot.objects.create(slug="a", name="a"), Bot.objects.create(slug="b", name="b")
ra = ConfigRelease.objects.create(bot=a, version=1, tag="va")
rb = ConfigRelease.objects.create(bot=b, version=2, tag="vb")
for write in (
    lambda: Bot.objects.filter(pk=a.pk).update(current_release=rb),
    lambda: ConfigRelease.objects.filter(pk=ra.pk).update(bot=b),
):
    try:
        with transaction.atomic():
            write()
        print("ALLOWED: not refused")
    except IntegrityError as exc:
        print("REFUSED", exc)
Bot.objects.filter(pk=a.pk).update(current_release=ra)
print("OWN OK")
"""


def test_sqlite_refuses_relations_across_bots_after_every_migration(tmp_path):
    """The embedded default keeps every trigger to the last migration (a later migration that
    rebuilds one of these tables on SQLite drops its triggers: this test then fails)."""
    database = tmp_path / "db.sqlite3"
    env = {"PATH": os.environ["PATH"], "DEBUG": "True", "DATABASE_URL": f"sqlite:///{database}"}
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], env=env, capture_output=True
    )
    assert migrate.returncode == 0, migrate.stderr
    check = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SQLITE_CHECK],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    # The shell's own banner aside, one line per write.
    said = ("REFUSED", "ALLOWED", "OWN")
    lines = [line for line in check.stdout.splitlines() if line.startswith(said)]
    assert [line.split()[0] for line in lines] == ["REFUSED", "REFUSED", "OWN"], check.stdout
    assert "tradeops_bot.current_release_id points at" in lines[0]
    assert "tradeops_configrelease.bot_id never changes" in lines[1]

    with sqlite3.connect(database) as db:
        installed = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    for rules, keeps in ((same_bot.RULES, same_bot.KEEPS), (SAME_BOT, [])):
        expected = {statement.split()[5] for statement in same_bot.sqlite(rules, keeps)}
        assert expected <= installed, sorted(expected - installed)


def test_a_later_migration_may_rebuild_a_table_the_sqlite_triggers_name(tmp_path):
    """SQLite rebuilds a table to add a column, and cannot drop a table another table's trigger
    names: the triggers are dropped before a migrate and installed after it. Here a database at
    the end goes back before the Bot table's last rebuild and forward again, as an upgrade of an
    existing demo does (it failed with "error in trigger ... no such table: main.tradeops_bot")."""
    env = {"PATH": os.environ["PATH"], "DEBUG": "True"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    def migrate(*target):
        command = [sys.executable, "manage.py", "migrate", "--noinput", *target]
        return subprocess.run(command, env=env, capture_output=True, text=True)

    assert migrate().returncode == 0
    back = migrate("tradeops", "0026_bot_shadow_of")
    forward = migrate()

    assert back.returncode == 0, back.stderr
    assert forward.returncode == 0, forward.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        installed = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    expected = {statement.split()[5] for statement in same_bot.sqlite(same_bot.RULES, [])}
    assert expected <= installed
