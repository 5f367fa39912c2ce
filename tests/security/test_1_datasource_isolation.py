"""A datasource can never reach Sentinel's own database or broker, whoever saves it and however
its URL spells the place; SQLite files only under the allowed directories, and read-only
whatever the URL says (docs/security.md §1)."""

import os
import textwrap

import pytest
import sqlalchemy as sa
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts import runner
from alerts.models import Datasource, ExecutionStatus, Trigger
from alerts.querying import QueryError, engine_for, run_query
from tests.factories import sentinel

pytestmark = pytest.mark.django_db

ADD = reverse("admin:alerts_datasource_add")
OWN = "Sentinel's own"


def add_datasource(client, url, name="sneaky"):
    return client.post(ADD, {"name": name, "url": url, "timeout_seconds": "5", "row_limit": "100",
                             "enabled": "on"})


def url_errors(response) -> str:
    return " ".join(response.context["adminform"].form.errors.get("url", [])) if response.context else ""


def apply_file(tmp_path, url) -> tuple[int, str]:
    path = tmp_path / "sneaky.yaml"
    path.write_text(textwrap.dedent(f"""\
        datasources:
          - name: sneaky
            url: "{url}"
        alerts:
          - name: sneaky_read
            datasource: sneaky
            query: SELECT 1 AS actual_value
            schedule: "@daily"
        """))
    return sentinel("apply", str(path))


def sentinel_db(host="127.0.0.1") -> str:
    s = connection.settings_dict
    return f"postgresql://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def embedded(settings, tmp_path):
    """Sentinel on its embedded defaults, as `make run` has it: its database and broker are
    SQLite files under var/. (Django keeps talking to the test database; only the settings say so.)"""
    var = tmp_path / "var"
    var.mkdir()
    for name in ("sentinel.sqlite3", "broker.sqlite3"):
        with sa.create_engine(f"sqlite:///{var / name}").begin() as conn:
            conn.exec_driver_sql("CREATE TABLE auth_user (password TEXT)")
            conn.exec_driver_sql("INSERT INTO auth_user VALUES ('pbkdf2_sha256$hash')")
    settings.DATABASES = {**settings.DATABASES, "default": {"ENGINE": "django.db.backends.sqlite3",
                                                            "NAME": str(var / "sentinel.sqlite3")}}
    settings.CELERY_BROKER_URL = f"sqla+sqlite:///{var / 'broker.sqlite3'}"
    os.symlink(var / "sentinel.sqlite3", tmp_path / "innocent.sqlite3")
    return var


@pytest.mark.needs_postgres
@pytest.mark.parametrize("form", ["localhost", "127.0.0.1 via ${VAR}", "?host= override", "${DATABASE_URL}"])
def test_sentinels_own_postgresql_is_refused_at_save_in_the_admin_and_in_files(form, admin_client, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("SENTINEL_TEST_OWN_DB", sentinel_db())
    monkeypatch.setenv("DATABASE_URL", sentinel_db())
    url = {"localhost": sentinel_db("localhost"),
           "127.0.0.1 via ${VAR}": "${SENTINEL_TEST_OWN_DB}",
           "?host= override": sentinel_db("db.example.invalid") + "?host=127.0.0.1",
           "${DATABASE_URL}": "${DATABASE_URL}"}[form]

    response = add_datasource(admin_client, url)  # a superuser: nobody may
    code, out = apply_file(tmp_path, url)

    assert response.status_code == 200
    said = url_errors(response)
    assert OWN in said or "DATABASE_URL is one of Sentinel's own settings" in said, said
    assert code == 1 and (OWN in out or "DATABASE_URL is one of Sentinel's own settings" in out), out
    # The refusal never repeats the URL. (The output names the file, whose pytest path holds this
    # test's name, and that starts like the test database's: look for the URL's own spelling.)
    assert f"/{connection.settings_dict['NAME']}" not in said + out.replace(str(tmp_path), "FILE")
    assert "127.0.0.1:" not in said + out and "localhost:" not in said + out
    assert not Datasource.objects.filter(name="sneaky").exists()


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.parametrize("form", ["path", "symlink", "file: URI", "mode=rwc", "broker"])
def test_sentinels_own_sqlite_files_are_refused_however_they_are_written(form, embedded, admin_client, tmp_path,
                                                                         settings):
    settings.SENTINEL_SQLITE_DIRS = [tmp_path]  # even where SQLite files are allowed
    own = embedded / "sentinel.sqlite3"
    url = {"path": f"sqlite:///{own}",
           "symlink": f"sqlite:///{tmp_path / 'innocent.sqlite3'}",
           "file: URI": f"sqlite:///file:{own}?uri=true",
           "mode=rwc": f"sqlite:///file://localhost{embedded}/./sentinel.sqlite3?mode=rwc&uri=true",
           "broker": f"sqlite:///{embedded / 'broker.sqlite3'}"}[form]

    response = add_datasource(admin_client, url)

    assert OWN in url_errors(response), url_errors(response)
    assert not Datasource.objects.filter(name="sneaky").exists()


@pytest.mark.needs_postgres
def test_a_row_stored_by_hand_or_a_variable_changed_later_is_refused_when_it_runs(make_alert, sqlite_db, monkeypatch):
    harmless, _ = sqlite_db
    monkeypatch.setenv("SENTINEL_TEST_TARGET", harmless)
    by_variable = make_alert(Datasource.objects.create(name="later", url="${SENTINEL_TEST_TARGET}"),
                             "SELECT 1 AS actual_value", mode="threshold", threshold=5, operator=">")
    by_hand = make_alert(Datasource.objects.create(name="by_hand", url=sentinel_db("localhost")),
                         "SELECT password AS actual_value FROM auth_user", mode="threshold", threshold=5, operator=">")
    assert runner.run(by_variable, timezone.now(), Trigger.MANUAL).status == ExecutionStatus.OK

    monkeypatch.setenv("SENTINEL_TEST_TARGET", sentinel_db())
    later = runner.run(by_variable, timezone.now(), Trigger.MANUAL)
    stored = runner.run(by_hand, timezone.now(), Trigger.MANUAL)

    for execution in (later, stored):
        assert execution.status == ExecutionStatus.ERROR
        assert OWN in execution.error and "docs/security.md" in execution.error
        assert execution.preview == [] and execution.actual_value is None


def test_sqlite_files_outside_the_allowed_directories_are_refused(admin_client, tmp_path, settings):
    allowed, elsewhere = tmp_path / "datasources", tmp_path / "elsewhere"
    allowed.mkdir()
    elsewhere.mkdir()
    for path in (allowed / "shop.sqlite3", elsewhere / "secret.sqlite3"):
        sa.create_engine(f"sqlite:///{path}").connect().close()
    os.symlink(elsewhere / "secret.sqlite3", allowed / "link.sqlite3")
    settings.SENTINEL_SQLITE_DIRS = [allowed]

    outside = add_datasource(admin_client, f"sqlite:///{elsewhere / 'secret.sqlite3'}", name="outside")
    linked = add_datasource(admin_client, f"sqlite:///{allowed / 'link.sqlite3'}", name="linked")
    inside = add_datasource(admin_client, f"sqlite:///{allowed / 'shop.sqlite3'}", name="inside")

    for response in (outside, linked):
        assert "SENTINEL_SQLITE_DIRS" in url_errors(response) and str(allowed) in url_errors(response)
    assert inside.status_code == 302
    assert list(Datasource.objects.values_list("name", flat=True)) == ["inside"]
    ds = Datasource.objects.create(name="by_hand", url=f"sqlite:///{elsewhere / 'secret.sqlite3'}")
    with pytest.raises(QueryError, match="SENTINEL_SQLITE_DIRS"):
        run_query(ds, "SELECT 1")


@pytest.mark.parametrize("options", ["?mode=rwc", "?mode=rwc&uri=true", "file: ?mode=rwc&uri=true"])
def test_sqlite_is_read_only_whatever_the_url_says(options, sqlite_db, tmp_path):
    url, _ = sqlite_db
    path = url.removeprefix("sqlite:///")
    written = f"sqlite:///file:{path}{options.split(' ')[1]}" if options.startswith("file:") else url + options
    ds = Datasource.objects.create(name="rw", url=written)

    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        with engine_for(ds).connect() as conn:
            conn.exec_driver_sql("CREATE TABLE written (x INTEGER)")
    missing = Datasource.objects.create(name="new", url=f"sqlite:///file:{tmp_path / 'new.sqlite3'}?mode=rwc&uri=true")
    with pytest.raises(QueryError):
        run_query(missing, "SELECT 1")

    assert "written" not in sa.inspect(sa.create_engine(url)).get_table_names()
    assert not (tmp_path / "new.sqlite3").exists()  # mode=rwc would have created it
