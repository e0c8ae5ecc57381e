"""How far a live change is from each hard rollback trigger (experiments.triggers), in the
team's words: what the command center shows under "trigger headroom". The same readings and
frozen thresholds the triggers use; `used` is the share of the limit reached (1 fires)."""

from experiments.triggers import avg_loss_worsening, daily_losses
from tradeops.models import HealthEvent


def _loss_streak(subject, now):
    """`used`: the worst full day's fall as a share of the daily limit (a gain uses none); the
    streak the trigger also needs is said in words."""
    limit = subject.triggers["daily_loss_pct"]
    needed = subject.triggers["daily_loss_consecutive_days"]
    losses = daily_losses(subject, now)
    streak = 0
    for _, change in losses:
        streak = streak + 1 if change < limit else 0
    worst = min((change for _, change in losses), default=None)
    if worst is None:
        return {
            "trigger": "daily_loss",
            "text": f"daily equity change: no full day yet (limit {limit}% a day, "
            f"{needed} days running)",
            "used": 0.0,
        }
    used = max(worst / float(limit), 0) if limit else 0
    return {
        "trigger": "daily_loss",
        "text": f"worst daily equity change {worst:+.1f}% against a limit of {limit}% a day; "
        f"it fires after {needed} such days running: {streak} of {needed} now",
        "used": round(float(used), 4),
    }


def _avg_loss(subject, now):
    limit = subject.triggers["avg_loss_deterioration"]
    worsening = avg_loss_worsening(subject, now)
    if worsening is None:
        return {
            "trigger": "avg_loss",
            "text": f"avg loss/trade: no losing trade yet (limit {limit:.0%} worse)",
            "used": 0.0,
        }
    worse = worsening[2]
    word = "worse" if worse >= 0 else "better"
    return {
        "trigger": "avg_loss",
        "text": f"avg loss/trade {abs(worse):.0%} {word} than baseline (limit {limit:.0%} worse)",
        "used": round(max(worse, 0) / limit, 4) if limit else 0.0,
    }


def _safety(subject, now):
    limit = subject.triggers["safety_events"]
    events = len(HealthEvent.instability(subject.bot, subject.started_at, now))
    return {
        "trigger": "safety_events",
        "text": f"safety events {events} of {limit}",
        "used": round(events / limit, 4) if limit else 0.0,
    }


def trigger_headroom(subject, now):
    """[{trigger, text, used}] for the live `subject` (a running experiment or a holding scaling
    step) as of `now`."""
    return [reading(subject, now) for reading in (_loss_streak, _avg_loss, _safety)]
