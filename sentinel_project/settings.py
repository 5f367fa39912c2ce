"""Every setting comes from the environment, with embedded defaults.

With no DATABASE_URL and no REDIS_URL, Sentinel runs on one machine on SQLite
files under var/ and an embedded broker, so `make run` works on a fresh laptop.
Production sets the URLs and nothing else changes.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from .env import env, envbool, envint, envlist, envsecret
from .secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("SENTINEL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DEBUG", False)
# --- security: the signing key (docs/security.md §8) ---
# Deployments (DATABASE_URL set) give SECRET_KEY; embedded mode makes one in var/secret_key.
SECRET_KEY = secret_key(envsecret("SECRET_KEY"), deployed=bool(env("DATABASE_URL")), debug=DEBUG, var_dir=VAR_DIR)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from the package: /api/docs/ works offline
    "schedules",
    "alerts",
]

MIDDLEWARE = [
    # Answers /healthz, /readyz, /metrics (and SQL Sentinel's /health, /ready) before the Host check:
    # probes come by IP.
    "sentinel_project.probes.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files from gunicorn: no separate web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sentinel_project.urls"
WSGI_APPLICATION = "sentinel_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # alerts/templates first, so its admin/base_site.html (the favicon) wins over the admin's own.
        "DIRS": [BASE_DIR / "alerts" / "templates"],
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

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'sentinel.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in embedded mode: wait for locks.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
USE_I18N = True
# All stored times are UTC; schedules carry their own zone (check sentinel.E001).
USE_TZ = True
TIME_ZONE = env("TIME_ZONE", "UTC")

# --- the alerts' default time zone (docs/scheduling.md) ---
# The zone of an alert that names none (neither its own timezone: nor its file's): files, API, admin.
# SQL Sentinel's daemon had one zone for everything (--timezone, documented as TIMEZONE): that name
# is honoured when the new one is not set. Not Django's TIME_ZONE, which stays UTC (sentinel.E001).
SENTINEL_DEFAULT_TIMEZONE = (env("SENTINEL_DEFAULT_TIMEZONE") or env("TIMEZONE") or "UTC").strip()
import zoneinfo as _zoneinfo  # noqa: E402

try:
    _zoneinfo.ZoneInfo(SENTINEL_DEFAULT_TIMEZONE)
except (_zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"SENTINEL_DEFAULT_TIMEZONE (or TIMEZONE) = {SENTINEL_DEFAULT_TIMEZONE!r} is not "
                               "an IANA time zone: use a name such as Europe/Berlin or America/New_York.") from None

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Links in notifications point here: deployments set it to the address people open.
# Without it, the address this process would serve on this machine (PORT, as gunicorn gets it);
# `make run` sets it for every process, since honcho hands the worker and beat other PORTs.
SENTINEL_BASE_URL = (env("SENTINEL_BASE_URL") or f"http://127.0.0.1:{env('PORT') or '8000'}").rstrip("/")

# --- e-mail (Django's backends; SQL Sentinel's SMTP_* names are accepted) ---
# SQL Sentinel's spelling (SMTP_USERNAME, SMTP_FROM_ADDRESS) brings SQL Sentinel's defaults with it:
# port 587 with STARTTLS, so its users' settings (Gmail, Office 365) work unchanged. Otherwise port 25,
# and the port says the protocol unless SMTP_USE_TLS / SMTP_USE_SSL do: STARTTLS on 587, TLS on 465.
_SQLSENTINEL_SMTP = bool(env("SMTP_USERNAME") or env("SMTP_FROM_ADDRESS")) and not (
    env("SMTP_USER") or env("SMTP_FROM"))
EMAIL_HOST = env("SMTP_HOST", "localhost")
EMAIL_PORT = envint("SMTP_PORT", 587 if _SQLSENTINEL_SMTP else 25)
EMAIL_HOST_USER = env("SMTP_USER") or env("SMTP_USERNAME")
EMAIL_HOST_PASSWORD = envsecret("SMTP_PASSWORD")
EMAIL_USE_SSL = envbool("SMTP_USE_SSL", EMAIL_PORT == 465 and not envbool("SMTP_USE_TLS", False))
EMAIL_USE_TLS = envbool("SMTP_USE_TLS", not EMAIL_USE_SSL and (EMAIL_PORT == 587 or _SQLSENTINEL_SMTP))
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("SMTP_USE_TLS and SMTP_USE_SSL are both true: STARTTLS (port 587) or "
                               "TLS from the start (port 465), not both.")
EMAIL_TIMEOUT = envint("SMTP_TIMEOUT", 30)
# SQL Sentinel sent from the login when no address was given: an address-shaped login still is.
DEFAULT_FROM_EMAIL = (env("SMTP_FROM") or env("SMTP_FROM_ADDRESS")
                      or (EMAIL_HOST_USER if "@" in EMAIL_HOST_USER else "sentinel@localhost"))
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
# EMAIL_URL (smtp://, smtp+tls://, smtps://, console://; see email_url.py) wins over SMTP_*.
if envsecret("EMAIL_URL"):
    from .email_url import parse_email_url

    globals().update(parse_email_url(envsecret("EMAIL_URL")))

# --- Celery ---
REDIS_URL = env("REDIS_URL")
# Embedded mode: kombu's SQLAlchemy transport on a SQLite file, no Redis needed.
CELERY_BROKER_URL = REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
# Results are never read: the database holds every outcome.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# JSON only: no pickle from a shared broker.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# A task is acknowledged after it ran, and comes back if its worker dies:
# the database claim makes the second delivery harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# One message at a time per process: a long query never holds others hostage.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Retry the broker forever at startup: a worker that starts before Redis waits.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None

SENTINEL_QUERY_TIMEOUT_MAX = envint("SENTINEL_QUERY_TIMEOUT_MAX", 300)
# A batch of alert runs starts no new query after this many seconds and hands the rest back
# to the queue, so a batch of slow queries still ends within the time limits below.
SENTINEL_BATCH_SECONDS = envint("SENTINEL_BATCH_SECONDS", 30)
# Time limits sit above the longest batch (its budget, then one more query at the longest
# timeout), so the database, not Celery, ends a slow query and the run is recorded as TIMEOUT.
CELERY_TASK_SOFT_TIME_LIMIT = SENTINEL_BATCH_SECONDS + SENTINEL_QUERY_TIMEOUT_MAX + 60
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# Redis re-delivers unacknowledged messages after this; it must exceed the hard limit
# or a slow run would be handed to a second worker while the first still works.
# It is also how long a message of a worker killed with SIGKILL waits before another worker gets it.
CELERY_BROKER_VISIBILITY_TIMEOUT = envint("CELERY_BROKER_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    # Look for messages whose visibility ran out every N seconds (kombu's default works out at ~100 s).
    "unacked_restore_interval": envint("CELERY_BROKER_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": 1,
} if REDIS_URL else {}
CELERY_TASK_DEFAULT_QUEUE = "alerts"
# Declared, so a worker started without -Q consumes all four (Celery's default is only the
# default queue: fan-outs and deliveries would never run); `-Q alerts,...` still picks a subset.
# Exchange and routing key named after the queue, as Celery makes them for a routed queue.
# Backtests have a queue of their own: a long one never sits in front of a tick's runs.
SENTINEL_QUEUES = ("schedules", "alerts", "notifications", "backtests")
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in SENTINEL_QUEUES)
CELERY_TASK_ROUTES = {
    "schedules.fire_schedule": {"queue": "schedules"},
    "alerts.run_alert": {"queue": "alerts"},
    "alerts.run_alerts": {"queue": "alerts"},
    "alerts.deliver": {"queue": "notifications"},
    "alerts.recover_deliveries": {"queue": "notifications"},
    "alerts.reap_abandoned": {"queue": "alerts"},
    "alerts.run_backtest": {"queue": "backtests"},
}
# A backtest replays at most this many ticks (a minutely alert's 7 days are 10,080), and stops
# after this many seconds; each of its queries has its datasource's timeout (alerts/backtest.py).
SENTINEL_BACKTEST_MAX_TICKS = envint("SENTINEL_BACKTEST_MAX_TICKS", 20000)
SENTINEL_BACKTEST_MAX_SECONDS = envint("SENTINEL_BACKTEST_MAX_SECONDS", 1800)
# django-celery-beat's DatabaseScheduler, sending only while it holds the beat lease (schedules/beat.py).
CELERY_BEAT_SCHEDULER = "schedules.beat:LeaderDatabaseScheduler"
# A standby beat takes over within this many seconds of the leader's last renewal.
SENTINEL_BEAT_LEASE_SECONDS = envint("SENTINEL_BEAT_LEASE_SECONDS", 15)
# Settles notifications whose worker died mid-send and re-enqueues lost retries (alerts.delivery).
CELERY_BEAT_SCHEDULE = {
    "sentinel-recover-deliveries": {"task": "alerts.recover_deliveries", "schedule": 60.0},
    # Nothing stays RUNNING forever: finishes executions whose worker died and that nobody took over.
    "sentinel-reap-abandoned": {"task": "alerts.reap_abandoned", "schedule": 60.0},
}
# Beat sends a tick that is up to this late instead of dropping it.
CELERY_BEAT_CRON_STARTING_DEADLINE = envint("CELERY_BEAT_CRON_STARTING_DEADLINE", 300)
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Sentinel ---
SENTINEL_DEFAULT_QUERY_TIMEOUT = envint("SENTINEL_DEFAULT_QUERY_TIMEOUT", 30)
SENTINEL_DEFAULT_ROW_LIMIT = envint("SENTINEL_DEFAULT_ROW_LIMIT", 1000)
# How many result rows an execution keeps for people to look at.
SENTINEL_PREVIEW_ROWS = envint("SENTINEL_PREVIEW_ROWS", 20)
SENTINEL_PREVIEW_CELL_CHARS = envint("SENTINEL_PREVIEW_CELL_CHARS", 500)
# An instance that is not OK and whose state stays put gets its moved value written at most this
# often (0: at every run); its state is written whenever it changes (alerts/recording.py).
SENTINEL_INSTANCE_VALUE_SECONDS = envint("SENTINEL_INSTANCE_VALUE_SECONDS", 300)
# Extra time beyond the query timeout before a RUNNING execution counts as abandoned.
SENTINEL_LEASE_MARGIN = timedelta(seconds=envint("SENTINEL_LEASE_MARGIN_SECONDS", 60))
# The fan-out hands a worker the alerts of one schedule and datasource in batches of this many:
# claims, checks and history are then written once per batch, not once per alert.
SENTINEL_RUN_BATCH_SIZE = envint("SENTINEL_RUN_BATCH_SIZE", 50)
# Finished runs of a batch are committed at least this often, so history and notifications of
# its first alerts do not wait for its last.
SENTINEL_BATCH_FLUSH_SECONDS = envint("SENTINEL_BATCH_FLUSH_SECONDS", 2)
# A lease that ran out this long ago will not be taken over any more (the broker has redelivered by then).
SENTINEL_ABANDONED_AFTER = timedelta(
    seconds=envint("SENTINEL_ABANDONED_AFTER_SECONDS", CELERY_BROKER_VISIBILITY_TIMEOUT + 300))
SENTINEL_QUEUED_RUN_MAX_WAIT = timedelta(seconds=envint("SENTINEL_QUEUED_RUN_MAX_WAIT_SECONDS", 3600))

LOG_LEVEL = env("LOG_LEVEL", "INFO").upper()
# json: one JSON object per line, with alert/execution/notification ids as fields.
LOG_FORMAT = env("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "sentinel_project.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "sentinel": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

SENTRY_DSN = envsecret("SENTRY_DSN")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from .sentry import scrub_breadcrumb, scrub_event

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        send_default_pii=False,
        # Datasource and webhook URLs, tokens and passwords never leave (sentinel_project/sentry.py).
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        environment=env("SENTRY_ENVIRONMENT", "production"),
    )

# Delivery retries: 6 attempts over about 15 minutes (waits of 30 s, 1, 2, 4 and 8 min, each +-20 % jitter).
SENTINEL_DELIVERY_MAX_ATTEMPTS = envint("SENTINEL_DELIVERY_MAX_ATTEMPTS", 6)
SENTINEL_DELIVERY_BACKOFF_BASE = envint("SENTINEL_DELIVERY_BACKOFF_BASE", 30)
SENTINEL_DELIVERY_BACKOFF_MAX = envint("SENTINEL_DELIVERY_BACKOFF_MAX", 480)
# Seconds a notifier waits for a receiver (HTTP read, SMTP) before the attempt counts as failed.
SENTINEL_DELIVERY_TIMEOUT = envint("SENTINEL_DELIVERY_TIMEOUT", 10)
# A notification SENDING longer than this lost its worker mid-send (see docs/notifications.md).
SENTINEL_DELIVERY_STALLED_AFTER = timedelta(seconds=envint("SENTINEL_DELIVERY_STALLED_AFTER_SECONDS", 300))
# A channel whose notifications failed for good this many times in a row is flagged in the admin.
SENTINEL_CHANNEL_FAILING_AFTER = envint("SENTINEL_CHANNEL_FAILING_AFTER", 3)
# How long the silence links in a message keep working.
SENTINEL_SILENCE_LINK_HOURS = envint("SENTINEL_SILENCE_LINK_HOURS", 72)

# --- security: datasources and ${VAR} (docs/security.md §1, §2) ---
# The environment variables definitions may read as ${VAR}: names and PREFIX_* patterns, comma-separated.
# Empty (the default): none. Sentinel's own settings variables are never readable, whatever this says.
SENTINEL_ENV_ALLOW = envlist("SENTINEL_ENV_ALLOW")
# The directories a SQLite datasource's file may live in (os.pathsep-separated). Sentinel's own
# database and broker files are refused wherever they are. Default: var/datasources/ (the demo's).
SENTINEL_SQLITE_DIRS = [Path(p) for p in env("SENTINEL_SQLITE_DIRS", str(VAR_DIR / "datasources"))
                        .split(os.pathsep) if p.strip()]

# --- security: HTTPS, cookies and the proxy header (docs/security.md §8) ---
# SENTINEL_HTTPS=true: people reach Sentinel over HTTPS only. Session and CSRF cookies then travel
# over HTTPS only, browsers are told to keep to HTTPS for a year (HSTS) and plain HTTP is redirected
# (the probes, answered before this, are not). Each Django setting can still be set on its own.
SENTINEL_HTTPS = envbool("SENTINEL_HTTPS", False)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", SENTINEL_HTTPS)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", SENTINEL_HTTPS)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", SENTINEL_HTTPS)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SENTINEL_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SENTINEL_HTTPS)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", SENTINEL_HTTPS)
# Behind nginx or a load balancer that ends TLS: believe its X-Forwarded-Proto. Only when that proxy
# always sets the header (overwriting the client's), or anyone could claim to have come by HTTPS.
if envbool("SENTINEL_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- security: outbound requests (docs/security.md §7) ---
# Webhook, Slack, Teams and PagerDuty channels reach public addresses only. Comma-separated
# networks (10.20.0.0/16, 127.0.0.1) and host names (hooks.internal) that they may reach too.
# A cloud metadata address (169.254.169.254, ...) opens only when named here exactly.
SENTINEL_OUTBOUND_ALLOW = envlist("SENTINEL_OUTBOUND_ALLOW")
import ipaddress  # noqa: E402
import re  # noqa: E402

for _entry in SENTINEL_OUTBOUND_ALLOW:
    try:
        ipaddress.ip_network(_entry.strip("[]"), strict=False)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9])?\.?", _entry):
            raise ImproperlyConfigured(f"SENTINEL_OUTBOUND_ALLOW: {_entry!r} is neither a network "
                                       "(10.0.0.0/8, 127.0.0.1) nor a host name (hooks.internal)") from None
if env("SENTINEL_WEBHOOK_ALLOW_PRIVATE"):
    raise ImproperlyConfigured(
        "SENTINEL_WEBHOOK_ALLOW_PRIVATE is gone: list the private networks or hosts channels may reach in "
        "SENTINEL_OUTBOUND_ALLOW (e.g. SENTINEL_OUTBOUND_ALLOW=10.0.0.0/8,hooks.internal).")

# --- security: bounded everything (docs/security.md §6) ---
# The largest row_limit a datasource may have; a query never fetches more rows than this.
SENTINEL_ROW_LIMIT_MAX = envint("SENTINEL_ROW_LIMIT_MAX", 100_000)
# A result with more columns is an ERROR of its alert (1,500 columns made a 15 MB preview).
SENTINEL_MAX_COLUMNS = envint("SENTINEL_MAX_COLUMNS", 200)
# A row kept in the preview or a message's context is cut to about this many characters of JSON.
SENTINEL_PREVIEW_ROW_CHARS = envint("SENTINEL_PREVIEW_ROW_CHARS", 10_000)
# A notification's payload (stored and sent) is cut to this many bytes of JSON; Slack and Teams less.
SENTINEL_PAYLOAD_MAX_BYTES = envint("SENTINEL_PAYLOAD_MAX_BYTES", 256 * 1024)
# An alert's own subject or body template renders to at most this many characters.
SENTINEL_TEMPLATE_OUTPUT_CHARS = envint("SENTINEL_TEMPLATE_OUTPUT_CHARS", 20_000)

# --- operations: health, metrics, retention (docs/operating.md) ---
# /readyz fails when beat's heartbeat is older than this, or a queue's oldest message waits longer.
SENTINEL_BEAT_MAX_AGE_SECONDS = envint("SENTINEL_BEAT_MAX_AGE_SECONDS", 180)
SENTINEL_QUEUE_MAX_AGE_SECONDS = envint("SENTINEL_QUEUE_MAX_AGE_SECONDS", 300)
# Each worker writes a heartbeat row this often while it consumes; /readyz counts a worker alive
# while its last one is younger than SENTINEL_WORKER_MAX_AGE_SECONDS (any broker, embedded too).
SENTINEL_WORKER_HEARTBEAT_SECONDS = envint("SENTINEL_WORKER_HEARTBEAT_SECONDS", 15)
SENTINEL_WORKER_MAX_AGE_SECONDS = envint("SENTINEL_WORKER_MAX_AGE_SECONDS", 60)
# Which checks /readyz runs when the request does not say (?checks=database,broker); empty: all.
SENTINEL_READY_CHECKS = env("SENTINEL_READY_CHECKS", "")
# Set to require `Authorization: Bearer <token>` on /metrics.
SENTINEL_METRICS_TOKEN = envsecret("SENTINEL_METRICS_TOKEN")
SENTINEL_METRICS_WINDOW_SECONDS = envint("SENTINEL_METRICS_WINDOW_SECONDS", 300)
# Executions (with their notifications) older than this are pruned; Alert.retention_days overrides.
SENTINEL_RETENTION_DAYS = envint("SENTINEL_RETENTION_DAYS", 90)
# Beyond this many days only what people look back for is kept (non-OK runs, state changes, runs
# that notified; alerts/retention.py): plain OK runs live on in the hourly rollups. >= the retention: all kept.
SENTINEL_RAW_HISTORY_DAYS = envint("SENTINEL_RAW_HISTORY_DAYS", 7)
SENTINEL_RETENTION_BATCH_SIZE = envint("SENTINEL_RETENTION_BATCH_SIZE", 500)
# One pruning run stops after this long and carries on at its next run.
SENTINEL_RETENTION_MAX_SECONDS = envint("SENTINEL_RETENTION_MAX_SECONDS", 120)
# Hourly rollups of the executions (alerts/rollups.py), which back the statistics, are kept this long.
SENTINEL_ROLLUP_RETENTION_DAYS = envint("SENTINEL_ROLLUP_RETENTION_DAYS", 400)

# --- config files kept in step (docs/config.md "Watching files") ---
# Alert files (colon- or comma-separated paths) that the beat process applies at start and again on
# every change of their content (sentinel_project/celery_signals.py), and that `sentinel apply` with
# no FILE (the Procfile's release step) applies once. Empty: nothing is applied from files by itself.
SENTINEL_CONFIG_FILES = [p.strip() for p in env("SENTINEL_CONFIG_FILES").replace(":", ",").split(",") if p.strip()]
# How often beat and `sentinel apply --watch` look at the files (a hash of their bytes, not the mtime).
SENTINEL_CONFIG_POLL_SECONDS = envint("SENTINEL_CONFIG_POLL_SECONDS", 2)
if SENTINEL_CONFIG_POLL_SECONDS < 1:
    raise ImproperlyConfigured(f"SENTINEL_CONFIG_POLL_SECONDS={SENTINEL_CONFIG_POLL_SECONDS}: give 1 or more seconds")

# --- REST API (alerts/api, docs/api.md) ---
REST_FRAMEWORK = {
    # Token first: a request without credentials gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["alerts.api.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "alerts.api.pagination.Pages",
    "DEFAULT_SCHEMA_CLASS": "alerts.api.openapi.SentinelAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sentinel API",
    "DESCRIPTION": "SQL alerts: definitions, runs, executions, notifications. Token authentication: "
                   "`Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "alerts.models.ExecutionStatus",
        "NotificationStatusEnum": "alerts.models.NotificationStatus",
        "StateEnum": "alerts.models.State",
    },
}
