"""Config from a file, kept in step: `sentinel apply --watch` and beat with SENTINEL_CONFIG_FILES apply
every change of the files' content, a broken file changes nothing and says where, and an alert removed
from a watched file stops running but keeps its history (deleted with --prune); objects from other
files, the admin or the API are never touched."""

import os
import signal
import sys
import textwrap
import time

import pytest
from django_celery_beat.models import PeriodicTask

from alerts.config.watch import apply_if_changed
from alerts.models import Alert, Datasource, Execution, ExecutionStatus
from schedules.models import Schedule
from schedules.sync import task_name
from tests.factories import sentinel
from tests.ops_processes import (  # noqa: F401  (fixtures)
    beat_args, process_env, processes, redis_server, wait_until, worker_args,
)

ALERTS = """
    datasources:
      - name: knobs
        url: "{url}"
    alerts:
{alerts}
"""

LEVEL = "SELECT value AS level FROM knobs WHERE name = 'level'"


def alert(name: str, threshold: float = 5, schedule: str = "every 10 seconds") -> str:
    return textwrap.indent(textwrap.dedent(f"""
        - name: {name}
          datasource: knobs
          query: "{LEVEL}"
          schedule: "{schedule}"
          mode: threshold
          value_column: level
          operator: ">"
          threshold: {threshold}
        """).strip("\n"), " " * 6)


def write(path, url: str, *alerts: str) -> str:
    """Write the file as an editor that saves in place would; return its path."""
    text = textwrap.dedent(ALERTS).lstrip("\n").format(url=url, alerts="\n".join(alerts))
    path.write_text(text)
    return str(path)


def beat_runs(alert_obj: Alert) -> bool:
    """The beat mirror will fan the alert out at its schedule's next tick."""
    return (alert_obj.enabled
            and PeriodicTask.objects.filter(name=task_name(alert_obj.schedule_id), enabled=True).exists())


# --- (a) the plain function both the CLI and beat call ------------------------------------------


@pytest.mark.django_db
def test_a_changed_file_applies_and_runs_at_the_next_tick_and_an_unchanged_one_does_nothing(tmp_path, sqlite_db):
    url = sqlite_db[0]
    path = write(tmp_path / "alerts.yaml", url, alert("level_high"))

    first = apply_if_changed([path])
    assert first.applied and first.lines[-1] == "Applied."
    assert "  create    alert level_high" in first.lines
    stored = Alert.objects.get(name="level_high")
    assert stored.source_file == path and stored.threshold == 5 and beat_runs(stored)

    again = apply_if_changed([path], first.hash)
    assert (again.changed, again.applied, again.hash) == (False, False, first.hash)
    # Saved again with the same bytes (a new mtime): still nothing to do.
    write(tmp_path / "alerts.yaml", url, alert("level_high"))
    assert apply_if_changed([path], first.hash).changed is False
    assert Alert.objects.get(name="level_high").updated_at == stored.updated_at

    write(tmp_path / "alerts.yaml", url, alert("level_high", threshold=7), alert("level_hourly", schedule="@hourly"))
    edited = apply_if_changed([path], first.hash)
    assert edited.applied and edited.hash != first.hash
    assert "  update    alert level_high (threshold)" in edited.lines
    assert "  create    alert level_hourly" in edited.lines
    assert Alert.objects.get(name="level_high").threshold == 7
    assert beat_runs(Alert.objects.get(name="level_hourly"))


@pytest.mark.django_db
def test_a_broken_file_changes_nothing_says_where_once_and_the_next_good_version_applies(tmp_path, sqlite_db):
    url = sqlite_db[0]
    path = write(tmp_path / "alerts.yaml", url, alert("level_high"))
    good = apply_if_changed([path])
    before = Alert.objects.get(name="level_high")

    write(tmp_path / "alerts.yaml", url, alert("level_high", threshold=9, schedule="*/5 * * *"), alert("new_one"))
    broken = apply_if_changed([path], good.hash)

    assert broken.changed and not broken.ok and not broken.applied
    assert any(line.startswith(f"{path}:8: alerts[0] (level_high).schedule: Invalid cron expression")
               for line in broken.lines), broken.lines
    assert broken.lines[-1] == "1 error: nothing was applied; the running definitions stay."
    after = Alert.objects.get(name="level_high")
    assert (after.threshold, after.updated_at) == (5, before.updated_at) and beat_runs(after)
    assert not Alert.objects.filter(name="new_one").exists()
    # Said once: the same broken content is not reported again at every poll.
    assert apply_if_changed([path], broken.hash).changed is False

    write(tmp_path / "alerts.yaml", url, alert("level_high", threshold=9), alert("new_one"))
    fixed = apply_if_changed([path], broken.hash)
    assert fixed.applied
    assert Alert.objects.get(name="level_high").threshold == 9 and Alert.objects.filter(name="new_one").exists()


@pytest.mark.django_db
def test_a_missing_file_changes_nothing_and_says_so(tmp_path, sqlite_db):
    path = write(tmp_path / "alerts.yaml", sqlite_db[0], alert("level_high"))
    good = apply_if_changed([path])
    os.remove(path)

    gone = apply_if_changed([path], good.hash)

    assert not gone.ok and gone.lines[0].startswith(f"{path}:0: Cannot read the file")
    assert beat_runs(Alert.objects.get(name="level_high"))


@pytest.mark.django_db
def test_an_alert_removed_from_a_watched_file_stops_running_keeps_its_history_and_nothing_else_is_touched(
        tmp_path, sqlite_db, make_alert):
    url = sqlite_db[0]
    path = write(tmp_path / "alerts.yaml", url, alert("keep"), alert("drop", schedule="@hourly"))
    other = write(tmp_path / "other.yaml", url, alert("other_file", schedule="@daily"))
    sentinel("apply", other)  # the same datasource, from another file
    watched = apply_if_changed([path])
    assert watched.ok, watched.lines
    dropped = Alert.objects.get(name="drop")
    history = Execution.objects.create(alert=dropped, scheduled_for=dropped.created_at, status=ExecutionStatus.OK)
    by_hand = make_alert(Datasource.objects.get(name="knobs"), "SELECT 1 AS level", name="made_in_admin",
                         schedule=Schedule.objects.for_timing(cron="0 0 * * *"))

    write(tmp_path / "alerts.yaml", url, alert("keep"))
    removed = apply_if_changed([path], watched.hash)

    assert "  disable   alert drop" in removed.lines
    assert "Plan: 0 to create, 0 to update, 0 to delete, 1 to disable, 2 unchanged." in removed.lines
    dropped.refresh_from_db()
    assert not dropped.enabled and Execution.objects.filter(pk=history.pk).exists()
    assert not PeriodicTask.objects.filter(name=task_name(dropped.schedule_id)).exists()  # @hourly had only it
    assert all(beat_runs(a) for a in Alert.objects.filter(name__in=["keep", "other_file", by_hand.name]))
    # Disabled once: the next change of the file does not list it again.
    write(tmp_path / "alerts.yaml", url, alert("keep", threshold=6))
    assert not any("drop" in line for line in apply_if_changed([path], removed.hash).lines)

    # Back in the file, it runs again.
    write(tmp_path / "alerts.yaml", url, alert("keep"), alert("drop", schedule="@hourly"))
    assert apply_if_changed([path], removed.hash).applied
    assert beat_runs(Alert.objects.get(name="drop"))


@pytest.mark.django_db
def test_with_prune_only_objects_of_the_watched_files_are_deleted(tmp_path, sqlite_db):
    url = sqlite_db[0]
    path = write(tmp_path / "alerts.yaml", url, alert("keep"), alert("drop"))
    other = write(tmp_path / "other.yaml", url, alert("other_file"))
    sentinel("apply", other)
    watched = apply_if_changed([path], prune=True)

    write(tmp_path / "alerts.yaml", url, alert("keep"))
    pruned = apply_if_changed([path], watched.hash, prune=True)

    assert "  delete    alert drop" in pruned.lines and pruned.applied
    assert sorted(Alert.objects.values_list("name", flat=True)) == ["keep", "other_file"]
    # apply --prune without --watch would have deleted other.yaml's alert: it is not among the given files.
    code, out = sentinel("apply", path, "--prune", "--dry-run")
    assert "  delete    alert other_file" in out


@pytest.mark.django_db
def test_apply_without_files_applies_sentinel_config_files_or_says_there_are_none(tmp_path, sqlite_db, settings):
    settings.SENTINEL_CONFIG_FILES = []
    assert sentinel("apply") == (0, "No FILE given and SENTINEL_CONFIG_FILES is not set: nothing to apply.\n")

    path = write(tmp_path / "alerts.yaml", sqlite_db[0], alert("keep"), alert("drop"))
    settings.SENTINEL_CONFIG_FILES = [path]
    code, out = sentinel("apply")
    assert code == 0 and "Applied." in out

    write(tmp_path / "alerts.yaml", sqlite_db[0], alert("keep"))
    code, out = sentinel("apply")
    assert code == 0 and "  disable   alert drop" in out  # as beat keeps them
    assert not Alert.objects.get(name="drop").enabled

    (tmp_path / "alerts.yaml").write_text("alerts: [")
    code, out = sentinel("apply")
    assert code == 1 and f"{path}:1:" in out and Alert.objects.get(name="keep").enabled


def test_watch_refuses_dry_run_and_nothing_to_watch(settings):
    settings.SENTINEL_CONFIG_FILES = []
    with pytest.raises(Exception, match="Give the files to watch, or set SENTINEL_CONFIG_FILES"):
        sentinel("apply", "--watch")
    with pytest.raises(Exception, match="--dry-run changes nothing"):
        sentinel("apply", "--watch", "--dry-run", "alerts.yaml")


# --- (b) beat with SENTINEL_CONFIG_FILES, and a worker: real processes -------------------------

POLL_SECONDS = 2
# Beat's loop: it looks at its schedule at least every SENTINEL_BEAT_LEASE_SECONDS / 3 (schedules/beat.py).
BEAT_LOOP_SECONDS = 15 / 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.processes
@pytest.mark.needs_redis
@pytest.mark.needs_postgres
def test_beat_applies_an_edit_within_one_beat_loop_and_a_broken_edit_leaves_the_running_definitions(
        tmp_path, redis_server, processes, sqlite_db):
    url, set_knob = sqlite_db
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    path = write(config_dir / "alerts.yaml", url, alert("level_high"))
    env = process_env(tmp_path, redis_server.url, SENTINEL_CONFIG_FILES=path,
                      SENTINEL_CONFIG_POLL_SECONDS=POLL_SECONDS)
    beat = processes(beat_args(tmp_path, "beat"), env, tmp_path / "beat.log")
    worker = processes(worker_args("watch"), env, tmp_path / "worker.log")

    wait_until(lambda: Alert.objects.filter(name="level_high").exists(), 30, "beat to apply the file at start",
               log=beat.log)
    wait_until(lambda: Execution.objects.filter(alert__name="level_high").exists(), 40,
               "the file's alert to run", interval=0.3, log=worker.log)

    set_knob("level", 6)
    # A changed threshold, and a new alert on a schedule beat has no entry for yet.
    write(config_dir / "alerts.yaml", url, alert("level_high", threshold=7),
          alert("level_low", threshold=3, schedule="every 12 seconds"))
    edited_at = time.monotonic()
    wait_until(lambda: Alert.objects.filter(name="level_low").exists()
               and Alert.objects.get(name="level_high").threshold == 7,
               POLL_SECONDS + BEAT_LOOP_SECONDS, "the edit to be applied within one beat loop", interval=0.1,
               log=beat.log)
    applied_after = time.monotonic() - edited_at
    # The new alert runs at its schedule's next tick (every 12 seconds), with the new definitions.
    wait_until(lambda: Execution.objects.filter(alert__name="level_low").exclude(status=ExecutionStatus.RUNNING)
               .exists(), 12 + BEAT_LOOP_SECONDS + 10, "the new alert to run at its next tick", interval=0.2,
               log=worker.log)
    ran_after = time.monotonic() - edited_at
    assert Execution.objects.filter(alert__name="level_low").first().status == ExecutionStatus.ALERT
    print(f"edit applied after {applied_after:.1f} s, new alert ran after {ran_after:.1f} s")

    (config_dir / "alerts.yaml").write_text((config_dir / "alerts.yaml").read_text().replace("threshold: 3",
                                                                                            "threshold: [3"))
    broken_at = Execution.objects.filter(alert__name="level_low").count()
    wait_until(lambda: f"{path}:" in beat.output() and "the running definitions stay" in beat.output(),
               POLL_SECONDS + 10, "beat to report the broken file", log=beat.log)
    assert sorted(Alert.objects.values_list("name", "threshold", "enabled")) == [
        ("level_high", 7, True), ("level_low", 3, True)]
    wait_until(lambda: Execution.objects.filter(alert__name="level_low").count() > broken_at, 12 + 15,
               "the running definitions to keep running", interval=0.3, log=worker.log)


# --- (c) `sentinel apply --watch` as a process ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.processes
@pytest.mark.needs_redis
@pytest.mark.needs_postgres
def test_apply_watch_picks_up_an_edit_and_stops_on_sigterm_with_exit_0(tmp_path, redis_server, processes,
                                                                      sqlite_db):
    url = sqlite_db[0]
    path = write(tmp_path / "alerts.yaml", url, alert("level_high"))
    env = process_env(tmp_path, redis_server.url)
    watcher = processes([sys.executable, "manage.py", "sentinel", "apply", "--watch", path, "--interval", "0.2"],
                        env, tmp_path / "watch.log")

    wait_until(lambda: "Applied." in watcher.output(), 30, "the first apply", log=watcher.log)
    assert Alert.objects.get(name="level_high").threshold == 5

    write(tmp_path / "alerts.yaml", url, alert("level_high", threshold=8))
    wait_until(lambda: Alert.objects.get(name="level_high").threshold == 8, 10, "the edit to be applied",
               log=watcher.log)
    (tmp_path / "alerts.yaml").write_text("alerts: [")
    wait_until(lambda: "the running definitions stay" in watcher.output(), 10, "the broken edit reported",
               log=watcher.log)

    watcher.signal(signal.SIGTERM)
    assert watcher.wait(10) == 0
    out = watcher.output()
    assert "the files changed:" in out and f"{path}:1:" in out and out.rstrip().endswith("Stopped watching.")
    assert Alert.objects.get(name="level_high").threshold == 8


def test_the_release_step_applies_the_configured_files_before_beat_and_workers_start():
    from sentinel_project import procfile

    steps = [step.strip() for step in procfile.processes()["release"].split("&&")]

    assert steps.index("python manage.py sentinel apply") < steps.index("python manage.py sentinel sync-schedules")
