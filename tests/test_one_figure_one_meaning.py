"""One figure, one meaning (issue 23, section 2): each window is named and each drill-down lists
the same window; the trigger headroom follows the live change's moves and draws its value; the
plan's phase never goes backwards and a baseline's evidence is its own; the gate says why its
days are not clean."""

import datetime
import re
from html import unescape
from types import SimpleNamespace

from django.urls import reverse
from django.utils import timezone

from cadence.checklist import checklists
from cadence.models import TriggerHeadroom
from cadence.selectors import command_center
from cadence.services import sign_off_daily_review
from experiments import services
from experiments.releases import freeze_config
from integrity.models import IntegrityCheckRun
from kpis.services import capture_baseline
from tests.factories import draft, earlier_today, run_through, trade
from tradeops.models import ConfigRelease

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def link(page, text):
    return unescape(re.search(rf'<a href="([^"]+)">{text}</a>', page).group(1))


def test_see_unknown_exits_lists_the_24_h_its_line_counts(client, bot, people, monkeypatch):
    bot.known_exit_reasons = ["take_profit"]
    bot.save()
    now = timezone.now()
    # Today's closes, and the pages' clock the test's: closes an hour before now were
    # yesterday's from 00:00 to 01:00 UTC ("today UTC 0").
    today = earlier_today(now)
    trade(bot, "old-unknown", now - 3 * DAY, "-1", exit_reason="")
    trade(bot, "new-unknown", today, "-1", exit_reason="")
    trade(bot, "new-known", today, "2")
    monkeypatch.setattr("cadence.views.timezone", SimpleNamespace(now=lambda: now))
    client.force_login(people["lead"])

    review = client.get(
        reverse("admin:cadence_todays_review", args=[bot.slug]), follow=True
    ).content.decode()
    assert "1 of 2 closes in the last 24 h" in review
    listed = client.get(link(review, "See unknown exits"))
    assert [t.external_id for t in listed.context["cl"].result_list] == ["new-unknown"]

    home = client.get(reverse("admin:index")).content.decode()
    assert "1 of 2 closes in the last 24 h" in home
    listed = client.get(link(home, "See unknown exits"))
    assert [t.external_id for t in listed.context["cl"].result_list] == ["new-unknown"]
    assert "today UTC 2" in home and "yesterday UTC 0" in home


def test_the_daily_review_names_the_sign_off_it_starts_from(client, bot, people):
    now = timezone.now()
    yesterday = now.date() - DAY
    sign_off_daily_review(bot, yesterday, by=people["operator"], note="ok", now=now - DAY)
    client.force_login(people["lead"])
    page = client.get(
        reverse("admin:cadence_todays_review", args=[bot.slug]), follow=True
    ).content.decode()
    assert f"since the {yesterday:%m-%d} sign-off" in page
    assert "since the last sign-off" not in page


def test_the_headroom_is_recomputed_when_the_experiment_moves(
    baseline, people, django_capture_on_commit_callbacks
):
    started = timezone.now() - HOUR
    experiment = run_through(draft(baseline, people), people, until="approve")
    with django_capture_on_commit_callbacks(execute=True):
        services.start(experiment, by=people["operator"], note="go", now=started)
    assert TriggerHeadroom.objects.get(bot=baseline.bot).computed_at == started
    reviewed = started + HOUR / 2
    with django_capture_on_commit_callbacks(execute=True):
        services.send_to_review(experiment, by=people["operator"], note="day 7", now=reviewed)
    assert TriggerHeadroom.objects.get(bot=baseline.bot).computed_at == reviewed


def test_each_headroom_bar_states_its_value(client, baseline, people):
    run_through(draft(baseline, people), people)
    TriggerHeadroom.objects.create(
        bot=baseline.bot,
        subject="A",
        lines=[{"trigger": "safety_events", "text": "safety events 1 of 2", "used": 0.5}],
        computed_at=timezone.now(),
    )
    client.force_login(people["lead"])
    page = client.get(reverse("admin:index")).content.decode()
    assert 'style="width: 50%"' in page
    assert "50% of limit</span> · safety events 1 of 2" in page


def test_a_keep_does_not_send_the_plan_back_and_the_new_baseline_has_its_own_evidence(
    baseline, people
):
    bot = baseline.bot
    freeze_config(bot, days=1, reason="plan 1", by=people["lead"], now=timezone.now() - 30 * DAY)
    capture_baseline(baseline, captured_by=people["lead"])
    experiment = run_through(draft(baseline, people), people)
    assert checklists([bot])[bot.pk].phase == f"4) Experiment queue: {experiment.name}"

    # What a confirmed keep leaves: A decided, its candidate the baseline.
    ConfigRelease.objects.filter(pk=baseline.pk).update(is_baseline=False)
    ConfigRelease.objects.filter(pk=experiment.candidate_release_id).update(is_baseline=True)
    experiment.status = "decided"
    experiment.save()

    checklist = checklists([bot])[bot.pk]
    assert checklist.phase == f"4) Experiment queue: {experiment.name} decided"
    freeze, report = checklist.items[:2]
    assert not freeze.done and "frozen from" not in freeze.evidence
    tag = experiment.candidate_release.tag
    assert not report.done and report.evidence == f"no baseline KPI report of {tag} captured"


def test_the_gate_says_why_its_days_are_not_clean(client, bot, people):
    now = timezone.now()
    yesterday = now - DAY
    IntegrityCheckRun.objects.create(
        bot=bot,
        started_at=yesterday,
        finished_at=yesterday,
        since=yesterday - DAY,
        violations=2,
        triggered_by="test",
    )
    [card] = command_center(now, bots=[bot.pk])
    earlier = [f"{now - n * DAY:%m-%d}" for n in (3, 2)]
    assert card.gate_reason == (
        f"no integrity check run on {', '.join(earlier)}; violations on {yesterday:%m-%d}"
    )
    client.force_login(people["lead"])
    assert card.gate_reason in client.get(reverse("admin:index")).content.decode()
