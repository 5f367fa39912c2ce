from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from . import signals  # noqa: F401  (keeps beat's mirror in step with alert and schedule edits)
        from . import rollups  # noqa: F401  (a deleted alert's hours of the overall tier are made again)
        # Registers the Celery tasks in every process, the web included: alerts.dispatch sends by name,
        # and only a registered task runs in place under CELERY_TASK_ALWAYS_EAGER.
        from . import tasks  # noqa: F401
