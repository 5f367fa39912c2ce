"""`sentinel demo`: a sample datasource, a few alerts that fire, a log channel, a login.

Idempotent: run it as often as you like (`make run` does, every time)."""

import secrets
import sqlite3

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from alerts.models import Alert, Channel, Datasource, EvaluationMode
from schedules.models import Schedule

name = "demo"
help = "Load the demo datasource, alerts and admin login (idempotent)."

DEMO_SQL = settings.BASE_DIR / "demo" / "shop.sql"

DEMO_ALERTS = [
    {
        "name": "demo_flapping_minute",
        "description": "Fires on even minutes and resolves on odd ones: watch one firing and one resolved "
        "notification per change, never one per run.",
        "query": "SELECT CASE WHEN CAST(strftime('%M', 'now') AS INTEGER) % 2 = 0 THEN 'ALERT' ELSE 'OK' END "
        "AS status, CAST(strftime('%M', 'now') AS INTEGER) AS actual_value",
        "mode": EvaluationMode.STATUS,
    },
    {
        "name": "demo_pending_orders",
        "description": "Orders stuck in 'pending' for more than an hour should not exist.",
        "query": "SELECT id, created_at, amount FROM orders "
        "WHERE status = 'pending' AND created_at < datetime('now', '-1 hour')",
        "mode": EvaluationMode.ROWS,
    },
    {
        "name": "demo_low_stock",
        "description": "Each warehouse/sku with fewer than 10 units is its own firing instance.",
        "query": "SELECT warehouse || '/' || sku AS key, units FROM stock",
        "mode": EvaluationMode.THRESHOLD,
        "value_column": "units",
        "operator": "<",
        "threshold": 10,
    },
]


def add_arguments(parser):
    parser.add_argument("--username", default="admin")


def demo_database():
    # Under var/datasources/, the directory SQLite datasources may use by default; never beside
    # Sentinel's own database (docs/security.md §1).
    path = settings.VAR_DIR / "datasources" / "demo-shop.sqlite3"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(tmp) as conn:
            conn.executescript(DEMO_SQL.read_text())
        tmp.rename(path)
    return path


def demo_password() -> str:
    path = settings.VAR_DIR / "demo-admin-password.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def handle(options, out) -> int:
    path = demo_database()
    with transaction.atomic():
        datasource, _ = Datasource.objects.update_or_create(name="demo_shop", defaults={"url": f"sqlite:///{path}"})
        channel, _ = Channel.objects.get_or_create(name="demo_log", defaults={"kind": "log"})
        every_minute = Schedule.objects.for_timing(cron="* * * * *", timezone="UTC")
        for spec in DEMO_ALERTS:
            alert, _ = Alert.objects.update_or_create(
                name=spec["name"], defaults={**spec, "datasource": datasource, "schedule": every_minute}
            )
            alert.channels.add(channel)
    username, password = options["username"], demo_password()
    User = get_user_model()
    user = User.objects.filter(username=username).first() or User(username=username)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    out.write(f"Demo loaded: datasource demo_shop ({path}), {len(DEMO_ALERTS)} alerts every minute, channel demo_log.")
    out.write(f"Admin login: {username} / {password}")
    return 0
