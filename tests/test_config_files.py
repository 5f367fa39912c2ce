"""Alerts as code: validate, apply (plan, atomic, idempotent, prune), export round trip."""

import textwrap
from pathlib import Path

import pytest
import yaml

from alerts.models import Alert, Channel, Datasource, Execution
from schedules.models import Schedule
from tests.factories import sentinel

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "sqlsentinel").glob("*.yaml"))

pytestmark = pytest.mark.django_db


def write(tmp_path, text: str, name: str = "alerts.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


@pytest.fixture(autouse=True)
def fixture_db(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_FIXTURE_DB", str(tmp_path / "fixture.sqlite3"))
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_file_validates(path):
    code, out = sentinel("validate", str(path))
    assert code == 0, out
    assert f"{path}: valid" in out


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_file_applies_and_applying_it_again_changes_nothing(path):
    code, out = sentinel("apply", str(path))
    assert code == 0, out
    assert "to create" in out and "Applied." in out
    assert Alert.objects.exists() and all(a.source_file == str(path) for a in Alert.objects.all())

    code, again = sentinel("apply", str(path))
    assert code == 0
    assert "0 to create, 0 to update, 0 to delete" in again and "Nothing to do." in again
    assert "  create" not in again and "  update" not in again


def test_all_fixture_files_apply_together():
    code, out = sentinel("apply", *map(str, FIXTURES))
    assert code == 0, out
    assert Alert.objects.count() == sum(len(yaml.safe_load(p.read_text())["alerts"]) for p in FIXTURES)
    # Each SQL Sentinel file brings its own identical `database:`; that is one datasource "default".
    assert Datasource.objects.filter(name="default").count() == 1


def test_sql_sentinel_file_becomes_a_default_datasource_and_channels_per_notify_entry():
    sentinel("apply", str(FIXTURES[[p.name for p in FIXTURES].index("sqlsentinel_plain.yaml")]))

    alert = Alert.objects.get(name="daily_revenue_check")
    assert alert.datasource.name == "default"
    assert alert.schedule.cron == "0 9 * * 1-5" and alert.schedule.timezone == "UTC"
    names = sorted(c.name for c in alert.channels.all())
    assert names == ["daily_revenue_check-email-1", "daily_revenue_check-slack-1", "daily_revenue_check-webhook-1"]
    email = Channel.objects.get(name="daily_revenue_check-email-1")
    assert email.config == {"recipients": ["finance@example.com", "cfo@example.com"],
                            "subject": "[{status}] {alert_name}: {actual_value} vs {threshold}"}
    webhook = Channel.objects.get(name="daily_revenue_check-webhook-1")
    # The reference is stored, never the value it expands to.
    assert webhook.config["headers"] == {"Authorization": "Bearer ${HOOK_TOKEN:-test-token}"}
    assert webhook.config["method"] == "PUT"
    assert Alert.objects.get(name="stale_orders").enabled is False


def test_every_error_of_a_broken_file_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, """
        database:
          url: "postgres://db.example.com/app"
        alerts:
          - name: revenue
            query: SELECT 'OK' AS status
            schedule: "0 9 * * 1-5"
            enable: false
          - name: nightly report
            query: "  "
            schedule: "61 * * * *"
            timezone: Mars/Olympus
          - name: pages
            query: SELECT 'OK' AS status
            schedule: "@daily"
            severity: urgent
            pending_evaluations: 0
            renotify_interval: soon
            notify:
              - channel: pagerdty
                routing_key: abc
              - channel: email
                recipients: []
                subjct: hi
              - channel: slack
                webhook_url: "${SENTINEL_TEST_UNSET_HOOK}"
          - name: revenue
            query: SELECT 1
            schedule: "*/5 * * * *"
        """, "broken.yaml")

    code, out = sentinel("validate", path)

    assert code == 1
    assert out.splitlines() == [
        f"{path}:2: database.url: Unknown database kind 'postgres': use postgresql, mysql, sqlite, "
        "or a dialect whose package is installed.",
        f"{path}:7: alerts[0] (revenue).enable: Unknown key; did you mean 'enabled'?",
        f"{path}:8: alerts[1] (nightly report).name: Use letters, digits, '_', '.' and '-', "
        "starting with a letter or digit.",
        f"{path}:9: alerts[1] (nightly report).query: Must not be empty.",
        f"{path}:10: alerts[1] (nightly report).schedule: Invalid cron expression '61 * * * *': "
        "the minute field '61' is not valid.",
        f"{path}:11: alerts[1] (nightly report).timezone: Unknown timezone 'Mars/Olympus': "
        "use an IANA name such as Europe/Berlin.",
        f"{path}:15: alerts[2] (pages).severity: Must be one of info, warning, critical; got 'urgent'.",
        f"{path}:16: alerts[2] (pages).pending_evaluations: Must be at least 1.",
        f"{path}:17: alerts[2] (pages).renotify_interval: Cannot read duration 'soon': "
        "use forms like 30s, 5m, 2h, 1d, 1h30m.",
        f"{path}:19: alerts[2] (pages).notify[0].channel: Unknown channel kind 'pagerdty'; "
        "did you mean 'pagerduty'? kinds: email, log, msteams, pagerduty, slack, webhook.",
        f"{path}:22: alerts[2] (pages).notify[1].recipients: Required for a email channel.",
        f"{path}:23: alerts[2] (pages).notify[1].subjct: Unknown key; did you mean 'subject'?",
        f"{path}:25: alerts[2] (pages).notify[2].webhook_url: Environment variable SENTINEL_TEST_UNSET_HOOK "
        "is not set (set it, or write ${SENTINEL_TEST_UNSET_HOOK:-default}).",
        f"{path}:26: alerts[3] (revenue).name: Duplicate alert name 'revenue' (first at alerts[0]).",
        "14 errors in 1 file.",
    ]


def test_yaml_syntax_errors_and_unreadable_files_say_where(tmp_path):
    bad = write(tmp_path, """
        alerts:
          - name: a
            query: [SELECT 1
        """, "syntax.yaml")
    code, out = sentinel("validate", bad, str(tmp_path / "missing.yaml"))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{bad}:4: Not valid YAML:")
    assert lines[1] == f"{tmp_path / 'missing.yaml'}:0: Cannot read the file: No such file or directory."


def test_duplicate_keys_and_unknown_top_level_keys_are_errors(tmp_path):
    path = write(tmp_path, """
        databse:
          url: sqlite://
        alerts: []
        """)
    code, out = sentinel("validate", path)
    assert code == 1
    assert f"{path}:1: databse: Unknown key; did you mean 'database'?" in out

    dup = write(tmp_path, """
        alerts:
          - name: a
            name: b
        """, "dup.yaml")
    code, out = sentinel("validate", dup)
    assert f"{dup}:3: Duplicate key 'name' (first on line 2)." in out


def test_references_to_unknown_datasources_and_channels_suggest_names(tmp_path):
    path = write(tmp_path, """
        datasources:
          - name: warehouse
            url: sqlite://
        channels:
          - name: oncall
            kind: log
        alerts:
          - name: a
            datasource: warehose
            query: SELECT 'OK' AS status
            schedule: "@hourly"
            notify: [oncal]
          - name: b
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """)
    code, out = sentinel("validate", path)
    assert code == 1
    assert f"{path}:9: alerts[0] (a).datasource: No datasource named 'warehose'. Did you mean 'warehouse'?" in out
    assert f"{path}:12: alerts[0] (a).notify[0]: No channel named 'oncal'. Did you mean 'oncall'?" in out
    assert f"{path}:13: alerts[1] (b): No datasource named 'default'. Give the file a database: {{url: ...}}" in out


def test_an_unset_variable_is_an_error_and_a_set_one_is_stored_as_the_reference(tmp_path, monkeypatch):
    path = write(tmp_path, """
        datasources:
          - name: warehouse
            url: "postgresql://app:${SENTINEL_TEST_DB_PASSWORD}@127.0.0.1:5432/app"
        alerts: []
        """)
    monkeypatch.delenv("SENTINEL_TEST_DB_PASSWORD", raising=False)
    code, out = sentinel("apply", path)
    assert code == 1
    assert "warehouse).url: Environment variable SENTINEL_TEST_DB_PASSWORD is not set" in out
    assert not Datasource.objects.exists()

    monkeypatch.setenv("SENTINEL_TEST_DB_PASSWORD", "hunter22")
    code, out = sentinel("apply", path)
    assert code == 0, out
    assert Datasource.objects.get().url == "postgresql://app:${SENTINEL_TEST_DB_PASSWORD}@127.0.0.1:5432/app"
    assert "hunter22" not in out


def ten_alerts(bad: int | None = None) -> str:
    return "\n".join(
        f"""  - name: alert_{i}
    query: SELECT 'OK' AS status
    schedule: "{'*/5 * * * *' if i != bad else '*/5 * * *'}"
    notify:
      - channel: log"""
        for i in range(10)
    )


def test_a_bad_alert_in_a_file_of_ten_changes_nothing(tmp_path):
    path = write(tmp_path, "database:\n  url: sqlite://\nalerts:\n" + ten_alerts(bad=7) + "\n")

    code, out = sentinel("apply", path)

    assert code == 1
    assert "alerts[7] (alert_7).schedule: Invalid cron expression '*/5 * * *'" in out
    assert not Alert.objects.exists() and not Channel.objects.exists() and not Datasource.objects.exists()


def test_a_plan_that_fails_against_stored_state_changes_nothing(tmp_path):
    good = write(tmp_path, "database:\n  url: sqlite://\nalerts:\n" + ten_alerts() + "\n")
    assert sentinel("apply", good)[0] == 0
    before = sorted(Alert.objects.values_list("name", "updated_at"))
    # A masked secret that no stored object holds can only be found out while planning.
    changed = write(tmp_path, """
        database:
          url: sqlite://
        channels:
          - name: newhook
            kind: webhook
            url: "https://example.com/***"
        alerts:
          - name: alert_0
            query: SELECT 'ALERT' AS status
            schedule: "@daily"
            notify: [newhook]
        """, "changed.yaml")

    code, out = sentinel("apply", changed, "--prune")

    assert code == 1
    assert "changed.yaml:6: channels[0] (newhook).url: Holds a masked secret (***)" in out
    assert sorted(Alert.objects.values_list("name", "updated_at")) == before
    assert not Channel.objects.filter(name="newhook").exists()


def test_plan_names_the_fields_an_update_changes_and_dry_run_changes_nothing(tmp_path):
    path = write(tmp_path, """
        database:
          url: sqlite://
        alerts:
          - name: a
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """)
    sentinel("apply", path)
    write(tmp_path, """
        database:
          url: sqlite://
        alerts:
          - name: a
            query: SELECT 'ALERT' AS status
            schedule: "*/10 * * * *"
            severity: critical
          - name: b
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """)

    code, out = sentinel("apply", path, "--dry-run")

    assert code == 0
    assert "  update    alert a (severity, query, schedule)" in out
    assert "  create    alert b" in out
    assert "  unchanged datasource default" in out
    assert "Plan: 1 to create, 1 to update, 0 to delete, 1 unchanged." in out
    assert "Dry run: nothing was changed." in out
    assert Alert.objects.get().query == "SELECT 'OK' AS status"


def test_prune_deletes_only_what_came_from_files_and_is_no_longer_defined(tmp_path, make_datasource, make_alert):
    path = write(tmp_path, """
        database:
          url: sqlite://
        alerts:
          - name: keep
            query: SELECT 'OK' AS status
            schedule: "@hourly"
          - name: drop
            query: SELECT 'OK' AS status
            schedule: "@hourly"
            notify:
              - channel: log
        """)
    sentinel("apply", path)
    manual = make_alert(Datasource.objects.get(name="default"), "SELECT 'OK' AS status", name="made_in_admin")
    write(tmp_path, """
        database:
          url: sqlite://
        alerts:
          - name: keep
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """)

    code, out = sentinel("apply", path)
    assert "  delete" not in out and Alert.objects.filter(name="drop").exists()

    code, out = sentinel("apply", path, "--prune")
    assert code == 0, out
    assert "  delete    alert drop" in out and "  delete    channel drop-log-1" in out
    assert sorted(Alert.objects.values_list("name", flat=True)) == ["keep", manual.name]


def test_export_then_apply_is_a_no_op(tmp_path, make_datasource, make_alert):
    sentinel("apply", *map(str, FIXTURES))
    # Things made in the admin or the API, with literal secrets, round-trip too.
    ds = make_datasource("postgresql://app:s3cret-pass@db.internal:5432/app", name="admin_made", timeout_seconds=12)
    hook = Channel.objects.create(name="literal-hook", kind="slack",
                                  config={"webhook_url": "https://hooks.slack.com/services/T1/B2/s3cretpath"})
    make_alert(ds, "SELECT 1 AS n\nFROM dual\n", name="admin_alert", channels=[hook], key_columns="a, b",
               mode="threshold", threshold=3.5, operator="<=",
               schedule=Schedule.objects.create(interval_seconds=300, timezone="UTC"))
    output = tmp_path / "export.yaml"

    code, out = sentinel("export", "--output", str(output))
    assert code == 0
    text = output.read_text()
    assert "s3cret" not in text
    assert "postgresql://app:***@db.internal:5432/app" in text
    assert "https://hooks.slack.com/***" in text
    before = {a.name: a.updated_at for a in Alert.objects.all()}

    code, out = sentinel("apply", str(output))

    assert code == 0, out
    assert "Plan: 0 to create, 0 to update, 0 to delete" in out and "Nothing to do." in out
    assert {a.name: a.updated_at for a in Alert.objects.all()} == before
    assert Datasource.objects.get(name="admin_made").url == "postgresql://app:s3cret-pass@db.internal:5432/app"


def test_export_of_an_empty_database_applies(tmp_path):
    output = tmp_path / "empty.yaml"
    sentinel("export", "--output", str(output))
    assert sentinel("apply", str(output))[0] == 0


def test_apply_keeps_execution_history_of_updated_alerts(tmp_path, sqlite_db):
    url, set_knob = sqlite_db
    path = write(tmp_path, f"""
        database:
          url: "{url}"
        alerts:
          - name: level
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """)
    sentinel("apply", path)
    sentinel("run", "level")
    assert Execution.objects.count() == 1
    Path(path).write_text(Path(path).read_text().replace("@hourly", "@daily"))
    sentinel("apply", path)
    assert Execution.objects.count() == 1 and Alert.objects.get().schedule.cron == "0 0 * * *"


def test_the_admin_shows_which_alerts_came_from_a_file(tmp_path, admin_client):
    path = write(tmp_path, """
        database:
          url: sqlite://
        alerts:
          - name: from_a_file
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """)
    sentinel("apply", path)
    alert = Alert.objects.get()

    listing = admin_client.get("/admin/alerts/alert/").content.decode()
    page = admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/").content.decode()

    assert path in listing
    assert "the next <code>sentinel apply</code> of that file overwrites" in page


KEYS = ["database", "datasources", "channels", "alerts", "name", "url", "kind", "query", "schedule", "timezone",
        "notify", "channel", "recipients", "headers", "threshold", "mode", "key_columns", "renotify_interval",
        "enabled", "timeout", "webhook_url", "datasource", "severity"]


def test_validation_answers_any_shape_of_input_with_errors_never_a_crash():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from alerts.config.schema import Problems, check_document

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12) | \
        st.sampled_from(["slack", "email", "@daily", "0 9 * * 1-5", "sqlite://", "UTC", "threshold", "x"])
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) |
                          st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4),
                          max_leaves=20)

    items = st.dictionaries(st.sampled_from(KEYS), values | st.lists(st.dictionaries(st.sampled_from(KEYS), values)),
                            max_size=6)
    sections = st.lists(items | values, max_size=3) | values
    documents = st.fixed_dictionaries({}, optional={k: sections for k in ("datasources", "channels", "alerts")}
                                      | {"database": items | values}) | values

    @settings(max_examples=150, deadline=None, database=None)
    @given(documents)
    def check(data):
        check_document(data, Problems(), environ={})

    check()


def test_day_of_week_numbers_follow_standard_cron_unlike_sql_sentinel():
    sentinel("apply", str(FIXTURES[[p.name for p in FIXTURES].index("sqlsentinel_sundays.yaml")]))

    def days(name, n=10):
        return [local for local, _utc in Alert.objects.get(name=name).schedule.upcoming(n)]

    assert {d.isoweekday() for d in days("sunday_zero")} == {7}
    assert {d.isoweekday() for d in days("sunday_seven")} == {7}
    assert {d.isoweekday() for d in days("weekdays_at_nine")} == {1, 2, 3, 4, 5}
    # Day-of-month and day-of-week together: either matches (cron's OR), in the alert's time zone.
    runs = days("first_or_monday", 12)
    assert all(d.day == 1 or d.isoweekday() == 1 for d in runs) and any(d.isoweekday() != 1 for d in runs)
    assert all(str(d.tzinfo) == "Europe/Berlin" and d.hour == 9 for d in runs)


def test_prune_refuses_to_delete_a_datasource_that_alerts_not_from_files_use(tmp_path, make_alert):
    path = write(tmp_path, """
        datasources:
          - name: warehouse
            url: sqlite://
        alerts:
          - name: from_file
            datasource: warehouse
            query: SELECT 'OK' AS status
            schedule: "@hourly"
        """)
    sentinel("apply", path)
    make_alert(Datasource.objects.get(name="warehouse"), "SELECT 'OK' AS status", name="made_in_admin")
    write(tmp_path, "alerts: []\n")

    code, out = sentinel("apply", path, "--prune")

    assert code == 1
    assert ("--prune would delete datasource 'warehouse', but alerts not from files still use it: "
            "made_in_admin.") in out
    assert Alert.objects.filter(name="from_file").exists() and Datasource.objects.filter(name="warehouse").exists()
