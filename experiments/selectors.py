"""Reads for the experiment's page that the stored scorecard does not hold."""

import datetime

from django.db.models import Case, Q, Sum, Value, When
from django.db.models.functions import TruncDate

from experiments.scorecard import ELAPSED
from tradeops.models import Trade

TEST, BASELINE = "test", "baseline"


def arm_windows(experiment, scorecard):
    """{arm: (first day, days)} the scorecard's two arms cover, or None for a scorecard stored
    before it recorded the test's start (it cannot be charted over the same span)."""
    test = scorecard["test"]
    if test.get("days_basis") != ELAPSED:
        return None
    since = datetime.datetime.fromisoformat(test["from"])
    to = datetime.datetime.fromisoformat(test["to"])
    test_days = (to.date() - since.date()).days + 1
    base = scorecard["baseline"]
    if base["concurrent"]:
        return {TEST: (since.date(), test_days), BASELINE: (since.date(), test_days)}
    base_to = datetime.date.fromisoformat(base["to"])
    base_from = base_to - datetime.timedelta(days=base["days"])
    return {TEST: (since.date(), test_days), BASELINE: (base_from, base["days"])}


def daily_net_pnl(experiment, scorecard):
    """{(arm, day): net P&L} of the closed trades the scorecard's arms rest on: the candidate
    from the start to when the scorecard was computed, and its control (the shadow over the same
    span, or the bot's baseline window). One aggregate query, whatever the days or trades."""
    test, base = scorecard["test"], scorecard["baseline"]
    since = datetime.datetime.fromisoformat(test["from"])
    to = datetime.datetime.fromisoformat(test["to"])
    candidate = Q(
        bot_id=experiment.bot_id,
        release_id=experiment.candidate_release_id,
        closed_at__gte=since,
        closed_at__lt=to,
    )
    if base["concurrent"]:
        control = Q(bot__slug=base["bot"], closed_at__gte=since, closed_at__lt=to)
    else:
        base_to = datetime.date.fromisoformat(base["to"])
        control = Q(
            bot_id=experiment.bot_id,
            closed_at__date__gte=base_to - datetime.timedelta(days=base["days"]),
            closed_at__date__lt=base_to,
        )
    control &= Q(release_id=experiment.baseline_release_id)
    rows = (
        Trade.objects.filter(candidate | control, status=Trade.Status.CLOSED)
        .annotate(
            arm=Case(
                When(release_id=experiment.candidate_release_id, then=Value(TEST)),
                default=Value(BASELINE),
            ),
            day=TruncDate("closed_at", tzinfo=datetime.UTC),
        )
        .order_by()
        .values("arm", "day")
        .annotate(net=Sum("net_pnl"))
    )
    return {(row["arm"], row["day"]): row["net"] for row in rows}
