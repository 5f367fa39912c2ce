"""The alerts list and the alert form, through Django's test client."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertState, Execution, State
from schedules.models import Schedule
from tests.admin_helpers import add_executions, level_alert  # noqa: F401  (fixture)
from tests.factories import LEVEL_QUERY

pytestmark = pytest.mark.django_db

LIST = reverse("admin:alerts_alert_changelist")
ADD = reverse("admin:alerts_alert_add")


def form_data(source, **overrides):
    data = {
        "name": "orders-stuck", "description": "", "severity": "warning", "enabled": "on",
        "datasource": source.pk, "query": LEVEL_QUERY, "mode": "status", "value_column": "", "operator": ">",
        "threshold": "", "key_columns": "", "schedule_text": "*/5 * * * *", "schedule_timezone": "Europe/Berlin",
        "pending_evaluations": "1", "renotify_interval": "", "notify_on_recovery": "on", "on_no_data": "no_data",
        "on_error": "error", "grace": "", "silenced_until_0": "", "silenced_until_1": "", "silence_reason": "",
        "subject_template": "", "body_template": "", "retention_days": "",
        "instances-TOTAL_FORMS": "0", "instances-INITIAL_FORMS": "0",
        "instances-MIN_NUM_FORMS": "0", "instances-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_alerts_list_shows_state_since_last_run_next_run_value_and_sparkline(admin_client, level_alert):
    schedule = Schedule.objects.create(cron="*/5 * * * *", timezone="Europe/Berlin")
    add_executions(level_alert, [1, 3, 7, 9])
    Alert.objects.filter(pk=level_alert.pk).update(
        schedule=schedule, state=State.FIRING, state_since=timezone.now() - timedelta(hours=2),
        last_run_at=timezone.now(), last_status="ALERT", last_value=9,
    )

    page = admin_client.get(LIST).content.decode()

    assert 'class="sn-badge sn-firing"' in page and "for 2 h" in page
    assert 'class="sn-badge sn-alert"' in page  # the last run's status
    assert "CET" in page or "CEST" in page  # next run, in the schedule's timezone
    assert '<svg class="sn-spark"' in page and 'aria-label="last 4 values"' in page


def test_silenced_and_disabled_alerts_say_so_instead_of_their_state(admin_client, level_alert, make_alert):
    Alert.objects.filter(pk=level_alert.pk).update(silenced_until=timezone.now() + timedelta(hours=1),
                                                   silence_reason="deploy", state=State.FIRING)
    make_alert(level_alert.datasource, LEVEL_QUERY, name="paused", enabled=False)

    page = admin_client.get(LIST).content.decode()

    assert 'sn-badge sn-silenced' in page and "deploy" in page
    assert 'sn-badge sn-disabled' in page


@pytest.mark.parametrize("query, shown, hidden", [
    ("state=FIRING", "firing-one", "calm-one"),
    ("state=SILENCED", "calm-one", "firing-one"),
    ("silenced=no", "firing-one", "calm-one"),
    ("enabled__exact=0", "off-one", "firing-one"),
    ("severity__exact=critical", "firing-one", "calm-one"),
    ("q=orders_table", "calm-one", "firing-one"),
])
def test_alerts_list_filters_and_search(admin_client, level_alert, make_alert, query, shown, hidden):
    ds = level_alert.datasource
    make_alert(ds, LEVEL_QUERY, name="firing-one", state=State.FIRING, severity="critical")
    make_alert(ds, "SELECT count(*) FROM orders_table", name="calm-one",
               silenced_until=timezone.now() + timedelta(hours=1), silence_reason="x")
    make_alert(ds, LEVEL_QUERY, name="off-one", enabled=False)

    page = admin_client.get(f"{LIST}?{query}").content.decode()

    assert shown in page and hidden not in page


def test_per_entity_alert_shows_how_many_instances_fire(admin_client, level_alert):
    Alert.objects.filter(pk=level_alert.pk).update(key_columns="host", firing_instances=3, state=State.FIRING)

    assert "3 firing" in admin_client.get(LIST).content.decode()


def test_alerts_list_query_count_does_not_grow_with_rows(admin_client, level_alert, make_alert,
                                                         django_assert_max_num_queries):
    schedule = Schedule.objects.create(cron="0 * * * *", timezone="UTC")
    for i in range(3):
        add_executions(make_alert(level_alert.datasource, LEVEL_QUERY, schedule=schedule), [1, 2])
    with django_assert_max_num_queries(20) as few:
        admin_client.get(LIST)
    for i in range(30):
        add_executions(make_alert(level_alert.datasource, LEVEL_QUERY, schedule=schedule), [1, 2])
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(LIST)


def test_alert_form_creates_the_alert_and_its_schedule(admin_client, level_alert):
    response = admin_client.post(ADD, form_data(level_alert.datasource))

    assert response.status_code == 302, response.content.decode()[:3000]
    alert = Alert.objects.get(name="orders-stuck")
    assert (alert.schedule.cron, alert.schedule.timezone) == ("*/5 * * * *", "Europe/Berlin")


def test_two_alerts_with_the_same_timing_share_one_schedule(admin_client, level_alert):
    admin_client.post(ADD, form_data(level_alert.datasource))
    admin_client.post(ADD, form_data(level_alert.datasource, name="second"))

    assert Schedule.objects.filter(cron="*/5 * * * *", timezone="Europe/Berlin").count() == 1
    assert Alert.objects.filter(schedule__cron="*/5 * * * *").count() == 2


@pytest.mark.parametrize("overrides, field, words", [
    ({"schedule_text": "*/5 * * *"}, "schedule_text", "Cannot read schedule"),
    ({"schedule_text": "99 * * * *"}, "schedule_text", "Cannot read schedule"),
    ({"schedule_timezone": "Mars/Olympus"}, "schedule_timezone", "Unknown timezone"),
    ({"mode": "threshold", "threshold": ""}, "threshold", "Threshold mode needs a threshold"),
    ({"pending_evaluations": "0"}, "pending_evaluations", "at least 1"),
    ({"renotify_interval": "30s"}, "renotify_interval", "at least one minute"),
    ({"name": "has spaces"}, "name", "Use letters"),
    ({"silenced_until_0": "2099-01-01", "silenced_until_1": "10:00"}, "silence_reason", "Say why"),
])
def test_alert_form_shows_bad_settings_on_their_field(admin_client, level_alert, overrides, field, words):
    response = admin_client.post(ADD, form_data(level_alert.datasource, **overrides))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and words in " ".join(errors[field]), errors
    assert not Alert.objects.filter(name=overrides.get("name", "orders-stuck")).exists()


def test_edit_form_shows_the_current_schedule(admin_client, level_alert):
    level_alert.schedule = Schedule.objects.create(cron="0 9 * * *", timezone="America/New_York")
    level_alert.save()

    page = admin_client.get(reverse("admin:alerts_alert_change", args=[level_alert.pk])).content.decode()

    assert 'value="0 9 * * *"' in page and 'value="America/New_York"' in page
    assert "Next runs:" in page and ("EST" in page or "EDT" in page)


def test_test_query_shows_rows_and_outcome_and_changes_nothing(admin_client, level_alert):
    level_alert.set_knob("level", 9)
    url = reverse("admin:alerts_alert_test_query", args=[level_alert.pk])

    response = admin_client.post(url, form_data(level_alert.datasource, name=level_alert.name))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'sn-badge sn-alert' in page and "would be" in page and "firing" in page
    assert "<th>status</th>" in page and "<td>ALERT</td>" in page
    assert Execution.objects.count() == 0 and AlertState.objects.count() == 0
    level_alert.refresh_from_db()
    assert level_alert.state == State.OK and level_alert.last_run_at is None


def test_test_query_works_on_an_unsaved_form(admin_client, level_alert):
    query = "SELECT 42 AS value"
    response = admin_client.post(reverse("admin:alerts_alert_test_query_new"), form_data(
        level_alert.datasource, name="not-yet", query=query, mode="threshold", threshold="40"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "sn-badge sn-alert" in page and "42" in page
    assert not Alert.objects.filter(name="not-yet").exists()


def test_test_query_shows_the_database_error(admin_client, level_alert):
    response = admin_client.post(reverse("admin:alerts_alert_test_query_new"), form_data(
        level_alert.datasource, name="broken", query="SELECT nope FROM missing_table"))

    page = response.content.decode()
    assert "sn-badge sn-error" in page and "missing_table" in page


def test_test_query_without_a_datasource_says_what_is_missing(admin_client, level_alert):
    response = admin_client.post(reverse("admin:alerts_alert_test_query_new"),
                                 form_data(level_alert.datasource, datasource=""))

    assert response.status_code == 400
    assert "cannot run yet" in response.content.decode() and "datasource" in response.content.decode()


def test_alert_page_shows_history_table_and_chart(admin_client, level_alert):
    add_executions(level_alert, [1, 4, 8, 2])

    page = admin_client.get(reverse("admin:alerts_alert_change", args=[level_alert.pk])).content.decode()

    assert 'id="sn-history"' in page and '<svg class="sn-chart"' in page
    assert page.count("sn-badge sn-ok") >= 4
    assert f"?alert={level_alert.pk}" in page


def test_alert_from_a_file_warns_that_apply_overwrites_edits(admin_client, level_alert):
    Alert.objects.filter(pk=level_alert.pk).update(source_file="alerts/orders.yaml")

    page = admin_client.get(reverse("admin:alerts_alert_change", args=[level_alert.pk])).content.decode()

    assert "From file <code>alerts/orders.yaml</code>" in page and "overwrites" in page
    assert 'title="from file alerts/orders.yaml"' in admin_client.get(LIST).content.decode()


@pytest.mark.parametrize("typed, cron, interval", [
    ("daily at 09:00", "0 9 * * *", None),
    ("@hourly", "0 * * * *", None),
    ("every 90 seconds", "", 90),
])
def test_alert_form_reads_presets_and_intervals(admin_client, level_alert, typed, cron, interval):
    admin_client.post(ADD, form_data(level_alert.datasource, schedule_text=typed))

    schedule = Alert.objects.get(name="orders-stuck").schedule
    assert (schedule.cron, schedule.interval_seconds) == (cron, interval)


def test_an_interval_schedule_reads_back_as_the_same_interval(admin_client, level_alert):
    admin_client.post(ADD, form_data(level_alert.datasource, schedule_text="every 90 seconds"))
    alert = Alert.objects.get(name="orders-stuck")
    url = reverse("admin:alerts_alert_change", args=[alert.pk])

    assert 'value="every 90 seconds"' in admin_client.get(url).content.decode()
