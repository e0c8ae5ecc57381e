"""What the command center and the daily review show, read from the data. Reads never write.

Everything a page of bots shows is read for all of them at once: a fixed number of queries for
one bot or five hundred (the command center's benchmark: bench/home.py).

The fleet is the live bots: a shadow (Bot.shadow_of) trades no money, so it is no card to review
and no daily review is due for it; it shows as a line in its live bot's card.

`fleet` reads the command center, `reviews` the daily review and each bot's review hour."""

from cadence.selectors.fleet import CARDS_PER_PAGE, command_center, fleet_by_attention
from cadence.selectors.reviews import (
    DAY,
    as_record,
    daily_review,
    missed_review,
    rejection_trend,
    review_deadline,
    review_overdue,
    unknown_exits,
    utc_day,
)

__all__ = [
    "CARDS_PER_PAGE",
    "DAY",
    "as_record",
    "command_center",
    "daily_review",
    "fleet_by_attention",
    "missed_review",
    "rejection_trend",
    "review_deadline",
    "review_overdue",
    "unknown_exits",
    "utc_day",
]
