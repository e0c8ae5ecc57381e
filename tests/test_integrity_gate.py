"""The plan's section 2 integrity gate: 3 clean days in a row (each a full UTC day whose check
runs found nothing) and a test alert through on every critical path, read as of a given moment."""

import datetime
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrity.alerts import CRITICAL_PATHS
from integrity.models import AlertChannel, AlertDelivery, IntegrityCheckRun
from integrity.selectors import (
    clean_days_in_a_row,
    integrity_gate,
    integrity_gates,
    stabilization_exit_criteria,
    with_confirmations,
)
from tradeops.services import create_bot

UTC = datetime.UTC
AS_OF = datetime.datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)


def run_on(bot, days_before, violations=0, hour=12):
    """A check run on the UTC day `days_before` days before AS_OF's day."""
    day = AS_OF.date() - datetime.timedelta(days=days_before)
    moment = datetime.datetime.combine(day, datetime.time(hour), tzinfo=UTC)
    return IntegrityCheckRun.objects.create(
        bot=bot,
        started_at=moment,
        finished_at=moment,
        since=moment,
        violations=violations,
        triggered_by="test",
    )


def clean_run(bot, *days_before):
    for days in days_before:
        run_on(bot, days)


def alert_test(channel, path, *, sent_at=AS_OF - HOUR, status="sent"):
    """A test alert; sent, the webhook receiver's 2xx answer confirmed it."""
    sent = status == "sent"
    return AlertDelivery.objects.create(
        channel=channel,
        event="test",
        path=path,
        title="test",
        body="test",
        status=status,
        sent_at=sent_at if sent else None,
        next_attempt_at=sent_at,
        confirmed_at=sent_at if sent else None,
        confirmed_via="answer" if sent else "",
    )


def channel(name="ops", bot=None, is_active=True):
    return AlertChannel.objects.create(
        name=name,
        kind="apprise",
        target="json://ops.example.com/hook",
        bot=bot,
        is_active=is_active,
    )


@pytest.fixture
def tested(db):
    """A channel of every bot on which each critical path's test got through before AS_OF."""
    ops = channel()
    for path in CRITICAL_PATHS:
        alert_test(ops, path)
    return ops


def test_gate_counts_consecutive_clean_days(bot):
    assert clean_days_in_a_row(bot, AS_OF) == 0
    for days_ago in (1, 2, 3):
        run_on(bot, days_ago)
    run_on(bot, 4, violations=2)
    assert clean_days_in_a_row(bot, AS_OF) == 3
    run_on(bot, 2, violations=1)  # a second run that day found something
    assert clean_days_in_a_row(bot, AS_OF) == 1


@pytest.mark.parametrize("days", [0, 1, 2, 3])
def test_the_gate_passes_on_the_third_clean_day_in_a_row(bot, tested, days):
    clean_run(bot, *range(1, days + 1))
    run_on(bot, days + 1, violations=2)

    gate = integrity_gate(bot, AS_OF)

    assert gate.clean_days == days
    assert gate.passed is (days == 3)
    assert str(gate) == (
        f"{'passed' if days == 3 else 'not passed'}: {days} of 3 clean days, "
        "3 of 3 alert paths confirmed firing"
    )


def test_a_streak_counts_every_clean_day_back_to_the_first_day_checked(bot, tested):
    clean_run(bot, 1, 2, 3, 4, 5)
    assert integrity_gate(bot, AS_OF).clean_days == 5
    assert clean_days_in_a_row(bot, AS_OF) == 5


def test_a_day_without_a_check_run_is_not_a_clean_day(bot, tested):
    clean_run(bot, 1, 2, 4, 5, 6)  # nothing ran 3 days before
    assert integrity_gate(bot, AS_OF).clean_days == 2
    assert not integrity_gate(bot, AS_OF).passed


def test_yesterday_unchecked_means_no_streak(bot, tested):
    clean_run(bot, 2, 3, 4)
    assert integrity_gate(bot, AS_OF).clean_days == 0


def test_a_violation_breaks_the_run_even_beside_a_clean_run_that_day(bot, tested):
    clean_run(bot, 1, 2, 3, 4)
    run_on(bot, 2, violations=1, hour=18)  # the day's later run found something
    assert integrity_gate(bot, AS_OF).clean_days == 1


def test_the_day_as_of_is_still_running_does_not_count(bot, tested):
    clean_run(bot, 1, 2)
    run_on(bot, 0, hour=0)  # today's run, before AS_OF
    assert integrity_gate(bot, AS_OF).clean_days == 2
    run_on(bot, 0, violations=3, hour=1)  # nor does today's violation end yesterday's streak
    assert integrity_gate(bot, AS_OF).clean_days == 2


def test_every_critical_path_must_have_a_test_through_on_a_channel_covering_the_bot(bot):
    clean_run(bot, 1, 2, 3)
    assert integrity_gate(bot, AS_OF).paths == dict.fromkeys(CRITICAL_PATHS)
    assert str(integrity_gate(bot, AS_OF)) == (
        "not passed: 3 of 3 clean days, 0 of 3 alert paths confirmed firing"
    )

    other, _ = create_bot(slug="other")
    alert_test(channel("other's", bot=other), CRITICAL_PATHS[0])
    alert_test(channel("switched off", is_active=False), CRITICAL_PATHS[0])
    alert_test(channel("failing"), CRITICAL_PATHS[0], status="pending")
    assert integrity_gate(bot, AS_OF).tested == 0

    own = channel("alpha's", bot=bot)
    alert_test(own, CRITICAL_PATHS[0])
    alert_test(own, CRITICAL_PATHS[1])
    gate = integrity_gate(bot, AS_OF)
    assert (gate.tested, gate.passed) == (2, False)
    assert gate.paths[CRITICAL_PATHS[2]] is None

    alert_test(channel("everyone's"), CRITICAL_PATHS[2], sent_at=AS_OF - 2 * HOUR)
    gate = integrity_gate(bot, AS_OF)
    assert (gate.tested, gate.passed) == (3, True)
    assert gate.paths[CRITICAL_PATHS[2]].at == AS_OF - 2 * HOUR
    assert gate.paths[CRITICAL_PATHS[2]].channel == "everyone's"


def test_the_gate_reads_as_of_its_moment(bot):
    ops = channel()
    for path in CRITICAL_PATHS:
        alert_test(ops, path, sent_at=AS_OF - HOUR)
    clean_run(bot, 1, 2, 3)
    earlier = AS_OF - datetime.timedelta(days=1)

    assert integrity_gate(bot, AS_OF).passed
    # A day earlier, the streak had 2 days and no test had gone through yet.
    before = integrity_gate(bot, earlier)
    assert (before.clean_days, before.tested, before.passed) == (2, 0, False)
    # What happens after the moment changes nothing as of it.
    run_on(bot, 1, violations=1, hour=23)
    alert_test(ops, CRITICAL_PATHS[0], sent_at=AS_OF + HOUR)
    assert integrity_gate(bot, earlier) == before
    assert integrity_gate(bot, AS_OF).clean_days == 0


def test_gates_of_a_page_of_bots_are_each_bots_own(bot, tested):
    clean_run(bot, 1, 2, 3)
    broken, _ = create_bot(slug="broken")
    clean_run(broken, 1, 3)
    run_on(broken, 2, violations=1)
    young, _ = create_bot(slug="young")
    clean_run(young, 1)

    gates = integrity_gates([bot, broken, young], AS_OF)

    assert {pk: gate.clean_days for pk, gate in gates.items()} == {
        bot.pk: 3,
        broken.pk: 1,
        young.pk: 1,
    }
    assert gates == {b.pk: integrity_gate(b, AS_OF) for b in (bot, broken, young)}


def test_reads_never_write(bot, tested):
    clean_run(bot, 1, 2, 3)
    window = SimpleNamespace(bot=bot, starts_at=AS_OF - 48 * HOUR, effective_end=AS_OF)
    with CaptureQueriesContext(connection) as queries:
        integrity_gate(bot, AS_OF)
        integrity_gates([bot], AS_OF)
        clean_days_in_a_row(bot, AS_OF)
        stabilization_exit_criteria(window, AS_OF)
        list(with_confirmations(AlertChannel.objects.all()))
    assert queries.captured_queries
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
