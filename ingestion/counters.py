"""Counting requests in fixed time windows, in the database so that every process counts the
same: the bad-token throttle (per client address) and the heartbeat limit (per bot)."""

from django.db import IntegrityError, transaction
from django.db.models import F


def count_in_window(rows, field, *, open_window, stale):
    """Add one to `field` of the window's row that `rows` selects. The window's first count
    creates its row (`open_window()`) and then deletes the windows of no use any more (`stale`);
    a request that loses the race to create it adds to the winner's row instead."""
    if rows.update(**{field: F(field) + 1}):
        return
    try:
        with transaction.atomic():
            open_window()
    except IntegrityError:
        rows.update(**{field: F(field) + 1})
        return
    stale.delete()
