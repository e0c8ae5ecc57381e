"""The RQ worker class for TradeOps (RQ = {"WORKER_CLASS": ...} in settings)."""

from django.db import connections
from rq.worker import Worker


class DjangoWorker(Worker):
    """Closes database connections before forking each job's work horse.

    A forked child must not share the parent's open database socket: both would speak on one
    connection. The child opens its own; the parent reconnects on its next query.
    """

    def fork_work_horse(self, job, queue):
        connections.close_all()
        return super().fork_work_horse(job, queue)
