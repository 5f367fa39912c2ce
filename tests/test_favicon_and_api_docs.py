"""The small things every page asks for: /favicon.ico answers (and the admin links
its icon), and /api/docs/ is Swagger UI served by Sentinel itself, so it works
with no internet: it names no other host, and its scripts and styles answer 200."""

import re
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def collected(tmp_path):
    """Static files collected as the release step does, served by WhiteNoise as in production."""
    root = tmp_path / "static"
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", "--noinput", verbosity=0)
        yield Client()  # a new client builds the middleware (WhiteNoise scans STATIC_ROOT) now


def test_favicon_ico_answers_on_every_site_path(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in response["Cache-Control"]


def test_admin_pages_link_the_icon_and_it_is_served(admin_client, collected):
    page = admin_client.get("/admin/").content.decode()
    icons = re.findall(r'<link rel="(?:alternate )?icon" href="([^"]+)"', page)
    assert "/static/sentinel/favicon.svg" in icons and "/favicon.ico" in icons

    svg = collected.get("/static/sentinel/favicon.svg")
    assert svg.status_code == 200 and b"<svg" in b"".join(svg.streaming_content)


def test_api_docs_name_no_other_host_and_serve_their_own_scripts(admin_client, collected):
    response = admin_client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r'url:\s*"([^"]+)"', page)
    hosts = {urlparse(a).netloc for a in assets} | set(re.findall(r"https?://([^/\"' ]+)", page))
    assert hosts <= {"", "testserver"}, hosts
    scripts_and_styles = [a for a in assets if a.endswith((".js", ".css", ".png"))]
    assert any("swagger-ui-bundle" in a for a in scripts_and_styles), assets
    assert any(a.endswith(".css") for a in scripts_and_styles), assets

    for asset in scripts_and_styles:
        served = collected.get(asset)
        assert served.status_code == 200, asset
