"""The channel form in a real browser: choosing a kind fills its template and lists
its settings; a missing required key is refused with a clear error; a valid one
saves and its secret shows as *** (harness: tests/browser_helpers.py)."""

import json

from alerts.admin.forms import kind_template
from alerts.models import Channel
from tests.browser_helpers import BROWSER, browser_page, expect, log_in, saved_message  # noqa: F401  (fixture)

pytestmark = BROWSER


def config_box(page) -> dict:
    return json.loads(page.locator("#id_config").input_value())


def test_choose_a_kind_see_its_template_and_settings_then_save(browser_page, monkeypatch):
    page = browser_page
    monkeypatch.setenv("WEBHOOK_SECRET", "not-shown-anywhere")  # the live server runs in this process
    log_in(page)
    page.goto("/admin/alerts/channel/add/")
    page.fill("#id_name", "ops-webhook")

    page.select_option("#id_kind", "webhook")
    assert config_box(page) == {"url": "https://hooks.example.com/sentinel", "headers": {},
                                "secret": "${WEBHOOK_SECRET}"}
    webhook_help = page.locator("[data-kind-help=webhook]")
    expect(webhook_help).to_be_visible()
    expect(webhook_help).to_contain_text("url required, secret")
    expect(webhook_help).to_contain_text("method optional")
    expect(page.locator("[data-kind-help=slack]")).to_be_hidden()
    expect(page.locator(".field-config .help")).to_contain_text("Write secrets as ${VARIABLE}")

    # An untouched template follows the kind; what a person typed does not.
    page.select_option("#id_kind", "slack")
    assert config_box(page) == kind_template("slack") == {"webhook_url": "${SLACK_WEBHOOK_URL}"}
    expect(page.locator("[data-kind-help=slack]")).to_contain_text("webhook_url required, secret")
    page.select_option("#id_kind", "webhook")
    page.fill("#id_config", json.dumps({"secret": "${WEBHOOK_SECRET}"}))
    page.select_option("#id_kind", "pagerduty")
    page.select_option("#id_kind", "webhook")
    assert config_box(page) == {"secret": "${WEBHOOK_SECRET}"}

    # No url: refused, saying which key.
    page.click("input[name=_continue]")
    expect(page.locator(".field-config .errorlist")).to_contain_text("url: Required for a webhook channel.")
    assert not Channel.objects.filter(name="ops-webhook").exists()

    valid = {"url": "https://hooks.example.com/sentinel/T0K3N", "secret": "${WEBHOOK_SECRET}"}
    page.fill("#id_config", json.dumps(valid))
    page.click("input[name=_continue]")
    expect(saved_message(page)).to_contain_text("was added successfully")
    channel = Channel.objects.get(name="ops-webhook")
    assert channel.config == valid
    # The literal URL's path is a secret: the page masks it; a ${VAR} reference holds none and stays visible.
    assert config_box(page) == {"url": "https://hooks.example.com/***", "secret": "${WEBHOOK_SECRET}"}
    assert "T0K3N" not in page.content() and "not-shown-anywhere" not in page.content()
