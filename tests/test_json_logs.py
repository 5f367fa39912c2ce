"""LOG_FORMAT=json: one JSON line per execution and per delivery, with the ids as fields."""

import io
import json
import logging
import subprocess
import sys

import pytest
from django.utils import timezone

from alerts import runner
from alerts.models import Notification, Trigger
from sentinel_project.logs import JsonFormatter
from tests.factories import LEVEL_QUERY
from tests.ops_processes import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("sentinel.runner", "sentinel.delivery")]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)


def test_an_execution_and_its_delivery_log_one_json_line_each_with_ids(json_lines, sqlite_db, make_datasource,
                                                                        make_alert, log_channel):
    url, set_knob = sqlite_db
    alert = make_alert(make_datasource(url), LEVEL_QUERY, name="disk_full", channels=[log_channel])
    set_knob("level", 9)

    execution = runner.run(alert, timezone.now(), Trigger.MANUAL)

    notification = Notification.objects.get(execution=execution)
    lines = json_lines()
    executions = [line for line in lines if line["logger"] == "sentinel.runner"]
    deliveries = [line for line in lines if line["logger"] == "sentinel.delivery"]
    assert len(executions) == 1 and len(deliveries) == 1
    assert executions[0] | {"alert": "disk_full", "alert_id": alert.pk, "execution": execution.pk,
                            "status": "ALERT"} == executions[0]
    assert deliveries[0] | {"notification": notification.pk, "alert_id": alert.pk, "execution": execution.pk,
                            "channel": "log", "event": "firing"} == deliveries[0]
    assert deliveries[0]["level"] == "INFO" and deliveries[0]["time"].endswith("+00:00")


def test_log_format_json_is_what_the_settings_configure_and_anything_else_is_refused():
    code = ("import logging, django; django.setup(); "
            "logging.getLogger('sentinel.runner').info('alert=%s execution=%s', 'a', 7)")
    env = {"DJANGO_SETTINGS_MODULE": "sentinel_project.settings", "LOG_FORMAT": "json",
           "SENTINEL_VAR_DIR": "/tmp/sentinel-test-var", "PATH": "/usr/bin:/bin"}

    good = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    bad = subprocess.run([sys.executable, "-c", code], env={**env, "LOG_FORMAT": "xml"}, cwd=ROOT,
                         capture_output=True, text=True)

    assert json.loads(good.stderr.strip().splitlines()[-1])["execution"] == 7
    assert bad.returncode != 0 and "LOG_FORMAT='xml': use plain or json" in bad.stderr
