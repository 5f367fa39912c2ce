"""Templates: per-event defaults, per-kind files that win, numbers people can read."""

import pytest

from alerts.delivery import message_for
from alerts.notifiers.rendering import comparison, number, render
from tests.notify_peers import make_notification  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value, shown", [
    (8200, "8,200"), (8200.0, "8,200"), ("8200.50", "8,200.50"), (0.12345, "0.1235"),
    (1234567.891, "1,234,567.89"), (None, ""), ("n/a", "n/a"), (-3, "-3"),
])
def test_numbers_read_like_numbers(value, shown):
    assert number(value) == shown


def test_comparison_states_how_the_value_stood():
    assert comparison(8200, 10000) == "8,200 < 10,000"
    assert comparison(12, 10) == "12 > 10"
    assert comparison(5, 5) == "5 = 5"
    assert comparison("late", 5) == "late (threshold 5)"
    assert comparison(7, None) == "7"


@pytest.mark.parametrize("event, first_line", [
    ("firing", "daily_revenue_check is FIRING: 8,200 < 10,000."),
    ("repeat", "daily_revenue_check is still FIRING: 8,200 < 10,000."),
    ("resolved", "daily_revenue_check is RESOLVED: back to normal (8,200 < 10,000)."),
    ("error", "daily_revenue_check could not be checked: the query failed."),
    ("no_data", "daily_revenue_check has NO DATA: the query returned no rows."),
])
def test_each_event_has_its_own_default_text(make_notification, event, first_line):
    notification = make_notification("email", {"recipients": ["a@example.com"]}, event=event)
    assert render(message_for(notification), "email").text.splitlines()[0] == first_line


def test_a_template_file_for_one_kind_and_event_wins(make_notification, settings, tmp_path):
    (tmp_path / "alerts" / "notify" / "msteams").mkdir(parents=True)
    (tmp_path / "alerts" / "notify" / "msteams" / "firing.txt").write_text("Teams says {{ alert.name }} broke")
    (tmp_path / "alerts" / "notify" / "subject.txt").write_text("ALARM {{ alert.name }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    notification = make_notification("msteams", {"webhook_url": "http://127.0.0.1:9/x"})

    teams = render(message_for(notification), "msteams")
    email = render(message_for(notification), "email")

    assert teams.text == "Teams says daily_revenue_check broke\n" and teams.subject == "ALARM daily_revenue_check"
    assert email.text.startswith("daily_revenue_check is FIRING")


def test_a_broken_alert_template_fails_the_notification_at_once(make_notification):
    from alerts import delivery

    notification = make_notification("email", {"recipients": ["a@example.com"]}, subject_template="{% if %}")
    outcome = delivery.deliver(notification.pk)
    assert outcome.status == "failed" and "subject template is not a valid template" in outcome.error
