"""docs/security.md §6: what a query returns and what a template renders is bounded in rows,
columns and bytes, wherever it is stored or sent."""

import json
import time
import tracemalloc

import pytest
from django.test import override_settings
from django.utils import timezone

from alerts.admin.forms import AlertForm, DatasourceForm
from alerts.config.schema import Problems, check_alert, check_datasource
from alerts.models import Alert, Execution, Notification, Trigger
from alerts.notifiers.base import Message
from alerts.notifiers.msteams import MSTeams
from alerts.notifiers.rendering import render
from alerts.notifiers.slack import Slack
from alerts.notifiers.webhook import Webhook
from alerts.querying import QueryError, dispose_engines, run_query
from alerts.runner import run_many
from tests.test_querying import MARIADB_URL, source

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
HUGE_WIDTH = '{{ alert_name|ljust:"300000000" }}'


def size(value) -> int:
    return len(json.dumps(value))


@pytest.mark.needs_postgres
def test_a_20mb_array_cell_is_cut_in_the_history_and_the_payload(make_datasource, make_alert, log_channel):
    big = "array_fill(repeat('x', 1000), ARRAY[20000])"  # 20,000 texts of 1,000 characters: 20 MB
    alert = make_alert(make_datasource(PG_URL), f"SELECT 'ALERT' AS status, {big} AS actual_value, {big} AS detail",
                       channels=[log_channel])

    run_many([alert], timezone.now().replace(microsecond=0), Trigger.SCHEDULE)

    execution = Execution.objects.get(alert=alert)
    alert.refresh_from_db()
    notification = Notification.objects.get(alert=alert)
    assert execution.status == "ALERT"
    for stored in (execution.preview, execution.context, execution.actual_value, alert.last_value):
        assert size(stored) < 20_000
    assert "characters of JSON" in execution.context["detail"]
    assert size(notification.payload) < 64 * 1024


@pytest.mark.django_db
def test_a_row_limit_above_the_maximum_is_refused_by_the_admin_and_files():
    form = DatasourceForm(data={"name": "big", "url": "sqlite:///:memory:", "timeout_seconds": "5",
                                "row_limit": "2147483647", "enabled": "on"})
    assert not form.is_valid()
    assert "at most 100,000" in " ".join(form.errors["row_limit"])

    problems = Problems()
    check_datasource({"name": "big", "url": "sqlite:///:memory:", "row_limit": 2147483647}, ("datasources", 0),
                     problems)
    assert [(p, m) for p, m in problems.items if p[-1] == "row_limit" and "at most 100,000" in m]


@override_settings(SENTINEL_ROW_LIMIT_MAX=50)
def test_a_stored_row_limit_above_the_maximum_fetches_the_maximum(sqlite_db):
    url, _ = sqlite_db
    query = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) SELECT i FROM n"
    result = run_query(source(url, row_limit=2147483647), query)
    assert len(result.rows) == 50 and result.truncated


def test_a_result_with_too_many_columns_is_an_error_that_says_so(sqlite_db):
    url, _ = sqlite_db
    columns = ", ".join(f"{i} AS c{i}" for i in range(201))
    with pytest.raises(QueryError, match="201 columns.*at most 200"):
        run_query(source(url), f"SELECT {columns}")


@pytest.mark.needs_mariadb
def test_a_million_mariadb_rows_with_row_limit_1000_cost_little_memory():
    dispose_engines()
    ds = source(MARIADB_URL, row_limit=1000, timeout=30)
    run_query(ds, "SELECT 1")  # connect first: the pool and the dialect are not the query's cost
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = run_query(ds, "SELECT seq, 'a row of some width' AS label FROM seq_1_to_1000000")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.rows) == 1000 and result.truncated
    assert peak < 20 * 1024 * 1024, f"fetching 1,000 of a million rows took {peak / 1e6:.0f} MB"
    assert time.monotonic() - started < 20


def big_message(**kwargs) -> Message:
    payload = {
        "version": 1, "event": "firing", "alert": {"id": 1, "name": "big", "severity": "warning",
                                                    "description": "d" * 100_000},
        "instance_key": "", "state": "FIRING", "value": 1, "threshold": 0,
        "context": {f"c{i}": "v" * 500 for i in range(200)}, "error": "",
        "execution": {"id": 1, "status": "ALERT", "scheduled_for": "2026-01-01T00:00:00+00:00",
                      "started_at": "2026-01-01T00:00:00+00:00", "columns": [f"c{i}" for i in range(200)],
                      "rows": [["v" * 500] * 200] * 5},
        "times": {"event_at": "2026-01-01T00:00:00+00:00", "state_since": None},
        "links": {"alert": "http://sentinel.example/admin/alerts/alert/1/change/"},
    }
    return Message(1, payload, **kwargs)


@override_settings(SENTINEL_PAYLOAD_MAX_BYTES=64 * 1024)
def test_payloads_are_capped_per_channel_and_keep_their_fields():
    message = big_message()
    limits = {Webhook: 64 * 1024, Slack: 32 * 1024, MSTeams: 24 * 1024}
    for kind, limit in limits.items():
        fitted = kind({}).fit(message)
        assert size(fitted.payload) <= limit, kind.kind
        assert set(fitted.payload) == set(message.payload)
        assert fitted.payload["links"] == message.payload["links"]


@pytest.mark.django_db
def test_a_template_with_a_huge_width_is_refused_at_save_by_the_admin_api_and_files(sqlite_db, make_datasource):
    ds = make_datasource(sqlite_db[0], name="default")
    form = AlertForm(data={"name": "wide", "datasource": ds.pk, "query": "SELECT 'OK' AS status",
                           "body_template": HUGE_WIDTH, "subject_template": "{% include 'x.html' %}"})
    assert not form.is_valid()
    assert "300,000,000" in " ".join(form.errors["body_template"])
    assert "include" in " ".join(form.errors["subject_template"])

    problems = Problems()  # the API's alert serializer and the file loader share this check
    check_alert({"name": "wide", "query": "SELECT 'OK' AS status", "schedule": None, "body_template": HUGE_WIDTH},
                ("alerts", 0), problems)
    assert [m for p, m in problems.items if p[-1] == "body_template" and "at most 200" in m]


def test_a_stored_template_with_a_huge_width_renders_bounded():
    # Written before the check (by hand, an old version): the render is bounded all the same.
    inner = '{% for b in "' + "y" * 300 + '" %}{{ alert_name }}{% endfor %}'
    loops = '{% for a in "' + "x" * 300 + '" %}' + inner + '{% endfor %}'
    template = '{{ alert_name|ljust:"30000000" }}' + loops
    started = time.monotonic()
    rendered = render(big_message(body_template=template, subject_template='{{ alert_name|center:"9999999" }}'),
                      "webhook")
    assert len(rendered.text) < 25_000 and len(rendered.subject) <= 250
    assert time.monotonic() - started < 5


def test_a_template_may_still_use_the_allowed_language(db):
    form_problems = AlertForm(data={"body_template": "{alert_name} {% if value > 0 %}{{ value|floatformat:2 }}"
                                                     "{% endif %} {{ table|truncatechars:20|ljust:30 }}"})
    form_problems.is_valid()
    assert "body_template" not in form_problems.errors
    assert Alert._meta.get_field("body_template")  # the field itself is unchanged
