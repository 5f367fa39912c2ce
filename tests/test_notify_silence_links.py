"""Signed silence links: one confirmation click, only that alert, only until the link expires."""

import re
from datetime import datetime, timedelta, timezone as tz

import pytest
from django.utils import timezone

from alerts import links
from alerts.delivery import message_for
from alerts.notifiers.rendering import render
from tests.notify_peers import make_notification  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture
def emailed_link(make_notification):
    notification = make_notification("email", {"recipients": ["oncall@example.com"]})
    text = render(message_for(notification), "email").text
    url = re.search(r"Silence 1 h:\s+(\S+)", text).group(1)
    return notification.alert, path_of(url)


def test_following_a_link_asks_first_and_changes_nothing(client, emailed_link):
    alert, path = emailed_link

    page = client.get(path)

    assert page.status_code == 200
    assert f"Silence {alert.name} for 1 hour?" in page.content.decode()
    assert 'value="from e-mail link"' in page.content.decode()
    alert.refresh_from_db()
    assert alert.silenced_until is None


def test_one_click_silences_that_alert_for_an_hour_and_records_who_and_why(client, emailed_link):
    alert, path = emailed_link

    page = client.post(path, {"who": "Ana", "reason": ""})

    assert page.status_code == 200 and "is silenced until" in page.content.decode()
    alert.refresh_from_db()
    left = alert.silenced_until - timezone.now()
    assert timedelta(minutes=59) < left <= timedelta(hours=1)
    assert alert.silence_reason == "from e-mail link"
    assert alert.silenced_by == "e-mail link (Ana)"


def test_a_link_never_shortens_a_longer_silence(client, emailed_link):
    alert, path = emailed_link
    later = timezone.now() + timedelta(days=2)
    alert.silenced_until = later
    alert.save()
    client.post(path, {})
    alert.refresh_from_db()
    assert alert.silenced_until == later


def test_altered_link_is_refused(client, emailed_link):
    alert, path = emailed_link
    token = path.split("/")[2]
    payload, signature = token.split(":")
    forged = links.signing.b64_encode(b'{"a":999,"h":24,"v":"email","e":9999999999}').decode()

    for bad in (f"{forged}:{signature}", f"{payload}:{signature[:-2]}xx"):
        page = client.post(f"/silence/{bad}/", {})
        assert page.status_code == 400 and "not valid" in page.content.decode()
    alert.refresh_from_db()
    assert alert.silenced_until is None


def test_expired_link_is_refused(client, emailed_link, settings):
    alert, _ = emailed_link
    old = datetime.now(tz.utc) - timedelta(hours=settings.SENTINEL_SILENCE_LINK_HOURS, minutes=1)
    url = links.silence_url(alert.pk, 24, "slack", old)

    page = client.post(path_of(url), {})

    assert page.status_code == 400 and "expired" in page.content.decode()
    alert.refresh_from_db()
    assert alert.silenced_until is None


def test_links_are_the_same_on_every_render_of_a_message(make_notification):
    notification = make_notification("webhook", {"url": "http://127.0.0.1:9/x"})
    first = links.silence_links(notification.payload, "webhook")
    again = links.silence_links(notification.payload, "webhook")
    assert first == again and set(first) == {"silence_1h", "silence_24h"}
    grant = links.read_token(path_of(first["silence_24h"]).split("/")[2])
    assert (grant.alert_id, grant.hours, grant.via) == (notification.alert_id, 24, "webhook")
