"""Message payload -> subject, text and HTML, through Django templates.

Lookup for kind K, event E: alerts/notify/K/E.ext, then alerts/notify/K/default.ext,
then alerts/notify/E.ext (the shared per-event default). An alert's own
subject_template/body_template win over all of them; they are Django templates
that also accept SQL Sentinel's placeholders {alert_name} {status}
{actual_value} {threshold}, rendered in a restricted engine with an output cap
(alerts/notifiers/templates.py).
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.template import TemplateSyntaxError
from django.template.loader import select_template
from django.utils.html import escape, linebreaks

from .. import links
from . import templates
from .base import Message, NotifierError
from .payload import sample

EVENT_LABELS = {
    "firing": "FIRING",
    "repeat": "STILL FIRING",
    "resolved": "RESOLVED",
    "error": "ERROR",
    "no_data": "NO DATA",
}
TABLE_ROWS = 5
TABLE_CELL = 40


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    context: dict


_NUMERIC_TEXT = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def number(value) -> str:
    """8200 -> '8,200'; 0.12345 -> '0.1235'; numeric text (Decimals arrive as text) likewise; else as is."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        if not _NUMERIC_TEXT.fullmatch(value.strip()):
            return value
        value = float(value)
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1000:
            return f"{value:,.2f}"
        return f"{value:.4g}"
    return str(value)


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def comparison(value, threshold) -> str:
    """'8,200 < 10,000': how the value stood against the threshold, or just the value."""
    if threshold is None:
        return number(value)
    a, b = _as_float(value), _as_float(threshold)
    if a is None or b is None:
        return f"{number(value)} (threshold {number(threshold)})"
    sign = "<" if a < b else ">" if a > b else "="
    return f"{number(value)} {sign} {number(threshold)}"


def text_table(columns: list, rows: list) -> str:
    if not columns or not rows:
        return ""

    def cell(v):
        text = "" if v is None else str(v)
        return text if len(text) <= TABLE_CELL else text[: TABLE_CELL - 1] + "…"

    grid = [[str(c) for c in columns]] + [[cell(v) for v in row] for row in rows[:TABLE_ROWS]]
    widths = [max(len(r[i]) for r in grid if i < len(r)) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in grid]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def context_for(message: Message, via: str) -> dict:
    p = message.payload
    event = p["event"]
    execution = p.get("execution") or {}
    value, threshold = p.get("value"), p.get("threshold")
    label = EVENT_LABELS.get(event, event.upper())
    if event in ("firing", "repeat"):
        summary = comparison(value, threshold)
    elif event == "resolved":
        summary = f"back to normal ({comparison(value, threshold)})" if value is not None else "back to normal"
    elif event == "error":
        summary = (p.get("error") or "the query failed").splitlines()[0][:200]
    else:
        summary = "the query returned no data"
    name = p["alert"]["name"] + (f" [{p['instance_key']}]" if p.get("instance_key") else "")
    headline = {
        "firing": f"{name} is FIRING: {summary}",
        "repeat": f"{name} is still FIRING: {summary}",
        "resolved": f"{name} is RESOLVED: {summary}",
        "error": f"{name} could not be checked: {summary}",
        "no_data": f"{name} has NO DATA: {summary}",
    }.get(event, f"{name}: {summary}")
    link_set = dict(p.get("links") or {})
    link_set.update(links.silence_links(p, via))
    started = execution.get("started_at")
    return {
        "event": event,
        "event_label": label,
        "summary": summary,
        "headline": headline,
        "alert": p["alert"],
        "severity": p["alert"].get("severity", ""),
        "instance_key": p.get("instance_key", ""),
        "state": p.get("state", ""),
        "value": value,
        "threshold": threshold,
        "value_display": number(value),
        "threshold_display": number(threshold),
        "comparison": comparison(value, threshold),
        "context": p.get("context") or {},
        "error": p.get("error", ""),
        "execution": execution,
        "columns": execution.get("columns") or [],
        "rows": (execution.get("rows") or [])[:TABLE_ROWS],
        "table": text_table(execution.get("columns") or [], execution.get("rows") or []),
        "links": link_set,
        "times": p.get("times") or {},
        "when": _parse(started),
        # SQL Sentinel's names, for custom templates written for it.
        "alert_name": p["alert"]["name"],
        "status": label,
        "actual_value": number(value),
    }


def _parse(text):
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _from_string(source: str, context: dict, where: str, *, autoescape: bool = False) -> str:
    try:
        return templates.render(source, context, autoescape=autoescape)
    except TemplateSyntaxError as exc:
        raise NotifierError(f"The alert's {where} is not a valid template: {exc}", permanent=True) from None


def _from_files(kind: str, event: str, ext: str, context: dict) -> str:
    names = [f"alerts/notify/{kind}/{event}.{ext}", f"alerts/notify/{kind}/default.{ext}",
             f"alerts/notify/{event}.{ext}"]
    return select_template(names).render(context)


def render(message: Message, kind: str, *, subject_override: str = "", html: bool = False) -> Rendered:
    """Subject (one line), plain text and (when asked) HTML for this message on a channel of this kind.

    Precedence for the subject: the alert's subject_template, then the channel's
    `subject` setting, then the template files."""
    context = context_for(message, via=kind)
    subject_source = message.subject_template or subject_override
    if subject_source:
        subject = _from_string(subject_source, context, "subject template")
    else:
        subject = select_template([f"alerts/notify/{kind}/subject.txt", "alerts/notify/subject.txt"]).render(context)
    subject = " ".join(subject.split())[:250]
    if message.body_template:
        text = _from_string(message.body_template, context, "body template").strip() + "\n"
        html_body = f"<html><body>{linebreaks(escape(text))}</body></html>" if html else ""
    else:
        text = _squeeze(_from_files(kind, message.event, "txt", context))
        html_body = _from_files(kind, message.event, "html", context) if html else ""
    return Rendered(subject, text, html_body, context)


def template_problems(text: str, what: str) -> list[str]:
    """Why an alert's subject or body template cannot be saved (empty: it may be); the admin, the API
    and config files all ask here (alerts/notifiers/templates.py says what is refused)."""
    if not text:
        return []
    return templates.problems(text, what, context_for(Message(0, sample()), via="check"))


def _squeeze(text: str) -> str:
    # Template tags leave blank lines behind; keep at most one in a row.
    return re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"
