"""The run history's pages (alerts/admin/executions.py): executions and the notifications
they caused, their filters, and lists that never count the whole table."""

import pytest
from django.urls import reverse

from alerts.admin.display import CappedCountPaginator
from alerts.models import Alert, Execution, Notification
from tests.admin_helpers import add_executions, level_alert  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ran(admin_client, level_alert, django_capture_on_commit_callbacks):
    """The level alert run once while firing: one execution, one sent notification."""
    level_alert.set_knob("level", 9)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:alerts_alert_run", args=[level_alert.pk]))
    return Execution.objects.get(alert=level_alert)


def test_executions_list_shows_status_value_and_state_change(admin_client, ran):
    page = admin_client.get(reverse("admin:alerts_execution_changelist")).content.decode()

    assert "disk-full" in page and "sn-badge sn-alert" in page and "9 / 5" in page
    assert "OK → <b>FIRING</b>" in page


@pytest.mark.parametrize("query, found", [
    ("status__exact=ALERT", True), ("status__exact=OK", False), ("trigger__exact=manual", True),
    ("alert=disk-full", True), ("alert=other", False), ("when=1h", True),
])
def test_executions_list_filters(admin_client, ran, query, found):
    page = admin_client.get(reverse("admin:alerts_execution_changelist") + "?" + query).content.decode()

    assert ("9 / 5" in page) is found


def test_execution_page_shows_rows_timings_and_the_notification_it_caused(admin_client, ran):
    page = admin_client.get(reverse("admin:alerts_execution_change", args=[ran.pk])).content.decode()

    assert "<th>status</th>" in page and "<td>ALERT</td>" in page
    assert "Timings" in page and "Lag" in page
    assert "Notifications this execution caused" in page and "firing" in page
    assert 'name="_save"' not in page  # history is read-only


def test_execution_page_shows_the_error(admin_client, level_alert):
    Alert.objects.filter(pk=level_alert.pk).update(query="SELECT * FROM nowhere")
    admin_client.post(reverse("admin:alerts_alert_run", args=[level_alert.pk]))
    execution = Execution.objects.get()

    page = admin_client.get(reverse("admin:alerts_execution_change", args=[execution.pk])).content.decode()

    assert 'class="sn-error-block"' in page and "nowhere" in page


def test_notifications_list_and_page_show_every_attempt(admin_client, ran):
    notification = Notification.objects.get()

    listing = admin_client.get(reverse("admin:alerts_notification_changelist")).content.decode()
    page = admin_client.get(reverse("admin:alerts_notification_change", args=[notification.pk])).content.decode()

    assert "disk-full" in listing and "sn-badge sn-sent" in listing
    assert "Delivery attempts" in page and f"execution {ran.pk}" in page


def test_long_lists_count_at_most_the_cap(admin_client, level_alert, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    add_executions(level_alert, [1, 2, 3, 4, 5])

    page = admin_client.get(reverse("admin:alerts_execution_changelist")).content.decode()

    assert "more than 3" in page
