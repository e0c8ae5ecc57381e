"""TradeOps settings, read from the environment (django-environ).

DATABASE_URL  default: a SQLite file in the project folder (the embedded default).
REDIS_URL     absent: RQ jobs run in-process, synchronously.
CONN_MAX_AGE  seconds a worker keeps its database connection (default 60; 0 opens one per request).
SECRET_KEY, DEBUG, ALLOWED_HOSTS as usual; production needs SECRET_KEY and DEBUG=False.
FIELD_ENCRYPTION_KEY  Fernet key(s), comma-separated, newest first: encrypt secrets at rest (alert
              channel targets). Production needs it (`check --deploy`); unset, demo and test
              installs use a key derived from SECRET_KEY.
"""

import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    REDIS_URL=(str, ""),
    SECURE_SSL_REDIRECT=(bool, True),
    SECURE_HSTS_SECONDS=(int, 31536000),
    INGEST_MAX_BODY_BYTES=(int, 10 * 1024 * 1024),
    INGEST_MAX_RECORDS=(int, 50_000),
    HEARTBEATS_PER_MINUTE=(int, 12),
    TRUSTED_PROXIES=(list, []),
    FIELD_ENCRYPTION_KEY=(list, []),
)
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DEBUG")
# Only a debug install may run with the built-in development key.
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "Set the SECRET_KEY environment variable (production), or DEBUG=True for the demo: "
        f"`make demo` writes it to {BASE_DIR / '.env'}, which every manage.py command reads"
    )
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")

INSTALLED_APPS = [
    # Django's admin, opening on the operating cadence's command center.
    "cadence.apps.TradeOpsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    # The layers, bottom up: each app imports only from the ones listed before it.
    "tradeops",
    "ingestion",
    "integrity",
    "kpis",
    "experiments",
    "cadence.apps.CadenceConfig",
    "demo",
    # After tradeops, whose rqenqueue (runs the job in-process without Redis) replaces its own.
    "django_rq",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tradeops.urls"
WSGI_APPLICATION = "tradeops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A bot posts every second: a new PostgreSQL connection per request costs more than the batch's
# own work. Kept connections are checked before reuse, so a database restart costs one 503 at most.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL's own index and constraint features, which the SQLite first-look default goes
# without: the closes index's INCLUDE columns (W040: SQLite gets its key columns, migration 0018)
# and the daily closes rollup's NULLS NOT DISTINCT (W047: SQLite keeps no rollup).
SILENCED_SYSTEM_CHECKS = ["models.W040", "models.W047"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default writes from requests and from its scheduler's threads at once
    # (tradeops.embedded). WAL: reads go on during a write. IMMEDIATE: a transaction takes the
    # write lock when it begins, waiting for it, where a deferred one that reads then writes
    # fails at once ("database is locked") if another wrote in between. And a writer waits up
    # to 30 s for the lock, not Django's 5.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL", "transaction_mode": "IMMEDIATE", "timeout": 30}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes: 5 failed logins for a username from one address lock that pair out for an hour.
# Per pair, so an attacker elsewhere cannot lock a lead out. Unlock early with
# `manage.py axes_reset_username NAME`. Behind a reverse proxy every client shares the proxy's
# address (REMOTE_ADDR), so the lock then falls on the username alone, unless the proxy is named
# in TRUSTED_PROXIES: the address is then the client it forwarded for (tradeops.clients).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = datetime.timedelta(hours=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Its start-up banner would open the output of every manage.py command.
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "tradeops.clients.client_address"

# The proxies (addresses or networks) whose X-Forwarded-For is believed; none by default, so a
# client cannot pick its own address. The production recipe's nginx on the same host: 127.0.0.1.
TRUSTED_PROXIES = env("TRUSTED_PROXIES")

# django-csp: nothing but our own origin, and no inline script. The admin has none; the queue
# dashboard's templates do, and its views (superusers only) allow them (tradeops.admin.queues).
# Inline styles stay allowed: the report's <style> block, style attributes in templates.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["tradeops.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# RQ: with REDIS_URL set, jobs go to Redis and RQ workers run them; without it they run
# in-process, synchronously (the embedded default).
REDIS_URL = env("REDIS_URL")


def _connect_timeout(url, seconds=2):
    """A Redis host that drops packets must not hold up a request: connecting gives up after
    `seconds`. Only as a URL parameter, since django-rq ignores its timeout keys beside a URL."""
    if "socket_connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}socket_connect_timeout={seconds}"


# Queues by urgency (tradeops.schedule says which job goes where, with its own timeout, and how
# many workers listen to which): the timeouts here are for jobs not in the schedule.
RQ_QUEUES = {
    name: {"URL": _connect_timeout(REDIS_URL or "redis://127.0.0.1:6379/0"), "DEFAULT_TIMEOUT": 600}
    for name in ("minute", "default", "slow")
}
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "tradeops.workers.DjangoWorker"}
# The queue dashboard is registered by tradeops.admin, behind its own permission check.
RQ_SHOW_ADMIN_LINK = False

# Alerts: email through Django's mail settings (EMAIL_URL, e.g. smtp+tls://user:pass@host:587),
# and links back to the admin from TRADEOPS_BASE_URL.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="tradeops@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
TRADEOPS_BASE_URL = env("TRADEOPS_BASE_URL", default="http://127.0.0.1:8000")
# Release webhooks and alert channels may not reach inside addresses (loopback, private,
# link-local...: integrity.outbound) except in these networks, e.g. an on-premise chat server:
# OUTBOUND_ALLOWED_NETWORKS=10.0.5.20/32,fd00:5::/64. None by default.
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
# The missed-schedule watch (integrity.schedules) also runs these, for schedules kept by apps
# above the integrity app: each takes the clock.
SCHEDULE_WATCHES = ["cadence.schedules.watch_digests"]

# Ingestion API: larger bodies, and bodies of more records, are refused with 413 before any
# record is looked at; the bot splits its batch. A response lists the first errors only.
INGEST_MAX_BODY_BYTES = env("INGEST_MAX_BODY_BYTES")
INGEST_MAX_RECORDS = env("INGEST_MAX_RECORDS")
INGEST_ERRORS_LISTED = 100
# A bot's heartbeat-only batches beyond this many a minute get 429 (one a minute is the contract).
HEARTBEATS_PER_MINUTE = env("HEARTBEATS_PER_MINUTE")
# The schedule watch and the alert sweep the ingestion API starts, on a thread of their own after
# the response (integrity.schedules): off in tests that do not ask for it.
SWEEP_FROM_INGESTION = True

if not DEBUG:
    SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT")
    SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
