"""Who may do what in the admin (groups, viewers, editors, staff only), and every change in its log.
The pages themselves: tests/test_admin_<module>.py, after alerts/admin/<module>.py."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from alerts.models import Execution
from tests.admin_helpers import level_alert, said, staff_client  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_migration_creates_viewer_and_editor_groups():
    viewers = set(Group.objects.get(name="Sentinel viewers").permissions.values_list("codename", flat=True))
    editors = set(Group.objects.get(name="Sentinel editors").permissions.values_list("codename", flat=True))

    assert "view_alert" in viewers and "view_execution" in viewers
    assert not any(c.startswith(("add_", "change_", "delete_")) for c in viewers)
    assert {"add_alert", "change_alert", "view_datasource", "change_channel", "change_schedule"} <= editors
    assert "change_execution" not in editors
    assert "change_datasource" not in editors  # a datasource manager's (docs/security.md §3)


def test_viewer_sees_pages_but_cannot_act(staff_client, level_alert):
    client = staff_client("Sentinel viewers")
    page = client.get(reverse("admin:alerts_alert_change", args=[level_alert.pk]))

    assert page.status_code == 200 and "sn-run-now" not in page.content.decode()
    for action in ("run", "enable", "disable", "silence", "unsilence", "test_query"):
        assert client.post(reverse(f"admin:alerts_alert_{action}", args=[level_alert.pk]),
                           {"duration": "1h", "reason": "x"}).status_code == 403
    assert client.post(reverse("admin:alerts_datasource_test", args=[level_alert.datasource_id])).status_code == 403
    assert Execution.objects.count() == 0


def test_editor_can_act(staff_client, level_alert):
    client = staff_client("Sentinel editors")

    response = client.post(reverse("admin:alerts_alert_silence", args=[level_alert.pk]),
                           {"duration": "4h", "reason": "deploy"})

    assert response.status_code == 302 and "silenced until" in said(response)[0]


def test_admin_is_staff_only(client, django_user_model, level_alert):
    user = django_user_model.objects.create_user("outsider", password="pw")
    client.force_login(user)

    response = client.get(reverse("admin:alerts_alert_changelist"))

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_every_form_change_is_in_the_admin_log(admin_client, level_alert):
    from django.contrib.admin.models import LogEntry

    url = reverse("admin:alerts_datasource_change", args=[level_alert.datasource_id])
    admin_client.post(url, {"name": "renamed", "url": level_alert.datasource.url, "timeout_seconds": "30",
                            "row_limit": "1000", "enabled": "on"})

    assert LogEntry.objects.filter(object_id=str(level_alert.datasource_id)).exists()
