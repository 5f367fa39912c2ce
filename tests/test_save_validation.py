"""An alert that can never run, or a datasource that can never connect, cannot be saved: the admin,
the API and a config file refuse the same inputs with the same message. A query that only reads
a table the datasource lacks is still saved (that is only known by asking the datasource)."""

import textwrap

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts import runner
from alerts.models import Alert, Datasource, ExecutionStatus, Trigger
from alerts.validation import check_datasource_url, check_query
from tests.api_helpers import admin_token, api  # noqa: F401  (fixtures)
from tests.factories import sentinel
from tests.test_admin_alerts import form_data

pytestmark = pytest.mark.django_db

NEVER_RUN = {
    "a write": ("DELETE FROM orders", "The query starts with DELETE and was refused"),
    "two statements": ("SELECT 1 AS value; SELECT 2 AS value", "The query holds 2 statements"),
    "a refused function": ("SELECT pg_terminate_backend(42) AS value", "The query calls pg_terminate_backend()"),
}
NEVER_CONNECT = {
    "not a URL": ("not a url at all", "Not a database URL"),
    "an unknown driver": ("foo://x", "Unknown database kind 'foo'"),
    "a driver not installed": ("postgresql+asyncpg://reader@db.internal/app",
                               "The driver of 'postgresql+asyncpg' is not installed"),
}


@pytest.fixture
def source(sqlite_db, make_datasource):
    return make_datasource(sqlite_db[0], name="default")


def admin_says(admin_client, source, query) -> list[str]:
    response = admin_client.post(reverse("admin:alerts_alert_add"), form_data(source, query=query))
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors["query"]


def api_says(api, query) -> list[str]:  # noqa: F811
    response = api.post("/api/alerts", {"name": "never", "query": query, "schedule": "@hourly"}, format="json")
    assert response.status_code == 400, response.json()
    return response.json()["query"]


def file_says(tmp_path, query) -> list[str]:
    path = tmp_path / "alerts.yaml"
    path.write_text(textwrap.dedent(f"""\
        database:
          url: sqlite://
        alerts:
          - name: never
            query: "{query}"
            schedule: "@hourly"
        """))
    code, out = sentinel("validate", str(path))
    assert code == 1
    return out.splitlines()[:-1]


@pytest.mark.parametrize("query, refusal", NEVER_RUN.values(), ids=NEVER_RUN.keys())
def test_a_query_that_can_never_run_is_refused_by_the_admin_the_api_and_a_file(admin_client, api, source,
                                                                                tmp_path, query, refusal):
    [message] = check_query(query)
    assert message.startswith(refusal)

    assert admin_says(admin_client, source, query) == [message]
    assert api_says(api, query) == [message]
    assert file_says(tmp_path, query) == [f"{tmp_path / 'alerts.yaml'}:5: alerts[0] (never).query: {message}"]
    assert not Alert.objects.filter(name__in=["never", "orders-stuck"]).exists()


def test_a_reading_query_on_a_missing_table_is_saved_everywhere(admin_client, api, source, tmp_path):
    query = "SELECT count(*) AS value FROM table_made_tomorrow"

    response = admin_client.post(reverse("admin:alerts_alert_add"), form_data(source, query=query))
    assert response.status_code == 302
    response = api.post("/api/alerts", {"name": "tomorrow", "query": query, "schedule": "@hourly"}, format="json")
    assert response.status_code == 201, response.json()
    path = tmp_path / "alerts.yaml"
    path.write_text(f"database:\n  url: sqlite://\nalerts:\n  - name: later\n    query: {query}\n"
                    "    schedule: '@hourly'\n")
    code, out = sentinel("validate", str(path))
    assert code == 0, out

    assert set(Alert.objects.values_list("name", flat=True)) == {"orders-stuck", "tomorrow"}


def test_a_writing_alert_saved_behind_the_checks_back_is_still_refused_at_run_time(source, make_alert):
    alert = make_alert(source, "DELETE FROM knobs")  # a factory skips the save-time checks, as old rows do

    execution = runner.run(alert, timezone.now(), Trigger.MANUAL)

    assert execution.status == ExecutionStatus.ERROR and "DELETE and was refused" in execution.error


def datasource_form(url, **overrides):
    return {"name": "warehouse", "url": url, "timeout_seconds": "30", "row_limit": "1000", "enabled": "on",
            **overrides}


@pytest.mark.parametrize("url, refusal", NEVER_CONNECT.values(), ids=NEVER_CONNECT.keys())
def test_a_datasource_url_that_can_never_connect_is_refused_by_the_admin_and_a_file(admin_client, tmp_path,
                                                                                     url, refusal):
    [message] = check_datasource_url(url)
    assert message.startswith(refusal)

    response = admin_client.post(reverse("admin:alerts_datasource_add"), datasource_form(url))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == [message]

    path = tmp_path / "sources.yaml"
    path.write_text(f"datasources:\n  - name: warehouse\n    url: \"{url}\"\n")
    code, out = sentinel("validate", str(path))
    assert code == 1
    assert out.splitlines()[0] == f"{path}:3: datasources[0] (warehouse).url: {message}"
    assert not Datasource.objects.filter(name="warehouse").exists()


def test_a_url_without_a_driver_gets_the_shipped_one_and_saves(admin_client):
    # SQLAlchemy 2.1 would pick psycopg 3 for postgresql://, which Sentinel does not ship; the runner
    # connects with psycopg2, and so the check accepts it.
    response = admin_client.post(reverse("admin:alerts_datasource_add"),
                                 datasource_form("postgresql://reader:${SENTINEL_TEST_PW:-x}@db.internal/app"))

    assert response.status_code == 302
    assert Datasource.objects.get(name="warehouse").url == "postgresql://reader:${SENTINEL_TEST_PW:-x}@db.internal/app"


def test_an_unset_variable_in_the_url_is_refused_with_the_files_message(admin_client, monkeypatch):
    monkeypatch.delenv("SENTINEL_TEST_UNSET_PW", raising=False)

    response = admin_client.post(reverse("admin:alerts_datasource_add"),
                                 datasource_form("postgresql://reader:${SENTINEL_TEST_UNSET_PW}@db/app"))

    assert response.context["adminform"].form.errors["url"] == [
        "Environment variable SENTINEL_TEST_UNSET_PW is not set (set it, or write ${SENTINEL_TEST_UNSET_PW:-default})."]


def test_a_refused_url_message_never_repeats_the_password(admin_client):
    response = admin_client.post(reverse("admin:alerts_datasource_add"),
                                 datasource_form("foo://reader:hunter2secret@db.internal/app"))

    assert response.status_code == 200
    assert "hunter2secret" not in str(response.context["adminform"].form.errors)


def test_saving_a_datasource_with_its_masked_password_keeps_the_stored_one_and_passes(admin_client,
                                                                                      make_datasource):
    ds = make_datasource("postgresql://reader:hunter2secret@db.internal/app", name="app")

    response = admin_client.post(reverse("admin:alerts_datasource_change", args=[ds.pk]),
                                 datasource_form("postgresql://reader:***@db.internal/app", name="app",
                                                 timeout_seconds="12"))

    assert response.status_code == 302
    ds.refresh_from_db()
    assert ds.url == "postgresql://reader:hunter2secret@db.internal/app" and ds.timeout_seconds == 12
