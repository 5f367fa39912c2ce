from django.conf import settings
from django.core.checks import Error, register


@register()
def time_zone_is_utc(app_configs, **kwargs):
    if settings.TIME_ZONE != "UTC":
        return [
            Error(
                f"TIME_ZONE is {settings.TIME_ZONE!r}; Sentinel stores and compares every time in UTC.",
                # SQL Sentinel's TIMEZONE (no underscore) is the alerts' zone, and is read as such.
                hint="Unset TIME_ZONE (or set it to UTC). For the zone of alerts that name none, set "
                     f"SENTINEL_DEFAULT_TIMEZONE={settings.TIME_ZONE} (SQL Sentinel's TIMEZONE works too); "
                     "an alert or file can still give its own timezone:.",
                id="sentinel.E001",
            )
        ]
    return []
