"""Test settings: Django's database is the machine's PostgreSQL when it answers.

On a laptop without PostgreSQL the suite runs on SQLite and the tests that need
PostgreSQL or Redis skip, saying so. Under CI (CI=true) a missing service is a
failure, never a skip.
"""

import os
import socket
import tempfile
from urllib.parse import urlparse

os.environ.setdefault("SENTINEL_VAR_DIR", "/tmp/sentinel-test-var")
# Tests keep their SQLite datasources in pytest's tmp_path, and their ${VAR} examples use these
# names (docs/security.md §1, §2). Set in the environment, so processes the tests start read them too.
os.environ.setdefault("SENTINEL_SQLITE_DIRS", tempfile.gettempdir())
TEST_ENV_ALLOW = ("SENTINEL_TEST_*,SENTINEL_FIXTURE_DB,FAULTS_*,HOOK_*,WEBHOOK_SECRET,SLACK_*,TEAMS_WEBHOOK_URL,"
                  "PAGERDUTY_*,PD_KEY,KNOB_DB,SHOP_DB_PASSWORD,REPLICA_PASSWORD,ONCALL_EMAILS,FULL_PATH_SECRET,"
                  "AUDIT_SECRET,NOT_SET_ANYWHERE,NO_SUCH_HOOK_VARIABLE,VAR,VARIABLE,X,S,MORE")
os.environ.setdefault("SENTINEL_ENV_ALLOW", TEST_ENV_ALLOW)

from sentinel_project.settings import *  # noqa: E402,F401,F403

TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


TEST_MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")
POSTGRES_AVAILABLE = reachable(TEST_POSTGRES_URL)
MARIADB_AVAILABLE = reachable(TEST_MARIADB_URL)
REDIS_AVAILABLE = reachable(TEST_REDIS_URL)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

if IN_CI and not (POSTGRES_AVAILABLE and REDIS_AVAILABLE and MARIADB_AVAILABLE):
    raise RuntimeError(
        f"CI=true but PostgreSQL ({TEST_POSTGRES_URL}: {POSTGRES_AVAILABLE}), Redis "
        f"({TEST_REDIS_URL}: {REDIS_AVAILABLE}) or MariaDB ({TEST_MARIADB_URL}: {MARIADB_AVAILABLE}) "
        "is not reachable; CI never skips them."
    )

if POSTGRES_AVAILABLE:
    DATABASES = {"default": dj_database_url.parse(TEST_POSTGRES_URL)}  # noqa: F405
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SENTINEL_DELIVERY_BACKOFF_BASE = 1
SENTINEL_DELIVERY_BACKOFF_MAX = 2
# The HTTP receivers the notifier tests post to listen on loopback (docs/security.md §7).
SENTINEL_OUTBOUND_ALLOW = ["127.0.0.1"]
