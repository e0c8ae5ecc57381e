"""Real RQ workers in the test process, for the tests that run jobs through Redis."""

import django_rq

from tradeops.schedule import QUEUES


def run_workers_burst():
    """A worker on every queue, in order of urgency, until they are all empty (the units a
    fanned-out run enqueues included)."""
    django_rq.get_worker(*QUEUES).work(burst=True)
