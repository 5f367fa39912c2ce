"""Fixtures for the admin tests: a staff user in each Sentinel group, an alert on
a SQLite datasource, and a helper to read the messages a response carries."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.utils import timezone

from alerts.models import Execution, ExecutionStatus, Trigger
from tests.factories import LEVEL_QUERY


# The roles of docs/security.md ("Who is who") by the short names the tests use.
ROLES = ("anonymous", "token-only", "viewer", "editor", "ds-manager", "superuser")
ROLE_GROUPS = {"viewer": "Sentinel viewers", "editor": "Sentinel editors",
               "ds-manager": "Sentinel datasource managers"}


@pytest.fixture
def role_user(db):
    """A user of a role: role_user('viewer'); 'token-only' is a user who is not staff and has no
    permission (what an API token of such a user carries); 'anonymous' is None."""

    def make(role):
        if role == "anonymous":
            return None
        if role == "superuser":
            return User.objects.create_superuser(f"role-{role}", f"{role}@example.com", "pw")
        user = User.objects.create_user(f"role-{role}", password="pw", is_staff=role in ROLE_GROUPS)
        if role in ROLE_GROUPS:
            user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
        return user

    return make


@pytest.fixture
def staff_client(client, db):
    """Log in a staff user of a group: staff_client('Sentinel viewers')."""

    def login(group_name):
        user = User.objects.create_user(f"user-{group_name.split()[-1]}", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        client.force_login(user)
        return client

    return login


@pytest.fixture
def level_alert(sqlite_db, make_datasource, make_alert, log_channel):
    """A status-mode alert on the knobs table: ALERT while `level` > 5 (set_knob steers it)."""
    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="disk-full", channels=[log_channel])
    alert.set_knob = set_knob
    return alert


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def add_executions(alert, values, status=ExecutionStatus.OK, threshold=5):
    """Finished executions a minute apart, oldest first, ending now."""
    now = timezone.now()
    rows = [
        Execution(alert=alert, scheduled_for=now - timedelta(minutes=len(values) - i), trigger=Trigger.SCHEDULE,
                  status=status, started_at=now - timedelta(minutes=len(values) - i, seconds=-1),
                  finished_at=now - timedelta(minutes=len(values) - i, seconds=-2), duration_ms=12.5,
                  actual_value=v, threshold=threshold)
        for i, v in enumerate(values)
    ]
    return Execution.objects.bulk_create(rows)
