from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from schedules.cron import PRESETS
from schedules.models import Schedule

from .. import backtest, recording, runner, ticks
from ..models import Alert, Backtest, Channel, Datasource, Execution, Notification, SilenceError, Trigger
from ..queued_runs import start_run
from ..stats import alert_stats, overall_stats
from . import serializers as s
from .permissions import ReadsStatistics

NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"


def _who(request) -> str:
    return f"api:{request.user.get_username()}"


def stats_window(request):
    query = s.StatsQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["window"]


def filters(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v is not None}


def params_of(serializer_class) -> list[OpenApiParameter]:
    return [OpenApiParameter(name, _type_of(field), required=False, description=field.help_text or "",
                             enum=list(field.choices) if hasattr(field, "choices") else None)
            for name, field in serializer_class().fields.items()]


def _type_of(field):
    from rest_framework import serializers as f

    if isinstance(field, f.BooleanField):
        return OpenApiTypes.BOOL
    if isinstance(field, f.IntegerField):
        return OpenApiTypes.INT
    if isinstance(field, f.DateTimeField):
        return OpenApiTypes.DATETIME
    return OpenApiTypes.STR


def _past_tick(request):
    text = request.query_params.get("tick", "")
    if not text:
        return None
    try:
        return ticks.past_tick(text, timezone.now())
    except ticks.BadTick as exc:
        raise ValidationError({"tick": [str(exc)]}) from None


def _bound(binding, *, now: bool) -> dict | None:
    """The tick parameters a run bound (None when its query uses none), and whether for "now"."""
    return {**binding.values(), "now": now} if binding else None


@extend_schema_view(list=extend_schema(parameters=params_of(s.AlertFilter)))
class AlertViewSet(viewsets.ModelViewSet):
    """Alerts: the same keys as a config file's alerts:, plus their current state (read-only)."""

    queryset = Alert.objects.select_related("datasource", "schedule").prefetch_related("channels").order_by("name")
    serializer_class = s.AlertSerializer
    lookup_field = "name"
    lookup_value_regex = NAME

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        wanted = filters(s.AlertFilter, self.request)
        if "state" in wanted:
            queryset = queryset.filter(state=wanted["state"])
        if "datasource" in wanted:
            queryset = queryset.filter(datasource__name=wanted["datasource"])
        if "enabled" in wanted:
            queryset = queryset.filter(enabled=wanted["enabled"])
        return queryset

    @transaction.atomic
    def perform_create(self, serializer):
        serializer.save()

    @transaction.atomic
    def perform_update(self, serializer):
        serializer.save()

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Query and evaluate now, answer "
                                     "with the outcome; record and send nothing."),
                    OpenApiParameter("tick", OpenApiTypes.DATETIME, description="Rerun this past tick (ISO 8601, "
                                     "UTC without an offset): binds its :tick and window, answers as a dry run.")],
        responses={202: s.RunStarted, 200: s.DryRunResult},
    )
    @action(detail=True, methods=["post"])
    def run(self, request, name=None):
        """Run the alert now. Answers 202 with the execution id at once; a worker runs it."""
        alert = self.get_object()
        tick = _past_tick(request)
        # A past tick has its execution already (one per tick): its rerun is always a dry run.
        if tick or request.query_params.get("dry_run", "").lower() in ("1", "true", "yes"):
            dry = runner.run(alert, tick or timezone.now(), Trigger.API, dry_run=True)
            result = dry.result
            body = {
                "alert": alert.name, "dry_run": True, "status": dry.status, "value": dry.evaluation.value,
                "threshold": dry.evaluation.threshold, "error": dry.evaluation.error,
                "columns": list(result.columns) if result else [],
                "rows": [list(r) for r in recording.preview(result.rows)] if result else [],
                "transitions": [{"key": key, "state": moved.state.state, "events": [n.event for n in moved.notices]}
                                for key, moved in dry.transitions.items()],
                "bound": _bound(dry.binding, now=tick is None),
            }
            return Response(s.DryRunResult(body).data)
        with transaction.atomic():
            execution = start_run(alert)
        if execution is None:
            return Response({"detail": "A run of this alert was asked for at this very moment; try again."},
                            status=status.HTTP_409_CONFLICT)
        url = request.build_absolute_uri(f"/api/executions/{execution.pk}")
        bound = _bound(ticks.binding_if_used(alert, execution.scheduled_for), now=True)
        return Response(s.RunStarted({"execution_id": execution.pk, "alert": alert.name, "status": execution.status,
                                      "url": url, "bound": bound}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request, name=None):
        return self._set_enabled(True)

    @extend_schema(request=None, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, name=None):
        return self._set_enabled(False)

    def _set_enabled(self, enabled: bool):
        alert = self.get_object()
        alert.set_enabled(enabled, by=_who(self.request))
        return Response(s.AlertSerializer(alert).data)

    @extend_schema(request=s.SilenceSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def silence(self, request, name=None):
        """Silence notifications until a time or for a while; the alert keeps running and recording."""
        alert = self.get_object()
        body = s.SilenceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alert.silence(body.validated_data["until"], body.validated_data["reason"], by=_who(request))
        except SilenceError as exc:
            raise ValidationError({"reason": [str(exc)]}) from None
        return Response(s.AlertSerializer(alert).data)

    @extend_schema(request=None, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def unsilence(self, request, name=None):
        alert = self.get_object()
        alert.unsilence(by=_who(request))
        return Response(s.AlertSerializer(alert).data)

    @extend_schema(parameters=params_of(s.StatsQuery), responses=s.StatsSerializer)
    @action(detail=True, methods=["get"], permission_classes=[ReadsStatistics])
    def stats(self, request, name=None):
        """The alert's runs, success and error rates, durations, fire lag, last success and failure and
        time firing over a window (default: the last 24 hours)."""
        alert = self.get_object()
        return Response(s.StatsSerializer(alert_stats(alert, stats_window(request)).as_dict()).data)

    @extend_schema(responses=s.AlertSchedule)
    @action(detail=True, methods=["get"])
    def schedule(self, request, name=None):
        """Whether and when the alert runs: its cron, time zone, next run and the five after."""
        alert = self.get_object()
        schedule = alert.schedule
        upcoming = s.runs(schedule, 5) if schedule and alert.enabled else []
        body = {
            "alert": alert.name, "enabled": alert.enabled,
            "schedule": s.schedule_text(schedule) if schedule else None,
            "cron": schedule.cron if schedule else "",
            "interval_seconds": schedule.interval_seconds if schedule else None,
            "timezone": schedule.timezone if schedule else None,
            "next_run": upcoming[0] if upcoming else None,
            "next_runs": upcoming,
        }
        return Response(s.AlertSchedule(body).data)

    @extend_schema(request=s.BacktestSpan, responses={202: s.BacktestStarted})
    @action(detail=True, methods=["post"])
    def backtest(self, request, name=None):
        """What the alert would have done over a past span: queued for a worker (queue "backtests");
        GET the answer's url for its progress and result. Nothing is recorded or sent."""
        alert = self.get_object()
        return _start_backtest(request, alert, list(alert.channels.all()), saved=alert)


@extend_schema_view(list=extend_schema(parameters=params_of(s.ExecutionFilter)))
class ExecutionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every run of every alert, newest first."""

    queryset = Execution.objects.select_related("alert").order_by("-scheduled_for", "-id")
    serializer_class = s.ExecutionSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        wanted = filters(s.ExecutionFilter, self.request)
        lookups = {"alert": "alert__name", "status": "status", "trigger": "trigger", "since": "scheduled_for__gte",
                   "until": "scheduled_for__lt"}
        return queryset.filter(**{lookups[k]: v for k, v in wanted.items()})


@extend_schema_view(list=extend_schema(parameters=params_of(s.NotificationFilter)))
class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """Every message about every event, with each delivery attempt."""

    queryset = Notification.objects.select_related("alert", "channel").prefetch_related("delivery_attempts") \
        .order_by("-created_at", "-id")
    serializer_class = s.NotificationSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        wanted = filters(s.NotificationFilter, self.request)
        lookups = {"alert": "alert__name", "channel": "channel__name", "status": "status", "execution": "execution_id"}
        return queryset.filter(**{lookups[k]: v for k, v in wanted.items()})


class DatasourceViewSet(viewsets.ReadOnlyModelViewSet):
    """Datasources, passwords masked. Define them in files or the admin."""

    queryset = Datasource.objects.order_by("name")
    serializer_class = s.DatasourceSerializer
    lookup_field = "name"
    lookup_value_regex = NAME


class ChannelViewSet(viewsets.ReadOnlyModelViewSet):
    """Channels, secrets masked. Define them in files or the admin."""

    queryset = Channel.objects.order_by("name")
    serializer_class = s.ChannelSerializer
    lookup_field = "name"
    lookup_value_regex = NAME


class ScheduleViewSet(viewsets.ReadOnlyModelViewSet):
    """Distinct timings shared by alerts, each with its next five runs."""

    queryset = Schedule.objects.prefetch_related("alerts").order_by("id")
    serializer_class = s.ScheduleSerializer


class StatsView(APIView):
    """Every alert's runs together over a window: the figures of GET /api/alerts/{name}/stats."""

    permission_classes = [ReadsStatistics]

    @extend_schema(parameters=params_of(s.StatsQuery), responses=s.StatsSerializer)
    def get(self, request):
        return Response(s.StatsSerializer(overall_stats(stats_window(request)).as_dict()).data)


class PresetsView(APIView):
    """The named schedules an alert may give instead of cron (schedules/cron.py PRESETS). No stored
    data, like the schema: any signed-in user may read them (docs/security.md §3)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.Preset(many=True))
    def get(self, request):
        return Response(s.Preset([{"name": name, "cron": cron, "description": text}
                                  for name, cron, text in PRESETS], many=True).data)


def _start_backtest(request, alert, channels, *, saved=None, body=None) -> Response:
    span = s.BacktestSpan(data=request.data if body is None else body)
    span.is_valid(raise_exception=True)
    try:
        start, end = backtest.span(**span.validated_data)
        row = backtest.start(alert, channels, start, end, saved=saved, by=_who(request))
    except backtest.Refused as exc:
        raise ValidationError({"span": [str(exc)]}) from None
    url = request.build_absolute_uri(f"/api/backtests/{row.pk}")
    return Response(s.BacktestStarted({"id": row.pk, "alert": row.name, "status": row.status,
                                       "ticks_total": row.ticks_total, "url": url}).data,
                    status=status.HTTP_202_ACCEPTED)


def _unsaved_alert(spec) -> tuple[Alert, list[Channel]]:
    """The alert a checked definition describes, never saved (config.plan.save_alert, without the save)."""
    alert = Alert(name=spec.name, query=spec.query, **spec.settings)
    alert.datasource = Datasource.objects.get(name=spec.datasource)
    if spec.schedule is not None:
        cron, interval, tz = spec.schedule
        alert.schedule = Schedule(cron=cron or "", interval_seconds=interval, timezone=tz)
    return alert, list(Channel.objects.filter(name__in=spec.channels).order_by("name"))


class BacktestPermissions(BasePermission):
    """Starting a backtest of an unsaved definition runs its query, as Test query on the add page
    does: add_alert. Cancelling one changes what a run does: change_alert. Reading one is reading
    figures made from an alert's query, as statistics are: view_alert and view_execution
    (docs/security.md §3)."""

    needs = {"create": ["alerts.add_alert"], "cancel": ["alerts.change_alert"],
             "retrieve": ["alerts.view_alert", "alerts.view_execution"]}

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.has_perms(self.needs.get(view.action, ["alerts.change_alert"]))


class BacktestViewSet(viewsets.GenericViewSet):
    """Backtests: what an alert (saved, or a definition not saved) would have done over past ticks."""

    queryset = Backtest.objects.all()
    serializer_class = s.BacktestSerializer
    permission_classes = [BacktestPermissions]

    @extend_schema(request=s.UnsavedBacktest, responses={202: s.BacktestStarted})
    def create(self, request):
        """Backtest a definition that is not saved: {"alert": {...the keys POST /api/alerts takes...},
        "since": "7d"} (or start and end). The name may be left out, or be a saved alert's (its edit)."""
        body = s.UnsavedBacktest(data=request.data)
        body.is_valid(raise_exception=True)
        item = {"name": "backtest", **body.validated_data["alert"]}
        existing = Alert.objects.filter(name=item["name"]).first() if isinstance(item["name"], str) else None
        definition = s.AlertSerializer(existing, data=item)  # an existing name: the alert as this edit makes it
        if not definition.is_valid():
            raise ValidationError({"alert": definition.errors})
        alert, channels = _unsaved_alert(definition.validated_data["spec"])
        span = {k: v for k, v in request.data.items() if k != "alert"}
        return _start_backtest(request, alert, channels, body=span)

    @extend_schema(responses=s.BacktestSerializer)
    def retrieve(self, request, pk=None):
        """Its progress (ticks_done of ticks_total) and, once it ended, its result."""
        return Response(s.BacktestSerializer(backtest.describe(self.get_object())).data)

    @extend_schema(request=None, responses=s.BacktestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop it: a queued backtest ends now, a running one between two ticks (within a second)."""
        return Response(s.BacktestSerializer(backtest.describe(backtest.cancel(self.get_object()))).data)
