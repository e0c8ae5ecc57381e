"""The minimum horizon has one meaning: a keep may be logged once the experiment has run its
min_horizon_days, and the command center's card says from when (it said "day 7 (horizon 5
days)" beside a scorecard planned for 7 days, two horizons for one experiment)."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments import rules, services
from experiments.releases import run_release
from tests.factories import draft


def started(baseline, people, at):
    """Experiment A submitted, approved and started at `at`, through the services."""
    run_release(baseline, bot=baseline.bot, reason="baseline", reference="t", by=people["lead"],
                now=at - datetime.timedelta(hours=1))  # fmt: skip
    experiment = draft(baseline, people)
    services.submit(experiment, by=people["operator"], note="ready", now=at)
    services.approve(experiment, by=people["lead"], note="go", now=at)
    return services.start(experiment, by=people["operator"], note="deployed", now=at)


def card(people):
    client = Client()
    client.force_login(people["operator"])
    page = client.get(reverse("admin:index")).content.decode()
    return " ".join(page.split())


def test_a_keep_is_allowed_exactly_when_the_minimum_horizon_has_run(baseline, people):
    start = timezone.now() - datetime.timedelta(days=1)
    experiment = started(baseline, people, start)
    allowed = start + datetime.timedelta(days=experiment.min_horizon_days)

    assert experiment.keep_allowed_from == allowed
    with pytest.raises(ValidationError, match="keep needs 5 days of running"):
        rules.check_horizon(experiment, allowed - datetime.timedelta(microseconds=1))
    rules.check_horizon(experiment, allowed)


def test_the_card_says_from_when_a_keep_is_allowed(baseline, people):
    start = timezone.now() - datetime.timedelta(days=1, hours=2)
    experiment = started(baseline, people, start)

    page = card(people)

    allowed = experiment.keep_allowed_from
    # Day 2 or 3 of the experiment, by UTC date (the test may run just past midnight).
    assert re.search(
        rf"day [23] · keep allowed from {allowed:%m-%d %H:%M} UTC \(5-day minimum\)", page
    )
    assert "horizon" not in page


def test_past_the_minimum_the_card_says_since_when(baseline, people):
    start = timezone.now() - datetime.timedelta(days=6)
    experiment = started(baseline, people, start)

    page = card(people)

    allowed = experiment.keep_allowed_from
    assert f"keep allowed since {allowed:%m-%d %H:%M} UTC (5-day minimum)" in page
