"""gunicorn for TradeOps behind nginx (deploy/nginx.conf.template): `gunicorn -c
deploy/gunicorn.conf.py tradeops.wsgi`. Settings come from the environment as for manage.py."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: nginx hands them whole requests only, so a worker is never held by a slow body.
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
worker_class = "sync"
# A batch of 50,000 records takes seconds; nothing legitimate takes two minutes.
timeout = 120
graceful_timeout = 30
# Workers keep their database connection (CONN_MAX_AGE); recycle them now and then all the same.
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = "-"
