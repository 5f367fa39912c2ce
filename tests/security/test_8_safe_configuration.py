"""Sentinel refuses to run on a key anyone can read, and its production settings pass
Django's own deployment check (docs/security.md §8)."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import signing

from alerts import links
from alerts.models import Alert

ROOT = Path(__file__).resolve().parents[2]
# The key every copy of Sentinel used when SECRET_KEY was not set: it is in the repository.
OLD_PUBLIC_KEY = "sentinel-insecure-development-key-set-SECRET_KEY-in-production"
A_REAL_KEY = "q8Zr1u3B0yN4xW7cV6tS5pR2oM9lK8jH7gF6dD5sA4zX3cV2bN1m-0"
PRINT_SETTINGS = ("import django; django.setup(); from django.conf import settings as s; "
                  "print(s.SECRET_KEY); print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
                  "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
                  "s.SECURE_PROXY_SSL_HEADER)")


def clean_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "CELERY_", "SENTINEL_", "SECURE_")) and k not in (
               "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SECRET_KEY_FILE", "DEBUG", "PORT")}
    env.update(DJANGO_SETTINGS_MODULE="sentinel_project.settings", SENTINEL_VAR_DIR=str(tmp_path / "var"))
    env.update(extra)
    return env


def load_settings(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def deployment_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/sentinel")


@pytest.mark.parametrize("extra, said", [
    ({"DATABASE_URL": "postgresql://sentinel@db.internal/sentinel"}, "SECRET_KEY is not set"),
    ({"DATABASE_URL": "postgresql://sentinel@db.internal/sentinel", "SECRET_KEY": OLD_PUBLIC_KEY},
     "published with Sentinel's source"),
    ({"SECRET_KEY": OLD_PUBLIC_KEY}, "published with Sentinel's source"),
    ({"SECRET_KEY": OLD_PUBLIC_KEY, "DEBUG": "true"}, "published with Sentinel's source"),
    ({"SECRET_KEY": "compose-local-only-set-SECRET_KEY-for-real-deploys"}, "published with Sentinel's source"),
], ids=["deployment without a key", "deployment with the public key", "embedded with the public key",
        "debug with the public key", "compose's old default"])
def test_a_key_anyone_can_read_is_refused_at_start(tmp_path, extra, said):
    result = load_settings(clean_env(tmp_path, **extra))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and said in result.stderr
    assert OLD_PUBLIC_KEY not in result.stderr  # the refusal never repeats a key


def test_embedded_mode_makes_a_private_key_once_and_keeps_it(tmp_path):
    first = load_settings(clean_env(tmp_path))
    second = load_settings(clean_env(tmp_path))

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    key = first.stdout.splitlines()[0]
    assert key == second.stdout.splitlines()[0] and len(key) >= 50 and key != OLD_PUBLIC_KEY
    path = tmp_path / "var" / "secret_key"
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_processes_starting_together_share_one_key(tmp_path):
    env = clean_env(tmp_path)
    started = [subprocess.Popen([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    keys = {process.communicate(timeout=60)[0].splitlines()[0] for process in started}

    assert len(keys) == 1
    assert sorted(p.name for p in (tmp_path / "var").iterdir() if "secret" in p.name) == ["secret_key"]


@pytest.mark.django_db
def test_a_silence_link_signed_with_the_old_public_key_is_refused(client, make_alert, make_datasource, tmp_path):
    alert = make_alert(make_datasource(f"sqlite:///{tmp_path / 'x.sqlite3'}"), "SELECT 1 AS value", name="forged")
    forged = signing.Signer(key=OLD_PUBLIC_KEY, salt=links.SALT).sign_object(
        {"a": alert.pk, "h": 24, "v": "email", "e": int(time.time()) + 3600})

    response = client.post(f"/silence/{forged}/", {"who": "mallory"})

    assert response.status_code == 400 and "not valid" in response.content.decode()
    alert.refresh_from_db()
    assert alert.silenced_until is None
    assert Alert.objects.filter(silenced_until__isnull=False).count() == 0


def test_https_turns_on_secure_cookies_hsts_and_the_redirect(tmp_path):
    off = load_settings(clean_env(tmp_path, SECRET_KEY=A_REAL_KEY))
    on = load_settings(clean_env(tmp_path, SECRET_KEY=A_REAL_KEY, SENTINEL_HTTPS="true",
                                 SENTINEL_BEHIND_TLS_PROXY="true"))
    tuned = load_settings(clean_env(tmp_path, SECRET_KEY=A_REAL_KEY, SENTINEL_HTTPS="true",
                                    SECURE_HSTS_SECONDS="3600", SECURE_HSTS_PRELOAD="false"))

    assert off.stdout.splitlines()[1] == "False False False 0 False False None", off.stderr
    assert on.stdout.splitlines()[1] == "True True True 31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https')"
    assert tuned.stdout.splitlines()[1] == "True True True 3600 True False None"


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    env = clean_env(tmp_path, DATABASE_URL=deployment_url(), REDIS_URL="redis://127.0.0.1:6379/9",
                    SECRET_KEY=A_REAL_KEY, ALLOWED_HOSTS="sentinel.example.com",
                    CSRF_TRUSTED_ORIGINS="https://sentinel.example.com",
                    SENTINEL_BASE_URL="https://sentinel.example.com", SENTINEL_HTTPS="true",
                    SENTINEL_BEHIND_TLS_PROXY="true")

    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
