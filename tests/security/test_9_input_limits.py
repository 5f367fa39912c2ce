"""Input that would exhaust Sentinel or mislead people is refused where it comes in (docs/security.md §9):
YAML alias bombs and alias loops, crons that never fire, chat markup in query data."""

import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.urls import reverse

from alerts import delivery
from alerts.config.files import load_text
from alerts.models import Alert
from schedules.models import Schedule
from tests.api_helpers import admin_token, api  # noqa: F401  (fixtures)
from tests.factories import sentinel
from tests.notify_peers import http_receiver, make_notification  # noqa: F401  (fixtures)
from tests.test_admin_alerts import form_data

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

# Nine lists of nine aliases of the list before: 8 lines, 9**9 (387 million) values once expanded.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [" + ", ".join([f"*{before}"] * 9) + "]\n" for before, name in zip("abcdefgh", "bcdefghi"))

LOAD_IN_A_SMALL_PROCESS = """
import sys, django
django.setup()
from alerts.config.files import load_text
path = sys.argv[1]
for error in load_text(open(path).read(), path).errors:
    print(error)
"""


def test_an_alias_bomb_is_refused_with_file_and_line_quickly_and_in_bounded_memory(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SENTINEL_")) and k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="sentinel_project.settings", SENTINEL_VAR_DIR=str(tmp_path / "var"))

    def half_a_gigabyte():
        resource.setrlimit(resource.RLIMIT_AS, (512 * 2**20, 512 * 2**20))

    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", LOAD_IN_A_SMALL_PROCESS, str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, preexec_fn=half_a_gigabyte)

    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - started < 30
    [error] = result.stdout.splitlines()
    assert error.startswith(f"{path}:") and "aliases" in error and "more than 200,000 values" in error
    assert int(error.split(":")[1]) in range(2, 10)


@pytest.mark.parametrize("text, line", [
    ("alerts: &loop\n  - *loop\n", 2),
    ("channels:\n  team: &me\n    kind: log\n    again: *me\n", 4),
])
def test_an_alias_inside_its_own_anchor_is_refused_with_file_and_line(text, line):
    [error] = load_text(text, "loop.yaml").errors

    assert str(error).startswith(f"loop.yaml:{line}: ") and "inside its own anchor" in str(error)


NEVER = "0 0 31 2 *"


@pytest.fixture
def source(sqlite_db, make_datasource):
    return make_datasource(sqlite_db[0], name="default")


@pytest.mark.parametrize("cron", [NEVER, "0 0 30 2 *", "15 10 31 4,6,9,11 *"])
def test_a_cron_that_never_fires_is_refused_by_the_admin_the_api_and_a_file(admin_client, api, source, tmp_path,
                                                                              cron):
    response = admin_client.post(reverse("admin:alerts_alert_add"), form_data(source, schedule_text=cron))
    assert response.status_code == 200, "the form was accepted"
    [said] = response.context["adminform"].form.errors["schedule_text"]
    assert "never fires" in said

    response = api.post("/api/alerts", {"name": "never", "query": "SELECT 1 AS value", "schedule": cron},
                        format="json")
    assert response.status_code == 400 and "never fires" in str(response.json()["schedule"])

    path = tmp_path / "alerts.yaml"
    path.write_text(textwrap.dedent(f"""\
        database:
          url: sqlite://
        alerts:
          - name: never
            query: SELECT 1 AS value
            schedule: "{cron}"
        """))
    code, out = sentinel("validate", str(path))
    assert code == 1 and f"{path}:6:" in out and "never fires" in out

    preview = admin_client.get(reverse("admin:schedules_schedule_preview"), {"text": cron})
    assert preview.status_code == 400 and "never fires" in preview.json()["error"]
    assert not Alert.objects.filter(name="never").exists()


def test_a_stored_schedule_that_never_fires_answers_without_runs_not_500(api, source, make_alert):
    """A row saved before the check existed: the API lists it with no runs for every client."""
    schedule = Schedule.objects.create(cron=NEVER, timezone="Europe/Berlin")
    make_alert(source, "SELECT 1 AS value", name="leap", schedule=schedule)

    listed = api.get("/api/schedules")
    one = api.get(f"/api/schedules/{schedule.pk}")
    alert = api.get("/api/alerts/leap/schedule")

    assert listed.status_code == 200 and one.status_code == 200 and alert.status_code == 200
    assert one.json()["next_runs"] == [] and alert.json()["next_runs"] == [] and alert.json()["next_run"] is None


def test_chat_markup_in_query_data_reaches_slack_escaped(http_receiver, make_notification):
    """The receiver answers as Slack's incoming webhooks do: 200, text/plain `ok`."""
    http_receiver.reply_body = b"ok"
    notification = make_notification("slack", {"webhook_url": http_receiver.url + "/services/T0/B0/XYZ"},
                                     key="<!channel> & <@U123ABC> <https://evil.example|click>")

    assert delivery.deliver(notification.pk).status == "sent"

    body = http_receiver.wait_for(1)[0].json()
    escaped = "&lt;!channel&gt; &amp; &lt;@U123ABC&gt; &lt;https://evil.example|click&gt;"
    assert escaped in body["text"]
    mrkdwn = [body["text"]] + [block["text"]["text"] for block in body["attachments"][0]["blocks"]
                               if block["type"] == "section" and "text" in block]
    assert all("<!channel>" not in text and "<@U123ABC>" not in text for text in mrkdwn)


def test_beat_and_manual_runs_live_with_a_stored_schedule_that_never_fires(source, make_alert):
    """Beat evaluates every entry in one loop: one never-firing row must not stop the others."""
    from datetime import datetime, timezone as tz

    from django.utils import timezone

    from alerts import runner
    from alerts.models import Trigger
    from schedules.beat import SentinelTicks

    ticks = SentinelTicks(cron=NEVER, tz="Europe/Berlin")
    due, next_check = ticks.is_due(datetime(2026, 12, 1, tzinfo=tz.utc))
    assert due is False and next_check > 0

    schedule = Schedule.objects.create(cron=NEVER, timezone="Europe/Berlin")
    alert = make_alert(source, "SELECT 1 AS value", name="leap-manual", schedule=schedule, mode="rows")
    execution = runner.run(alert, timezone.now(), Trigger.MANUAL)
    assert execution.status != "RUNNING" and execution.finished_at is not None
