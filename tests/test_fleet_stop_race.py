"""A Team lead's fleet-wide stop and a stop of one bot at the same moment both go through: the
fleet stop holds every bot's row before its first audit row takes the audit chain's lock, so the
other waits instead of deadlocking (found by a hostile review: the single stop answered 500,
"deadlock detected", in 3 of 3 runs through HTTP)."""

import threading

import pytest
from django.db import connection

from tradeops.models import Bot
from tradeops.services import create_bot, set_trading_mode, stop_fleet_entries

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_stop_during_a_fleet_stop_waits_and_both_take_effect(people):
    bots = [create_bot(slug=f"race-{n:03d}")[0] for n in range(60)]
    failures = []

    def run(work):
        try:
            work()
        except Exception as exc:  # what the request would have answered 500 with
            failures.append(exc)
        finally:
            connection.close()

    for round_ in range(3):
        target = bots[-1 - round_]
        fleet = threading.Thread(
            target=run, args=(lambda: stop_fleet_entries(by=people["lead"], note="outage"),)
        )
        single = threading.Thread(
            target=run,
            args=(
                lambda target=target: set_trading_mode(
                    target, "exit_all", by=people["lead2"], note="close it out"
                ),
            ),
        )
        fleet.start()
        single.start()
        fleet.join(60)
        single.join(60)
        Bot.objects.filter(trading_mode="stop_entries").update(trading_mode="trade")

        assert failures == []
        assert Bot.objects.get(pk=target.pk).trading_mode == "exit_all"
        Bot.objects.filter(pk=target.pk).update(trading_mode="trade")
