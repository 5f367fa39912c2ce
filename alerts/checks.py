from django.conf import settings
from django.core.checks import Error, register


@register()
def time_zone_is_utc(app_configs, **kwargs):
    if settings.TIME_ZONE != "UTC":
        return [
            Error(
                f"TIME_ZONE is {settings.TIME_ZONE!r}; Sentinel stores and compares every time in UTC.",
                hint="Unset TIME_ZONE (or set it to UTC); give each schedule its own timezone instead.",
                id="sentinel.E001",
            )
        ]
    return []
