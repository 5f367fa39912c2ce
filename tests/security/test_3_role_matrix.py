"""Who may do what (docs/security.md §3): every role against every admin page, list action,
button and API endpoint. The table below is the decision; the test makes each request as each
role and compares the whole table, so a failure shows exactly which cells changed. Pages and
endpoints are read from the URLconf: a new one fails here until it has a row."""

from datetime import datetime, timedelta
from datetime import timezone as tz

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token, TokenProxy

from alerts import backtest, runner
from alerts.links import make_token
from alerts.models import Alert, Channel, Execution, Notification, Trigger
from schedules.models import Schedule
from tests.admin_helpers import ROLES, level_alert, role_user, said  # noqa: F401  (fixtures)
from tests.api_helpers import token_client
from tests.test_admin_alerts import form_data as alert_form

pytestmark = pytest.mark.django_db

# capability | the roles allowed ("-": nobody). Roles: tests/admin_helpers.py ROLES.
EXPECTED = """
admin GET index                                   | viewer editor ds-manager superuser
admin GET app_list alerts                         | viewer editor ds-manager superuser
admin GET app_list schedules                      | viewer editor ds-manager superuser
admin GET app_list auth                           | superuser
admin GET app_list authtoken                      | superuser

admin GET alerts_alert_changelist                 | viewer editor ds-manager superuser
admin GET alerts_alert_change                     | viewer editor ds-manager superuser
admin GET alerts_alert_history                    | viewer editor ds-manager superuser
admin GET alerts_alert_add                        | editor ds-manager superuser
admin GET alerts_alert_delete                     | editor ds-manager superuser
admin POST alerts_alert_run                       | editor ds-manager superuser
admin POST alerts_alert_enable                    | editor ds-manager superuser
admin POST alerts_alert_disable                   | editor ds-manager superuser
admin POST alerts_alert_silence                   | editor ds-manager superuser
admin POST alerts_alert_unsilence                 | editor ds-manager superuser
admin POST alerts_alert_test_query                | editor ds-manager superuser
admin POST alerts_alert_test_query_new            | editor ds-manager superuser
admin POST alerts_alert_backtest                  | editor ds-manager superuser
admin POST alerts_alert_backtest_new              | editor ds-manager superuser
admin GET alerts_alert_backtest_status            | viewer editor ds-manager superuser
admin POST alerts_alert_backtest_cancel           | editor ds-manager superuser
admin action alerts.alert run_selected            | editor ds-manager superuser
admin action alerts.alert enable_selected         | editor ds-manager superuser
admin action alerts.alert disable_selected        | editor ds-manager superuser
admin action alerts.alert unsilence_selected      | editor ds-manager superuser
admin action alerts.alert delete_selected         | editor ds-manager superuser

admin GET alerts_datasource_changelist            | viewer editor ds-manager superuser
admin GET alerts_datasource_change                | viewer editor ds-manager superuser
admin GET alerts_datasource_history               | viewer editor ds-manager superuser
admin GET alerts_datasource_add                   | ds-manager superuser
admin GET alerts_datasource_delete                | ds-manager superuser
admin POST alerts_datasource_test                 | ds-manager superuser
admin POST alerts_datasource_test_new             | ds-manager superuser
admin POST alerts_datasource_test_unsaved         | ds-manager superuser
admin action alerts.datasource delete_selected    | ds-manager superuser

admin GET alerts_channel_changelist               | viewer editor ds-manager superuser
admin GET alerts_channel_change                   | viewer editor ds-manager superuser
admin GET alerts_channel_history                  | viewer editor ds-manager superuser
admin GET alerts_channel_add                      | editor ds-manager superuser
admin GET alerts_channel_delete                   | editor ds-manager superuser
admin POST alerts_channel_test                    | editor ds-manager superuser
admin action alerts.channel send_test_message     | editor ds-manager superuser
admin action alerts.channel delete_selected       | editor ds-manager superuser

admin GET schedules_schedule_changelist           | viewer editor ds-manager superuser
admin GET schedules_schedule_change               | viewer editor ds-manager superuser
admin GET schedules_schedule_history              | viewer editor ds-manager superuser
admin GET schedules_schedule_preview              | viewer editor ds-manager superuser
admin GET schedules_schedule_add                  | editor ds-manager superuser
admin GET schedules_schedule_delete               | editor ds-manager superuser
admin action schedules.schedule delete_selected   | editor ds-manager superuser

admin GET alerts_execution_changelist             | viewer editor ds-manager superuser
admin GET alerts_execution_change                 | viewer editor ds-manager superuser
admin GET alerts_execution_history                | viewer editor ds-manager superuser
admin GET alerts_execution_add                    | -
admin GET alerts_execution_delete                 | -
admin action alerts.execution delete_selected     | -
admin GET alerts_notification_changelist          | viewer editor ds-manager superuser
admin GET alerts_notification_change              | viewer editor ds-manager superuser
admin GET alerts_notification_history             | viewer editor ds-manager superuser
admin GET alerts_notification_add                 | -
admin GET alerts_notification_delete              | -
admin action alerts.notification delete_selected  | -

admin GET auth_user_changelist                    | superuser
admin GET auth_user_change                        | superuser
admin GET auth_user_history                       | superuser
admin GET auth_user_add                           | superuser
admin GET auth_user_delete                        | superuser
admin GET auth_user_password_change               | superuser
admin action auth.user delete_selected            | superuser
admin GET auth_group_changelist                   | superuser
admin GET auth_group_change                       | superuser
admin GET auth_group_history                      | superuser
admin GET auth_group_add                          | superuser
admin GET auth_group_delete                       | superuser
admin action auth.group delete_selected           | superuser
admin GET authtoken_tokenproxy_changelist         | superuser
admin GET authtoken_tokenproxy_change             | superuser
admin GET authtoken_tokenproxy_history            | superuser
admin GET authtoken_tokenproxy_add                | superuser
admin GET authtoken_tokenproxy_delete             | superuser

api GET api-root                                  | token-only viewer editor ds-manager superuser
api GET api-schema                                | token-only viewer editor ds-manager superuser
api GET api-docs                                  | token-only viewer editor ds-manager superuser
api GET preset-list                               | token-only viewer editor ds-manager superuser
api GET alert-list                                | viewer editor ds-manager superuser
api POST alert-list                               | editor ds-manager superuser
api GET alert-detail                              | viewer editor ds-manager superuser
api PUT alert-detail                              | editor ds-manager superuser
api PATCH alert-detail                            | editor ds-manager superuser
api DELETE alert-detail                           | editor ds-manager superuser
api GET alert-schedule                            | viewer editor ds-manager superuser
api GET alert-stats                               | viewer editor ds-manager superuser
api POST alert-run                                | editor ds-manager superuser
api POST alert-enable                             | editor ds-manager superuser
api POST alert-disable                            | editor ds-manager superuser
api POST alert-silence                            | editor ds-manager superuser
api POST alert-unsilence                          | editor ds-manager superuser
api POST alert-backtest                           | editor ds-manager superuser
api POST backtest-list                            | editor ds-manager superuser
api GET backtest-detail                           | viewer editor ds-manager superuser
api POST backtest-cancel                          | editor ds-manager superuser
api GET execution-list                            | viewer editor ds-manager superuser
api GET execution-detail                          | viewer editor ds-manager superuser
api GET notification-list                         | viewer editor ds-manager superuser
api GET notification-detail                       | viewer editor ds-manager superuser
api GET datasource-list                           | viewer editor ds-manager superuser
api GET datasource-detail                         | viewer editor ds-manager superuser
api GET channel-list                              | viewer editor ds-manager superuser
api GET channel-detail                            | viewer editor ds-manager superuser
api GET schedule-list                             | viewer editor ds-manager superuser
api GET schedule-detail                           | viewer editor ds-manager superuser
api GET stats                                     | viewer editor ds-manager superuser

site GET silence-link                             | anonymous token-only viewer editor ds-manager superuser
site POST silence-link                            | anonymous token-only viewer editor ds-manager superuser
site GET healthz                                  | anonymous token-only viewer editor ds-manager superuser
site GET readyz                                   | anonymous token-only viewer editor ds-manager superuser
site GET health                                   | anonymous token-only viewer editor ds-manager superuser
site GET ready                                    | anonymous token-only viewer editor ds-manager superuser
site GET metrics                                  | anonymous token-only viewer editor ds-manager superuser
site GET favicon                                  | anonymous token-only viewer editor ds-manager superuser
"""

# Django's own admin views, whose rules Django keeps: signing in and out, the user's own
# password, translations, the autocomplete of a field the user may already edit, and the
# "view on site" redirect (no Sentinel model has a public page).
DJANGO_OWN = {"login", "logout", "password_change", "password_change_done", "jsi18n", "autocomplete",
              "view_on_site"}
MODEL_PAGES = ("changelist", "add", "change", "history", "delete")


def parse(table: str) -> dict[str, tuple[str, ...]]:
    rows = {}
    for line in table.strip().splitlines():
        if line.strip():
            capability, roles = (part.strip() for part in line.split("|"))
            rows[capability] = () if roles == "-" else tuple(roles.split())
    return rows


def render(rows: dict) -> str:
    width = max(map(len, rows))
    return "\n".join(f"{capability:<{width}} | {' '.join(roles) or '-'}" for capability, roles in rows.items())


# --- what exists: read from the URLconf and the admin's registry ------------------------


def _patterns(patterns, prefix=""):
    """(route prefix, URLPattern) for every view in the URLconf, includes opened."""
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix, pattern


def discovered() -> set[str]:
    """Every capability the project offers today, in the table's words."""
    found = set()
    for prefix, pattern in _patterns(get_resolver().url_patterns):
        name = pattern.name
        if "(?P<format>" in str(pattern.pattern):
            continue  # the same endpoint with a .json suffix
        if prefix.startswith("admin/") and (name in DJANGO_OWN or name is None):
            continue  # Django's own views; unnamed: its redirects to a named page, and the catch-all
        assert name, f"/{prefix}{pattern.pattern} has no name: name it, and give it a row"
        if prefix.startswith("admin/"):
            if name == "app_list":
                found |= {f"admin GET app_list {m._meta.app_label}" for m in admin.site._registry}
            else:
                found.add(f"admin {'POST' if name in POSTED else 'GET'} {name}")
        elif prefix.startswith("api/"):
            for method in getattr(pattern.callback, "actions", None) or {"get": None}:
                if method == "head":
                    continue  # DRF adds head beside get to the shared actions at the first GET: GET's row holds
                found.add(f"api {method.upper()} {name}")
        else:
            found |= {f"site {method} {name}" for method in SITE_METHODS.get(name, ("GET",))}
    for model, model_admin in admin.site._registry.items():
        if model_admin.actions is None:
            continue  # the admin has no list actions at all (DRF's tokens)
        for _func, name, _description in model_admin._get_base_actions():  # before permissions filter them
            found.add(f"admin action {model._meta.label_lower} {name}")
    return found


POSTED = {"alerts_alert_run", "alerts_alert_enable", "alerts_alert_disable", "alerts_alert_silence",
          "alerts_alert_unsilence", "alerts_alert_test_query", "alerts_alert_test_query_new",
          "alerts_datasource_test", "alerts_datasource_test_new", "alerts_datasource_test_unsaved",
          "alerts_channel_test", "alerts_alert_backtest", "alerts_alert_backtest_new", "alerts_alert_backtest_cancel"}
SITE_METHODS = {"silence-link": ("GET", "POST")}


# --- the world the requests act on -----------------------------------------------------------


@pytest.fixture
def world(level_alert, role_user):
    alert = level_alert
    alert.schedule = Schedule.objects.create(cron="*/5 * * * *", timezone="UTC")
    alert.save()
    alert.datasource.name = "default"  # the API's default datasource for a new alert
    alert.datasource.save()
    alert.set_knob("level", 9)
    runner.run(alert, timezone.now(), Trigger.MANUAL)  # an execution, and a notification of the firing
    execution, notification = Execution.objects.get(), Notification.objects.get()
    users = {role: role_user(role) for role in ROLES}
    # A channel with stored secrets: its read-only page is the one that must render, masked.
    hook = Channel.objects.create(name="hook", kind="webhook", config={
        "url": "http://127.0.0.1:9/hook", "secret": "sign-me-please", "headers": {"Authorization": "Bearer tok-1"}})
    ticks = alert.schedule.ticks(timezone.now() - timedelta(hours=1), until=timezone.now())
    replayed = backtest.start(alert, [], ticks[0], ticks[-1], saved=alert)  # queued: run only after a commit
    return {
        "alert": alert, "datasource": alert.datasource, "channel": hook, "schedule": alert.schedule,
        "execution": execution, "notification": notification, "users": users, "backtest": replayed,
        "objects": {
            "alerts.alert": alert, "alerts.datasource": alert.datasource, "alerts.channel": hook,
            "schedules.schedule": alert.schedule, "alerts.execution": execution,
            "alerts.notification": notification, "auth.user": users["viewer"],
            "auth.group": Group.objects.get(name="Sentinel viewers"),
            "authtoken.tokenproxy": TokenProxy.objects.get(pk=Token.objects.create(user=users["viewer"]).pk),
        },
    }


def _datasource_form(w):
    return {"name": "warehouse", "url": w["datasource"].url, "timeout_seconds": "5", "row_limit": "1000",
            "enabled": "on"}


def _new_alert(w, **changes):
    return {"name": "matrix-new", "query": "SELECT 'OK' AS status", "schedule": "*/5 * * * *", "timezone": "UTC",
            "channels": [w["channel"].name], **changes}


def _admin_request(capability, web, w):
    _, verb, *rest = capability.split()
    if verb == "action":
        label, name = rest
        model = next(m for m in admin.site._registry if m._meta.label_lower == label)
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        return web.post(changelist, {"action": name, "_selected_action": [w["objects"][label].pk], "index": "0"})
    if rest[0] == "app_list":
        return web.get(reverse("admin:app_list", args=[rest[1]]))
    name = rest[0]
    if name == "index":
        return web.get(reverse("admin:index"))
    recipes = {
        "alerts_alert_silence": {"duration": "1h", "reason": "matrix"},
        "alerts_alert_test_query": alert_form(w["datasource"]),
        "alerts_alert_test_query_new": alert_form(w["datasource"]),
        "alerts_datasource_test_new": _datasource_form(w),
        "alerts_datasource_test_unsaved": _datasource_form(w),
        "alerts_alert_backtest": {**alert_form(w["datasource"]), "sn_backtest_since": "1h"},
        "alerts_alert_backtest_new": {**alert_form(w["datasource"]), "sn_backtest_since": "1h"},
    }
    if name in ("alerts_alert_backtest_status", "alerts_alert_backtest_cancel"):
        url = reverse(f"admin:{name}", args=[w["backtest"].pk])
        return web.post(url) if name in POSTED else web.get(url)
    if name == "schedules_schedule_preview":
        return web.get(reverse("admin:schedules_schedule_preview"), {"text": "@daily", "timezone": "UTC"})
    if name == "auth_user_password_change":
        return web.get(reverse("admin:auth_user_password_change", args=[w["users"]["viewer"].pk]))
    owner = {"alert": "alerts.alert", "datasource": "alerts.datasource", "channel": "alerts.channel"}
    page = name.rsplit("_", 1)[-1]
    if name in POSTED:
        kind = name.split("_")[1]
        args = [] if name.endswith("_new") else [w["objects"][owner[kind]].pk]
        return web.post(reverse(f"admin:{name}", args=args), recipes.get(name, {}))
    assert page in MODEL_PAGES, f"{capability}: the test does not know how to request it; teach _admin_request"
    label = next(m._meta.label_lower for m in admin.site._registry
                 if name == f"{m._meta.app_label}_{m._meta.model_name}_{page}")
    args = [w["objects"][label].pk] if page in ("change", "history", "delete") else []
    return web.get(reverse(f"admin:{name}", args=args))


def _api_request(capability, api, w):
    _, method, name = capability.split()
    alert = w["alert"].name
    paths = {
        "api-root": "/api/", "api-schema": "/api/schema/", "api-docs": "/api/docs/", "preset-list": "/api/presets",
        "alert-list": "/api/alerts", "alert-detail": f"/api/alerts/{alert}",
        "execution-list": "/api/executions", "execution-detail": f"/api/executions/{w['execution'].pk}",
        "notification-list": "/api/notifications", "notification-detail": f"/api/notifications/{w['notification'].pk}",
        "datasource-list": "/api/datasources", "datasource-detail": f"/api/datasources/{w['datasource'].name}",
        "channel-list": "/api/channels", "channel-detail": f"/api/channels/{w['channel'].name}",
        "schedule-list": "/api/schedules", "schedule-detail": f"/api/schedules/{w['schedule'].pk}",
        "stats": "/api/stats",
        "backtest-list": "/api/backtests", "backtest-detail": f"/api/backtests/{w['backtest'].pk}",
        "backtest-cancel": f"/api/backtests/{w['backtest'].pk}/cancel",
    }
    if name.startswith("alert-") and name not in paths:
        paths[name] = f"/api/alerts/{alert}/{name.removeprefix('alert-')}"
    assert name in paths, f"{capability}: the test does not know how to request it; teach _api_request"
    bodies = {
        ("POST", "alert-list"): _new_alert(w),
        ("PUT", "alert-detail"): _new_alert(w, name=alert),
        ("PATCH", "alert-detail"): {"severity": "info"},
        ("POST", "alert-silence"): {"until": (timezone.now() + timedelta(hours=1)).isoformat(), "reason": "matrix"},
        ("POST", "alert-backtest"): {"since": "1h"},
        ("POST", "backtest-list"): {"alert": _new_alert(w), "since": "1h"},
    }
    return getattr(api, method.lower())(paths[name], bodies.get((method, name)), format="json")


def _site_request(capability, web, w):
    _, method, name = capability.split()
    if name == "silence-link":
        token = make_token(w["alert"].pk, 1, "email", datetime.now(tz.utc))
        url = reverse("silence-link", args=[token])
        return web.post(url, {"who": "matrix"}) if method == "POST" else web.get(url)
    if name in ("readyz", "ready"):
        return web.get(reverse(name), {"checks": "database"})
    return web.get(reverse(name))


class Undo(Exception):
    """Raised to roll a request's writes back, so every cell starts from the same world."""


def outcome(capability, response):
    """True (allowed), False (refused), or what happened when it is neither."""
    code = response.status_code
    if code in (401, 403) or (code == 302 and response["Location"].startswith("/admin/login/")):
        return False
    if capability.startswith("admin ") and code == 404:  # an app the user has nothing in
        return False
    if code == 302 and response["Location"] == reverse("admin:index"):
        return "302 to the index: no such object"  # Django's answer before it checks permissions
    if capability.startswith("admin action ") and code in (200, 302):
        # Django answers an action it does not offer this user with the list again.
        offered = not any("No action selected" in m for m in said(response))
        shown_the_list = code == 200 and any(t.name.endswith("change_list.html") for t in response.templates)
        return offered and not shown_the_list
    return True if 200 <= code < 400 else f"HTTP {code}"


def actual_table(w, capabilities) -> dict:
    table = {capability: [] for capability in capabilities}
    for role in ROLES:
        user = w["users"][role]
        web = Client()
        if user is not None:
            web.force_login(user)
        api = token_client(user)
        for capability in capabilities:
            face = capability.split()[0]
            try:
                with transaction.atomic():
                    if face == "api":
                        response = _api_request(capability, api, w)
                    elif face == "admin":
                        response = _admin_request(capability, web, w)
                    else:
                        response = _site_request(capability, web, w)
                    raise Undo
            except Undo:
                pass
            result = outcome(capability, response)
            if result is True:
                table[capability].append(role)
            elif result is not False:
                table[capability].append(f"{role}({result})")
    return {capability: tuple(roles) for capability, roles in table.items()}


def test_every_page_action_button_and_endpoint_has_a_row_in_the_table():
    expected, found = set(parse(EXPECTED)), discovered()

    assert sorted(found - expected) == [], "new pages or endpoints: decide who may use them and add rows"
    assert sorted(expected - found) == [], "rows for pages or endpoints that no longer exist"


def test_each_role_can_do_exactly_what_the_table_says(world):
    expected = parse(EXPECTED)

    found = discovered()

    actual = actual_table(world, [c for c in expected if c in found])

    assert render(actual) == render({c: r for c, r in expected.items() if c in actual})


def test_a_silence_link_silences_its_own_alert_only(world, make_alert):
    other = make_alert(world["datasource"], "SELECT 'OK' AS status", name="other")
    token = make_token(world["alert"].pk, 1, "email", datetime.now(tz.utc))

    Client().post(reverse("silence-link", args=[token]), {"who": "someone", "alert": other.pk})

    assert Alert.objects.get(pk=world["alert"].pk).is_silenced() and not Alert.objects.get(pk=other.pk).is_silenced()


def test_a_token_without_permissions_reads_no_results_datasource_or_channel(world):
    api = token_client(world["users"]["token-only"])

    for path in ("/api/executions", f"/api/executions/{world['execution'].pk}", "/api/datasources",
                 "/api/channels", "/api/notifications", "/api/alerts", "/api/schedules"):
        response = api.get(path)
        assert response.status_code == 403, path
        assert "permission" in response.json()["detail"]


def test_viewers_are_offered_no_buttons_and_no_list_actions(world):
    viewer = Client()
    viewer.force_login(world["users"]["viewer"])

    alert_page = viewer.get(reverse("admin:alerts_alert_change", args=[world["alert"].pk])).content.decode()
    channels = viewer.get(reverse("admin:alerts_channel_changelist")).content.decode()
    alerts = viewer.get(reverse("admin:alerts_alert_changelist")).content.decode()

    for button in ("sn-run-now", "sn-disable", "sn-silence", "data-test-query-url"):
        assert button not in alert_page
    assert 'value="send_test_message"' not in channels and 'value="run_selected"' not in alerts


def test_editors_choose_a_datasource_and_test_a_query_but_cannot_touch_the_datasource(world):
    editor = Client()
    editor.force_login(world["users"]["editor"])

    add_page = editor.get(reverse("admin:alerts_alert_add")).content.decode()
    datasource_page = editor.get(reverse("admin:alerts_datasource_change", args=[world["datasource"].pk]))
    tested = editor.post(reverse("admin:alerts_alert_test_query_new"), alert_form(world["datasource"]))

    assert f'<option value="{world["datasource"].pk}"' in add_page and "data-test-query-url" in add_page
    assert tested.status_code == 200 and 'class="sn-dry"' in tested.content.decode()
    page = datasource_page.content.decode()
    assert datasource_page.status_code == 200 and "sn-test-connection" not in page
    assert "sn-test-unsaved-connection" not in page and 'name="url"' not in page


def test_the_migration_splits_datasource_managers_from_editors():
    editors = set(Group.objects.get(name="Sentinel editors").permissions.values_list("codename", flat=True))
    managers = set(Group.objects.get(name="Sentinel datasource managers").permissions.values_list("codename",
                                                                                                   flat=True))

    assert "view_datasource" in editors and not editors & {"add_datasource", "change_datasource", "delete_datasource"}
    assert managers == editors | {"add_datasource", "change_datasource", "delete_datasource"}
    assert not User.objects.filter(groups__name="Sentinel datasource managers").exists()  # joined by hand
