"""The browser tests' harness: Playwright driving Debian's chromium against
pytest-django's live server, logged in as a superuser.

Without /usr/bin/chromium (or the playwright package) the browser tests skip,
except under CI=true, where a missing browser is a failure. A test module uses
`pytestmark = BROWSER` and the `browser_page` fixture (import it)."""

import os

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = expect = None

_missing = None if (sync_playwright and os.path.exists(CHROMIUM)) else "playwright or /usr/bin/chromium is not installed"
if _missing and settings.IN_CI:
    raise RuntimeError(f"CI=true but {_missing}: .ci/run must `apt-get install -y chromium`.")

BROWSER = [
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def browser_page(live_server, django_user_model, monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test
    # makes around it are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    django_user_model.objects.create_superuser("oncall", "oncall@example.com", "correct horse")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 900}, base_url=live_server.url)
        # The admin's navigation sidebar starts closed: the lists get the width.
        context.add_init_script("window.localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def log_in(page):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "oncall")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("Sentinel")


def saved_message(page):
    return page.locator("ul.messagelist li").first
