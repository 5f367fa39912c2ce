"""Channels reach public addresses only, unless the operator allows more (docs/security.md §7).

Every refused destination is refused before a TCP connection is opened, in every spelling,
and a test send tells the editor the status and the time taken, never what answered."""

import io
import re
import socket
import threading

import pytest
from django.core.management import call_command

from alerts import delivery
from alerts.models import Channel
from alerts.notifiers import NotifierError, send_test, validate_config
from tests.notify_peers import http_receiver, make_notification  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_by_default(settings):
    settings.SENTINEL_OUTBOUND_ALLOW = []
    return settings


@pytest.fixture
def listener():
    """A loopback port that accepts TCP connections and never answers: it shows whether anyone connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)

    def connections() -> int:
        count = 0
        while True:
            try:
                conn, _ = sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    yield sock.getsockname()[1], connections
    sock.close()


def test_a_loopback_receiver_is_refused_by_default_and_reached_once_allowed(
        closed_by_default, http_receiver, make_notification):
    refused = make_notification("webhook", {"url": http_receiver.url + "/hook"})

    outcome = delivery.deliver(refused.pk)

    assert outcome.status == "failed" and outcome.retry_in is None
    assert "127.0.0.1 is a loopback address" in outcome.error and "SENTINEL_OUTBOUND_ALLOW" in outcome.error
    assert http_receiver.requests == []

    closed_by_default.SENTINEL_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    allowed = make_notification("webhook", {"url": http_receiver.url + "/hook"})
    assert delivery.deliver(allowed.pk).status == "sent"
    assert len(http_receiver.wait_for(1)) == 1


def test_a_name_that_resolves_to_loopback_is_refused_without_connecting(closed_by_default, listener,
                                                                          make_notification):
    port, connections = listener
    notification = make_notification("webhook", {"url": f"http://localhost:{port}/hook"})

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "failed"
    assert "localhost resolves to 127.0.0.1, a loopback address" in outcome.error
    assert connections() == 0


LOOPBACK_SPELLINGS = ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001", "[::ffff:127.0.0.1]",
                      "[64:ff9b::7f00:1]", "[::1]", "[2002:7f00:1::]"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_at_save_and_before_connecting(closed_by_default, listener, host):
    port, connections = listener
    url = f"http://{host}:{port}/hook"

    assert validate_config("webhook", {"url": url})["url"].startswith("Refused: ")
    channel = Channel.objects.create(name="spelled", kind="webhook", config={"url": url})
    with pytest.raises(NotifierError, match=r"^refused: .*loopback address") as refused:
        send_test(channel)
    assert refused.value.permanent
    assert connections() == 0


@pytest.mark.parametrize("host, kind", [
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("100.64.0.1", "carrier-grade NAT"), ("169.254.10.10", "link-local"), ("[fe80::1]", "link-local"),
    ("[fd00::1]", "private"), ("0.0.0.0", "unspecified"), ("[::]", "unspecified"), ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"), ("[fec0::1]", "site-local"),
    ("169.254.169.254", "metadata"), ("[fd00:ec2::254]", "metadata"), ("100.100.100.200", "metadata"),
    ("[::ffff:169.254.169.254]", "metadata"), ("metadata.google.internal", "metadata"),
])
def test_private_and_special_destinations_are_refused_by_default(closed_by_default, host, kind):
    error = validate_config("slack", {"webhook_url": f"https://{host}/services/T/B/X"})["webhook_url"]

    assert error.startswith("Refused: ") and kind in error


def test_metadata_addresses_stay_refused_under_a_broad_allowance_and_open_only_when_named(settings):
    settings.SENTINEL_OUTBOUND_ALLOW = ["0.0.0.0/0", "::/0", "169.254.0.0/16", "100.64.0.0/10"]
    for host in ("169.254.169.254", "[fd00:ec2::254]", "100.100.100.200", "metadata.google.internal"):
        assert "metadata" in validate_config("webhook", {"url": f"http://{host}/x"})["url"], host
    assert validate_config("webhook", {"url": "http://10.1.2.3/x"}) == {}

    settings.SENTINEL_OUTBOUND_ALLOW = ["169.254.169.254", "metadata.google.internal"]
    assert validate_config("webhook", {"url": "http://169.254.169.254/x"}) == {}
    assert validate_config("webhook", {"url": "http://metadata.google.internal/x"}) == {}
    assert "metadata" in validate_config("webhook", {"url": "http://[fd00:ec2::254]/x"})["url"]


def test_a_test_send_reports_status_and_timing_only(http_receiver):
    channel = Channel.objects.create(name="hook", kind="webhook", config={"url": http_receiver.url + "/t"})
    http_receiver.reply_body = b"internal-admin-panel v1.2 build 7"

    assert re.fullmatch(r"Test message sent through hook \(webhook\): HTTP 200 in \d+ ms\.", send_test(channel))
    http_receiver.answer(404)
    with pytest.raises(NotifierError) as failed:
        send_test(channel)
    assert re.fullmatch(r"HTTP 404 after \d+ ms", str(failed.value))


def _banner_server(banner: bytes):
    """A loopback port that speaks something other than HTTP (an SSH-like banner), then hangs up."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.sendall(banner)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock


def test_a_test_send_cannot_tell_a_closed_port_from_a_non_http_one():
    from tests.notify_peers import free_port

    banner = _banner_server(b"SSH-2.0-OpenSSH_9.6 secret-host-banner\r\n")
    try:
        said = []
        for port in (banner.getsockname()[1], free_port()):
            channel = Channel.objects.create(name=f"probe-{port}", kind="webhook",
                                             config={"url": f"http://127.0.0.1:{port}/"})
            with pytest.raises(NotifierError) as failed:
                send_test(channel)
            said.append(re.sub(r"\d+ ms", "N ms", str(failed.value)))
    finally:
        banner.close()

    assert said == ["no HTTP answer after N ms", "no HTTP answer after N ms"]


def test_the_test_channel_command_says_refused_before_any_connect(closed_by_default, listener):
    port, connections = listener
    Channel.objects.create(name="inside", kind="msteams", config={"webhook_url": f"http://127.0.0.1:{port}/x"})
    out = io.StringIO()

    with pytest.raises(SystemExit) as exit_:
        call_command("sentinel", "test-channel", "inside", stdout=out)

    assert exit_.value.code == 1
    assert "refused: 127.0.0.1 is a loopback address" in out.getvalue().lower()
    assert connections() == 0


def test_a_redirect_to_a_refused_place_is_not_followed(http_receiver, make_notification):
    http_receiver.answer(302)
    http_receiver.location = "http://169.254.169.254/latest/meta-data/iam/"
    notification = make_notification("webhook", {"url": http_receiver.url + "/hook"})

    outcome = delivery.deliver(notification.pk)

    assert outcome.status == "failed" and "redirect not followed" in outcome.error
    assert len(http_receiver.requests) == 1
