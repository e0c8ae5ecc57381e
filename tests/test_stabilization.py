"""The stabilization freeze (plan section 1): what it blocks, and its exit criteria from data."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from experiments.releases import end_freeze, freeze_config, set_baseline
from integrity.models import IntegrityIncident
from integrity.selectors import stabilization_exit_criteria
from tests.factories import candidate
from tradeops.audit import history
from tradeops.models import HealthEvent

HOUR = datetime.timedelta(hours=1)


def incident(bot, kind, opened_at):
    return IntegrityIncident.objects.create(
        bot=bot,
        kind=kind,
        severity="critical",
        title=kind,
        opened_at=opened_at,
        last_seen_at=opened_at,
    )


def unmet(window, now=None):
    return [c["criterion"] for c in stabilization_exit_criteria(window, now) if not c["passed"]]


def test_only_a_team_lead_freezes_and_nothing_becomes_current(baseline, people):
    with pytest.raises(PermissionDenied):
        freeze_config(baseline.bot, days=7, reason="x", by=people["operator"])
    freeze_config(baseline.bot, days=7, reason="stabilize", by=people["lead"])
    with pytest.raises(ValidationError, match="stabilization freeze until"):
        set_baseline(
            candidate(baseline, people), bot=baseline.bot, by=people["lead"], note="switch"
        )


def test_exit_criteria_are_met_on_clean_data(baseline, people):
    window = freeze_config(baseline.bot, days=7, reason="stabilize", by=people["lead"])
    assert unmet(window) == []


def test_exit_criteria_name_what_happened_in_the_window(baseline, people):
    bot = baseline.bot
    window = freeze_config(bot, days=7, reason="stabilize", by=people["lead"])
    HealthEvent.objects.create(
        bot=bot, ts=window.starts_at + HOUR, kind="state_change", state="DEGRADED"
    )
    incident(bot, "blocked_malformed_trade", window.starts_at + HOUR)
    incident(bot, "unknown_exit_rate", window.starts_at + HOUR)
    incident(bot, "safety_events", window.starts_at + HOUR)
    assert unmet(window, window.starts_at + 2 * HOUR) == [
        "system NORMAL",
        "no malformed trade persistence",
        "no spike in unknown exit reasons",
        "no abnormal safety triggers",
    ]


def test_what_happens_after_the_window_does_not_count(baseline, people):
    bot = baseline.bot
    window = freeze_config(bot, days=1, reason="stabilize", by=people["lead"])
    end_freeze(window, by=people["lead"], note="criteria met")
    later = timezone.now() + HOUR
    incident(bot, "blocked_malformed_trade", later)
    assert unmet(window, later + HOUR) == []
    assert [e.action for e in history(window)] == ["frozen", "ended early"]
