"""Test connection on the datasource form, in a real browser, before anything is saved: the
button posts the URL as typed and shows the answer under the form."""

from alerts.models import Datasource
from tests.browser_helpers import BROWSER, browser_page, expect, log_in  # noqa: F401  (fixture)

pytestmark = BROWSER

def test_a_typed_url_is_tested_on_the_add_page_without_saving(browser_page, sqlite_db):
    page = browser_page
    log_in(page)
    page.goto("/admin/alerts/datasource/add/")
    page.fill("#id_name", "warehouse")
    result = page.locator("#sn-unsaved-connection-result")

    page.fill("#id_url", "postgresql://reader:hunter2secret@127.0.0.1:1/nowhere")
    page.click("#sn-test-unsaved-connection")
    expect(result).to_contain_text("Could not reach warehouse")
    assert "hunter2secret" not in result.inner_text()

    page.fill("#id_url", sqlite_db[0])
    page.click("#sn-test-unsaved-connection")
    expect(result).to_contain_text("Connected to warehouse")

    assert page.url.endswith("/admin/alerts/datasource/add/")
    assert not Datasource.objects.exists()
