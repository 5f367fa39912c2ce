"""`sentinel export` gives the same bytes for the same definitions, so an export kept in git
changes only when a definition does (docs/config.md)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from alerts.models import Alert, Channel
from tests.factories import sentinel

pytestmark = pytest.mark.django_db

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "sqlsentinel").glob("*.yaml"))


@pytest.fixture(autouse=True)
def fixture_db(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_FIXTURE_DB", str(tmp_path / "fixture.sqlite3"))


def export(tmp_path, name: str) -> bytes:
    path = tmp_path / name
    code, out = sentinel("export", "--output", str(path))
    assert code == 0, out
    return path.read_bytes()


def test_two_exports_a_day_apart_are_byte_identical(tmp_path, monkeypatch):
    assert sentinel("apply", *map(str, FIXTURES))[0] == 0
    first = export(tmp_path, "first.yaml")
    later = timezone.now() + timedelta(days=1, seconds=7)
    monkeypatch.setattr(timezone, "now", lambda: later)

    second = export(tmp_path, "second.yaml")

    assert first == second
    assert str(timezone.now().year) not in first.decode().splitlines()[0]  # no date in the header


def test_applying_the_export_and_exporting_again_gives_the_same_bytes(tmp_path):
    assert sentinel("apply", *map(str, FIXTURES))[0] == 0
    first = export(tmp_path, "first.yaml")

    code, out = sentinel("apply", str(tmp_path / "first.yaml"))
    assert code == 0, out

    assert export(tmp_path, "again.yaml") == first


def test_order_follows_the_names_not_the_database(tmp_path, make_datasource, make_alert):
    # Created out of order, with names collations sort differently (_ and - and case).
    ds = make_datasource("sqlite://", name="default")
    for name in ("b_x", "B-x", "a-x", "a_x", "A"):
        make_alert(ds, "SELECT 'OK' AS status", name=name)
    Channel.objects.create(name="hook", kind="webhook",
                           config={"url": "https://example.com/h", "method": "PUT", "headers": {"B": "2", "A": "1"}})
    first = export(tmp_path, "first.yaml").decode()

    # The same settings stored in another key order (as another database hands them back).
    hook = Channel.objects.get(name="hook")
    hook.config = {"headers": {"A": "1", "B": "2"}, "method": "PUT", "url": "https://example.com/h"}
    hook.save()
    second = export(tmp_path, "second.yaml").decode()

    assert first == second
    names = [line.split(": ", 1)[1] for line in first.splitlines() if line.startswith("- name: ")]
    alerts = names[names.index("hook") + 1:]
    assert alerts == sorted(Alert.objects.values_list("name", flat=True)) == ["A", "B-x", "a-x", "a_x", "b_x"]
    assert first.index("\n    A: ") < first.index("\n    B: ")  # header keys sorted (values masked)
