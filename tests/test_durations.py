"""One duration syntax everywhere: `1h`, `90m`, `1h30m` read the same in the admin,
a file, the CLI and the API, and stored values show back in that syntax."""

from datetime import timedelta

import pytest
from django.urls import reverse

from alerts.cli.common import UsageError
from alerts.cli.silence import parse_duration as cli_duration
from alerts.config.values import Invalid
from alerts.config.values import duration as file_duration
from alerts.durations import DurationError, format_duration, parse_duration
from alerts.models import Alert
from tests.admin_helpers import level_alert  # noqa: F401  (fixture)
from tests.api_helpers import admin_token, api, level  # noqa: F401  (fixtures)
from tests.test_admin_alerts import form_data

pytestmark = pytest.mark.django_db

TYPED = [("1h", timedelta(hours=1)), ("90m", timedelta(minutes=90)), ("1h30m", timedelta(minutes=90)),
         ("2d", timedelta(days=2)), ("45s", timedelta(seconds=45))]


@pytest.mark.parametrize("text, value", TYPED)
def test_files_cli_and_the_one_parser_read_a_duration_alike(text, value):
    assert parse_duration(text) == file_duration(text) == cli_duration(text) == value


@pytest.mark.parametrize("text, shown", [("1h", "1h"), ("90m", "1h30m"), ("1h30m", "1h30m"), ("3600s", "1h"),
                                         ("1d2h", "1d2h"), ("1.5s", "1.5s")])
def test_a_stored_duration_is_written_the_way_people_type_it(text, shown):
    assert format_duration(parse_duration(text)) == shown
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("text", ["soon", "01:00:00", "1x", "h", "0m"])
def test_every_face_refuses_an_unreadable_duration_with_the_same_words(text):
    with pytest.raises(DurationError) as one:
        parse_duration(text)
    with pytest.raises(Invalid) as in_file:
        file_duration(text)
    with pytest.raises(UsageError) as on_cli:
        cli_duration(text)
    assert str(one.value) == str(in_file.value) == str(on_cli.value)


@pytest.mark.parametrize("renotify, grace", [("1h", "90m"), ("1h30m", "5m"), ("90m", "1h")])
def test_the_admin_form_takes_1h_90m_1h30m_and_shows_them_back(admin_client, level_alert, renotify, grace):
    change = reverse("admin:alerts_alert_change", args=[level_alert.pk])
    response = admin_client.post(change, form_data(level_alert.datasource, name=level_alert.name,
                                                   renotify_interval=renotify, grace=grace))
    assert response.status_code == 302, response.context["adminform"].form.errors

    level_alert.refresh_from_db()
    assert level_alert.renotify_interval == parse_duration(renotify)
    assert level_alert.grace == parse_duration(grace)
    page = admin_client.get(change).content.decode()
    assert f'name="renotify_interval" value="{format_duration(parse_duration(renotify))}"' in page
    assert f'name="grace" value="{format_duration(parse_duration(grace))}"' in page


def test_the_admin_form_says_what_a_duration_looks_like(admin_client, level_alert):
    change = reverse("admin:alerts_alert_change", args=[level_alert.pk])
    response = admin_client.post(change, form_data(level_alert.datasource, name=level_alert.name,
                                                   renotify_interval="soon"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["renotify_interval"] == [
        "Cannot read duration 'soon': use forms like 30s, 5m, 2h, 1d, 1h30m."]


def test_the_api_and_the_admin_agree_on_a_stored_interval(api, level, admin_client):
    alert, _ = level
    assert api.patch(f"/api/alerts/{alert.name}", {"renotify_interval": "90m"}, format="json").status_code == 200
    assert Alert.objects.get(pk=alert.pk).renotify_interval == timedelta(minutes=90)
    assert api.get(f"/api/alerts/{alert.name}").json()["renotify_interval"] == "1h30m"
    page = admin_client.get(reverse("admin:alerts_alert_change", args=[alert.pk])).content.decode()
    assert 'name="renotify_interval" value="1h30m"' in page
