"""The API through its own OpenAPI schema, with schemathesis: generated requests to every
operation, authenticated, must never get a 500 and every answer must match the schema."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from alerts.models import Channel
from tests.factories import LEVEL_QUERY

# schemathesis 3 warns about its own deprecations (and jsonschema's) on every case.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)


@pytest.fixture
def api_schema(admin_client):
    document = admin_client.get("/api/schema/?format=json").json()  # signed-in users only
    return schemathesis.from_dict(document, app=get_wsgi_application(), base_url="/")


schema = schemathesis.from_pytest_fixture("api_schema")


@pytest.fixture
def token(db, sqlite_db, make_datasource, make_alert, django_user_model):
    """A superuser's token, and a little of everything for the generated requests to find."""
    user = django_user_model.objects.create_superuser("fuzz", "fuzz@example.com", "pw")
    datasource = make_datasource(sqlite_db[0], name="default")
    channel = Channel.objects.create(name="log", kind="log")
    alert = make_alert(datasource, LEVEL_QUERY, name="a", channels=[channel])
    from django.utils import timezone

    from alerts import runner
    from alerts.models import Trigger

    runner.run(alert, timezone.now(), Trigger.MANUAL)
    return Token.objects.create(user=user).key


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_operation_answers_per_its_schema(case, token, wsgi_in_test_transaction):
    response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=CHECKS)


@pytest.fixture
def wsgi_in_test_transaction(settings):
    """Serve requests inside the test's transaction, as Django's test client does: a finished
    request must not close the connection; and let a 500's exception reach the test with its traceback."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    settings.DEBUG_PROPAGATE_EXCEPTIONS = True
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def loaded_schema(admin_client):
    return schemathesis.from_dict(admin_client.get("/api/schema/?format=json").json(), app=get_wsgi_application(),
                                  base_url="/")


def test_successful_answers_of_every_read_and_action_match_the_schema(loaded_schema, token, wsgi_in_test_transaction,
                                                                      django_capture_on_commit_callbacks):
    """Generated path values rarely name a stored object; here every operation is called on real ones."""
    from alerts.models import Alert, Execution
    from schedules.models import Schedule

    alert = Alert.objects.get(name="a")
    alert.schedule = Schedule.objects.create(cron="0 9 * * 1-5", timezone="Europe/Berlin")
    alert.save()
    ids = {"executions": Execution.objects.first().pk, "schedules": alert.schedule.pk}
    calls = [
        ("GET", "/api/alerts/{name}", {"name": "a"}, None, {}),
        ("GET", "/api/alerts/{name}/schedule", {"name": "a"}, None, {}),
        ("GET", "/api/alerts/{name}/stats", {"name": "a"}, None, {"since": "7d"}),
        ("GET", "/api/stats", {}, None, {}),
        ("POST", "/api/alerts/{name}/run", {"name": "a"}, None, {"dry_run": "1"}),
        ("POST", "/api/alerts/{name}/run", {"name": "a"}, None, {}),
        ("POST", "/api/alerts/{name}/disable", {"name": "a"}, None, {}),
        ("POST", "/api/alerts/{name}/enable", {"name": "a"}, None, {}),
        ("POST", "/api/alerts/{name}/silence", {"name": "a"}, {"duration": "1h", "reason": "test"}, {}),
        ("POST", "/api/alerts/{name}/unsilence", {"name": "a"}, None, {}),
        ("PATCH", "/api/alerts/{name}", {"name": "a"}, {"severity": "critical"}, {}),
        ("GET", "/api/datasources/{name}", {"name": "default"}, None, {}),
        ("GET", "/api/channels/{name}", {"name": "log"}, None, {}),
        ("GET", "/api/executions/{id}", {"id": ids["executions"]}, None, {}),
        ("GET", "/api/schedules/{id}", {"id": ids["schedules"]}, None, {}),
        ("GET", "/api/executions", {}, None, {"alert": "a", "status": "OK"}),
        ("GET", "/api/notifications", {}, None, {"alert": "a"}),
    ]
    for method, path, path_parameters, body, query in calls:
        extra = {"body": body, "media_type": "application/json"} if body else {}
        case = loaded_schema[path][method].make_case(path_parameters=path_parameters, query=query, **extra)
        with django_capture_on_commit_callbacks(execute=True):
            response = case.call(headers={"Authorization": f"Token {token}"})
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        case.validate_response(response, checks=CHECKS)
