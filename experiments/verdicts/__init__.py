"""Honest verdicts: the candidate against its concurrent shadow, with intervals that stay valid
however often anyone looks, and the effect the test can detect (issue 21). Pure numpy: no
Django, no database; `experiments/scorecard.py` feeds it arrays.

What is compared. A live bot runs the CANDIDATE release; its shadow runs the BASELINE release
dry-run on the same pairs and days. Over the same elapsed time, the money difference is
T = (candidate net P&L) - (shadow net P&L) of the trades closed in [start, now), and the verdict
is on T per elapsed day (candidate - shadow). Trades are paired as TWINS (same symbol and side,
opened at most `tolerance_seconds` apart, default 300 s: a bot polls every few seconds to a
minute, so two configs taking the same signal open well within 5 minutes, while two unrelated
entries on one pair and side rarely do; one-to-one, nearest first). The unit of the variance is
a twin pair (c - s: the shared market moves cancel, P&L correlation ~0.9 leaves a tenth of the
variance), a trade only the candidate took (+c) or a trade only the shadow took (-s). The
singles are the lever's effect on selection: they count in T and in its variance, never dropped.

Interval. GrowthBook's asymptotic confidence sequence (gbstats `SequentialTwoSidedTTest`,
packages/stats/gbstats/frequentist/tests.py, `sequential_rho` and
`sequential_interval_halfwidth`; growthbook/growthbook), which is eq. 9 of Waudby-Smith,
Arnold, Wu, Howard & Ramdas, "Time-uniform central limit theory and asymptotic confidence
sequences", Annals of Statistics 2024 (arXiv:2103.06476): with n units, s2 = SE^2 * n,

    halfwidth = sqrt(s2) * sqrt(2 (n rho^2 + 1) / (n rho)^2 * log(sqrt(n rho^2 + 1) / alpha))
    rho = sqrt((-2 log(alpha) + log(-2 log(alpha) + 1)) / N)       (eq. 161, two-sided)

where N, gbstats' `sequential_tuning_parameter`, is the planned sample: here the units one
planned duration (default 7 days) brings at the rate seen so far. The interval is tightest
there; it holds at every look, every 15 minutes or daily, at the stated level. Each look reports
the running intersection of the intervals at every 15 minutes since the minimum was met (the
intersection of a confidence sequence is one too): a verdict once reached is not lost to the
next refresh's noise, which is most of the power at day 7.

Days share the market's mood, so trades of one UTC day are not independent. The variance per
unit is the larger of the independent-units estimate and the cluster-robust one by UTC day of
each trade's entry (CR1, G/(G-1)): the twins' differences cancel the day's shared move, so the
first is right and stable when the arms trade alike; the second catches what a day leaves when
they do not (a day of more candidate singles than shadow ones), and with few days it is noisy
on both sides, so alone it would let an unlucky low estimate through. The simulation
(tests/test_verdict_simulation.py, bench/verdicts.py) keeps the false verdicts under 5% this
way; a sequence on day sums alone (n = days) does not: with 2 to 7 units its variance estimate
has 1 to 6 degrees of freedom, and the asymptotic sequence needs many.

Before/after (no shadow): the same interval (two samples, Welch's variance, as gbstats), shown
for information; its verdict is never better or worse, since the market moves between the two
windows as much as any lever does.

Cost: closed form, one sort of the trades and cumulative sums; O(trades log trades) time,
O(trades) memory; a look at many times (`shadow_sequence`) costs one pass.

The modules: `sequence` (the confidence sequence, the verdicts' names and each arm's figures),
`twins` (pairing), `evidence` (the sums at each look), `shadow` (the test against the shadow)
and `before_after` (without one).
"""

from experiments.verdicts.before_after import BEFORE_AFTER_ONLY, before_after
from experiments.verdicts.sequence import (
    ALPHA,
    BETTER,
    INCONCLUSIVE,
    PLANNED_DAYS,
    TOO_EARLY,
    VERDICTS,
    WORSE,
    cs_halfwidth,
    cs_multiplier,
    profit_factor,
    sequential_rho,
)
from experiments.verdicts.shadow import shadow_sequence, shadow_verdict
from experiments.verdicts.twins import ROUNDS, TOLERANCE_SECONDS, twins

__all__ = [
    "ALPHA",
    "BEFORE_AFTER_ONLY",
    "BETTER",
    "INCONCLUSIVE",
    "PLANNED_DAYS",
    "ROUNDS",
    "TOLERANCE_SECONDS",
    "TOO_EARLY",
    "VERDICTS",
    "WORSE",
    "before_after",
    "cs_halfwidth",
    "cs_multiplier",
    "profit_factor",
    "sequential_rho",
    "shadow_sequence",
    "shadow_verdict",
    "twins",
]
