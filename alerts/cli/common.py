from django.core.management.base import CommandError

from alerts.models import Alert


class UsageError(CommandError):
    """Bad usage: exit code 2."""

    def __init__(self, message: str):
        super().__init__(message, returncode=2)


def get_alert(name: str) -> Alert:
    alert = Alert.objects.select_related("datasource", "schedule").filter(name=name).first()
    if alert is None:
        close = list(Alert.objects.filter(name__icontains=name[:4]).values_list("name", flat=True)[:5])
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UsageError(f"No alert named {name!r}.{hint}")
    return alert


def table(rows: list[list], headers: list[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
