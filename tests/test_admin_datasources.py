"""The Datasource admin (alerts/admin/datasources.py): Test connection on its form before
saving, on the add page and on the change page with unsaved edits. It tries the URL and
timeout as typed, saves nothing, never shows a password, and is allowed to those who may
add (or change) datasources."""

import pytest
from django.urls import reverse

from alerts.models import Datasource
from tests.admin_helpers import staff_client  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

NEW = reverse("admin:alerts_datasource_test_new")


def form(url, **overrides):
    return {"name": "warehouse", "url": url, "timeout_seconds": "5", "row_limit": "1000", "enabled": "on",
            **overrides}


def test_the_add_page_has_the_button(admin_client):
    page = admin_client.get(reverse("admin:alerts_datasource_add")).content.decode()

    assert 'id="sn-test-unsaved-connection"' in page and f'data-url="{NEW}"' in page


def test_a_new_datasource_connects_before_it_is_saved(admin_client, sqlite_db):
    response = admin_client.post(NEW, form(sqlite_db[0]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-ok="1"' in page and "Connected to warehouse: SELECT 1 answered in" in page
    assert not Datasource.objects.exists()


def test_a_tested_draft_leaves_no_connection_pool_behind(admin_client, sqlite_db):
    """Typed-in credentials must not stay pooled in the web process, nor be shared between two people."""
    from alerts import querying

    before = set(querying._engines)
    admin_client.post(NEW, form(sqlite_db[0]))
    admin_client.post(NEW, form(sqlite_db[0], name="another"))

    assert set(querying._engines) == before


def test_a_failure_says_why_without_the_password(admin_client):
    response = admin_client.post(NEW, form("postgresql://reader:hunter2secret@127.0.0.1:1/nowhere"))

    page = response.content.decode()
    assert 'data-ok="0"' in page and "Could not reach warehouse:" in page and "Connection refused" in page
    assert "hunter2secret" not in page


def test_a_url_that_cannot_connect_at_all_says_so_before_trying(admin_client):
    response = admin_client.post(NEW, form("not a url at all"))

    assert response.status_code == 400
    assert "cannot run yet" in response.content.decode() and "Not a database URL" in response.content.decode()


def test_unsaved_edits_on_the_change_page_are_tested_and_not_saved(admin_client, sqlite_db, make_datasource):
    ds = make_datasource("postgresql://reader:hunter2secret@127.0.0.1:1/nowhere", name="app")
    url = reverse("admin:alerts_datasource_test_unsaved", args=[ds.pk])
    page = admin_client.get(reverse("admin:alerts_datasource_change", args=[ds.pk])).content.decode()
    assert f'data-url="{url}"' in page

    response = admin_client.post(url, form(sqlite_db[0], name="app"))

    assert "Connected to app" in response.content.decode()
    ds.refresh_from_db()
    assert ds.url == "postgresql://reader:hunter2secret@127.0.0.1:1/nowhere"


def test_the_masked_password_on_the_change_page_means_the_stored_one(admin_client, make_datasource):
    ds = make_datasource("postgresql://reader:hunter2secret@127.0.0.1:1/nowhere", name="app")

    response = admin_client.post(reverse("admin:alerts_datasource_test_unsaved", args=[ds.pk]),
                                 form("postgresql://reader:***@127.0.0.1:1/nowhere", name="app"))

    page = response.content.decode()
    assert "Could not reach app" in page and "hunter2secret" not in page


def test_viewers_and_editors_may_not_test_and_datasource_managers_may(staff_client, sqlite_db,  # noqa: F811
                                                                      make_datasource):
    ds = make_datasource(sqlite_db[0], name="app")
    unsaved = reverse("admin:alerts_datasource_test_unsaved", args=[ds.pk])

    viewer = staff_client("Sentinel viewers")
    page = viewer.get(reverse("admin:alerts_datasource_change", args=[ds.pk])).content.decode()
    assert "sn-test-unsaved-connection" not in page
    assert viewer.post(NEW, form(sqlite_db[0])).status_code == 403
    assert viewer.post(unsaved, form(sqlite_db[0], name="app")).status_code == 403
    viewer.logout()

    editor = staff_client("Sentinel editors")  # a datasource URL is a credential: not theirs
    assert editor.post(unsaved, form(sqlite_db[0], name="app")).status_code == 403
    assert editor.post(NEW, form(sqlite_db[0])).status_code == 403
    editor.logout()

    manager = staff_client("Sentinel datasource managers")  # add and change permission on datasources
    assert manager.post(unsaved, form(sqlite_db[0], name="app")).status_code == 200
    assert manager.post(NEW, form(sqlite_db[0])).status_code == 200
