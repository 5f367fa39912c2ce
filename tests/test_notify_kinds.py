"""A channel kind is said once, in its notifier's module (alerts/notifiers/): the config files,
the admin's help, masking, the silence page and delivery's recovery all read it from the
registry, and a message's payload, a test message's included, is built in one place."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import delivery
from alerts.admin.forms import kind_template, settings_help_html
from alerts.config.schema import Problems, check_channel
from alerts.models import Channel, DeliveryAttempt, Notification, NotificationStatus
from alerts.notifiers import NOTIFIERS, Notifier, Sent, Setting, mask_config, restore_config, via_label
from alerts.notifiers.payload import sample
from tests.notify_peers import http_receiver, make_notification  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


class Beeper(Notifier):
    kind = "beeper"
    label = "Beeper"
    via_label = "the beeper"
    fields = (
        Setting("hook", "where beeps go", "https://beeps.example.com/${BEEPER_TOKEN}", required=True, secret=True,
                destination=True),
        Setting("tone", "how it sounds"),
    )
    drops_duplicates = True

    def send(self, message) -> Sent:
        return Sent(None, "beeped")


@pytest.fixture
def beeper(monkeypatch):
    monkeypatch.setitem(NOTIFIERS, "beeper", Beeper)
    return Beeper


def test_a_kind_added_to_the_registry_is_taken_by_files_with_its_own_settings(beeper):
    good, typo = Problems(), Problems()

    check_channel({"name": "b", "kind": "beeper", "hook": "https://beeps.example.com/x"}, (), good)
    check_channel({"name": "b", "kind": "beeper", "hook": "https://beeps.example.com/x", "tonee": "low"}, (), typo)

    assert good.items == []
    assert [(path, message) for path, message in typo.items] == [(("tonee",), "Unknown key; did you mean 'tone'?")]


def test_a_kind_added_to_the_registry_is_explained_in_the_admin_form(beeper):
    help_html = settings_help_html()

    assert 'data-kind-help="beeper"' in help_html and "<code>hook</code> <b>required</b>, secret" in help_html
    assert "where beeps go" in help_html and "<b>Beeper</b> settings" in help_html
    assert kind_template("beeper") == {"hook": "https://beeps.example.com/${BEEPER_TOKEN}"}


def test_a_kind_added_to_the_registry_has_its_secret_masked_and_kept_at_its_own_destination_only(beeper):
    stored = {"hook": "https://beeps.example.com/T0K3N", "tone": "low"}

    shown = mask_config("beeper", stored)
    kept, kept_problems = restore_config("beeper", {**shown, "tone": "high"}, stored)
    moved, moved_problems = restore_config("beeper", {**shown, "hook": "https://evil.example.com/***"}, stored)

    assert shown == {"hook": "https://beeps.example.com/***", "tone": "low"}
    assert kept == {"hook": "https://beeps.example.com/T0K3N", "tone": "high"} and kept_problems == []
    assert "T0K3N" not in str(moved) and [key for key, _ in moved_problems] == ["hook"]


def test_a_silence_link_page_names_the_kind_in_its_own_words(beeper):
    assert via_label("beeper") == "the beeper"
    assert (via_label("slack"), via_label("msteams"), via_label("webhook")) == ("Slack", "Teams", "webhook")


def test_a_stalled_send_is_sent_again_only_for_kinds_whose_receivers_drop_duplicates(
        beeper, make_notification, settings):
    claimed = timezone.now() - settings.SENTINEL_DELIVERY_STALLED_AFTER - timedelta(seconds=1)
    beep = make_notification("beeper", {"hook": "https://beeps.example.com/x"})
    slack = make_notification("slack", {"webhook_url": "https://hooks.slack.com/services/x"})
    Notification.objects.filter(pk__in=[beep.pk, slack.pk]).update(status=NotificationStatus.SENDING, attempts=1,
                                                                    claimed_at=claimed)

    recovery = delivery.recover_stalled()

    assert recovery.resent == [beep.pk] and recovery.abandoned == [slack.pk]
    slack.refresh_from_db()
    assert "a slack receiver cannot drop a duplicate" in slack.last_error


def test_channel_kind_choices_are_the_registrys_kinds_and_labels():
    assert Channel._meta.get_field("kind").choices == [(kind, cls.label) for kind, cls in NOTIFIERS.items()]


def test_the_receivers_status_is_recorded_on_the_attempt(http_receiver, make_notification):
    http_receiver.answer(202)
    notification = make_notification("webhook", {"url": http_receiver.url + "/hook"})

    assert delivery.deliver(notification.pk).status == "sent"

    [attempt] = DeliveryAttempt.objects.filter(notification=notification)
    assert attempt.ok and attempt.status_code == 202


def _shape(value):
    """The keys of a payload, nested mappings included: its contract, whatever the values."""
    return {k: _shape(v) if isinstance(v, dict) and k != "context" else None for k, v in value.items()}


def test_a_test_message_carries_the_fields_of_a_real_one_and_says_it_is_a_test(make_notification):
    real = make_notification("webhook", {"url": "https://hooks.example.com/x"}).payload
    test = sample()

    assert test.pop("test") is True and "test" not in real
    assert _shape(test) == _shape(real)
    assert test["alert"]["id"] == 0 and real["version"] == test["version"] == 1
