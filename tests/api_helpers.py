"""Fixtures for the API tests: a user with a token, a client that sends it, a stored alert."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import LEVEL_QUERY


@pytest.fixture
def admin_token(db):
    user = User.objects.create_superuser("api-admin", "admin@example.com", "pw")
    return Token.objects.create(user=user).key


@pytest.fixture
def api(admin_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {admin_token}")
    return client


@pytest.fixture
def reader_api(db):
    """A user who may read but not change: a member of "Sentinel viewers" (view_ permissions only)."""
    user = User.objects.create_user("viewer", password="pw")
    user.groups.add(Group.objects.get(name="Sentinel viewers"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def editor_api(db):
    user = User.objects.create_user("editor", password="pw")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_alert", "change_alert"]))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def token_client(user) -> APIClient:
    """An API client that sends a token of `user` (None: no credentials at all)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def level(sqlite_db, make_datasource, make_alert, log_channel):
    """A stored alert `level_high` on datasource `default`, firing while knob level > 5."""
    url, set_knob = sqlite_db
    ds = make_datasource(url, name="default")
    return make_alert(ds, LEVEL_QUERY, name="level_high", channels=[log_channel]), set_knob
