"""The engine an alert's own subject and body templates render in.

They are written by editors and rendered in the worker, so they get Django's
template language without what could reach outside the message or take the
worker's memory: no include, extends, load, debug, url or lorem; only the
tags and filters below, each of whose output grows at most with its input.
Width-like arguments are capped (`ljust:"300000000"` took 585 MB), `join` stops
at the output cap, every node's output is counted as it renders (loops in loops
stop producing once the budget is spent) and the result is cut at
SENTINEL_TEMPLATE_OUTPUT_CHARS. A template that does not compile, uses a refused
tag or filter, or asks for a width above the cap is refused when it is saved
(the admin, the API and files all call `problems`, through rendering.template_problems). The template files under
alerts/templates/alerts/notify/ are Sentinel's own and use the normal engine.
"""

import contextvars
import functools
import re

from django.conf import settings
from django.template import Context, Engine, Library, Node, TemplateSyntaxError
from django.template import defaultfilters, defaulttags

# SQL Sentinel's placeholders, single braces; {{ django }} syntax is left alone.
PLACEHOLDER = re.compile(r"(?<!\{)\{(alert_name|status|actual_value|threshold)\}(?!\})")
_PLACEHOLDER_VARIABLES = {"alert_name": "alert_name", "status": "status", "actual_value": "value_display",
                          "threshold": "threshold_display"}

TAGS = ("autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now", "spaceless",
        "templatetag", "verbatim", "with")
FILTERS = ("add", "addslashes", "capfirst", "cut", "date", "default", "default_if_none", "dictsort",
           "dictsortreversed", "divisibleby", "escape", "filesizeformat", "first", "force_escape", "last", "length",
           "linebreaks", "linebreaksbr", "lower", "pluralize", "slice", "slugify", "striptags", "time", "timesince",
           "timeuntil", "title", "truncatechars", "truncatewords", "upper", "urlencode", "urlize", "wordcount",
           "wordwrap", "yesno")
# Filters whose argument is a width or a number of digits, and the largest each takes.
WIDTH_FILTERS = {"ljust": 200, "rjust": 200, "center": 200, "floatformat": 20}
# A template's source: the subject is a 500-character field; a body longer than this is no message.
MAX_SOURCE_CHARS = 10_000
# Every node's output counts against this many times the output cap (a node inside another counts twice).
_BUDGET_FACTOR = 10

register = Library()
for _name in TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]

_strict = contextvars.ContextVar("sentinel_template_strict", default=False)


class WidthRefused(Exception):
    """A width above the cap, met while checking a template at save."""

    silent_variable_failure = False


def _width(name: str, arg, signed: bool = False):
    """The filter's argument, within its cap; while checking at save, a larger one is refused."""
    text = str(arg)
    digits = re.match(r"-?\d+", text)
    if digits is None:
        return arg
    number = int(digits.group())
    cap = WIDTH_FILTERS[name]
    if abs(number) > cap:
        if _strict.get():
            raise WidthRefused(f'{name}:"{text}" asks for {abs(number):,}; templates take at most {cap} there')
        number = cap if number > 0 or not signed else -cap
    return str(number) + text[digits.end():]


@register.filter(is_safe=True)
def ljust(value, arg):
    return defaultfilters.ljust(value, _width("ljust", arg))


@register.filter(is_safe=True)
def rjust(value, arg):
    return defaultfilters.rjust(value, _width("rjust", arg))


@register.filter(is_safe=True)
def center(value, arg):
    return defaultfilters.center(value, _width("center", arg))


@register.filter(is_safe=True)
def floatformat(value, arg=-1):
    return defaultfilters.floatformat(value, _width("floatformat", arg, signed=True))


@register.filter(is_safe=True, needs_autoescape=True)
def join(value, arg, autoescape=True):
    # A long separator between many items multiplies: keep only as many items as the output cap holds.
    try:
        items = list(value)
    except TypeError:
        return value
    per_item = max(1, len(str(arg)) + sum(len(str(i)) for i in items) // max(1, len(items)))
    return defaultfilters.join(items[: settings.SENTINEL_TEMPLATE_OUTPUT_CHARS // per_item + 1], arg, autoescape)


class _Engine(Engine):
    default_builtins = []  # no Django tag or filter but those registered above


engine = _Engine(builtins=[__name__], autoescape=False)


def _source(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: "{{ " + _PLACEHOLDER_VARIABLES[m.group(1)] + " }}", text)


# Every notification of an alert renders the same text: compile it once per process. (The output
# budget lives on each render's Context, so a compiled template is safe to share.)
@functools.lru_cache(maxsize=1024)
def compile_template(text: str):
    """The template, with every node's output counted while it renders; raises TemplateSyntaxError."""
    template = engine.from_string(_source(text))
    for node in template.nodelist.get_nodes_by_type(Node):
        node.render_annotated = _spending(node.render_annotated)
    return template


def _spending(render):
    def render_annotated(context):
        budget = getattr(context, "sentinel_budget", None)
        if budget is None:
            return render(context)
        if budget[0] <= 0:
            return ""
        out = render(context)
        budget[0] -= len(out)
        return out

    return render_annotated


def render(text: str, context: dict, *, autoescape: bool = False) -> str:
    """Render an alert's template; its output is at most SENTINEL_TEMPLATE_OUTPUT_CHARS (and a note)."""
    cap = settings.SENTINEL_TEMPLATE_OUTPUT_CHARS
    template = compile_template(text)
    ctx = Context(context, autoescape=autoescape)
    ctx.sentinel_budget = [cap * _BUDGET_FACTOR]
    out = template.render(ctx)
    if len(out) > cap or ctx.sentinel_budget[0] <= 0:
        out = out[:cap] + f"\n... (cut at {cap:,} characters)"
    return out


def problems(text: str, what: str, sample: dict) -> list[str]:
    """Why this template cannot be saved, in words for the person who wrote it (empty: it may be).

    `sample` is a message's render context (rendering.template_problems gives the test message's):
    widths above the cap are found by rendering the template once with it."""
    if not text:
        return []
    if len(text) > MAX_SOURCE_CHARS:
        return [f"The {what} is {len(text):,} characters long; templates take at most {MAX_SOURCE_CHARS:,}."]
    try:
        template = compile_template(text)
    except TemplateSyntaxError as exc:
        reason = str(exc).split(". Did you forget")[0].rstrip(".")
        return [f"The {what} is not a valid template: {reason}. Templates may use the tags {', '.join(TAGS)} and "
                f"the filters {', '.join(sorted(FILTERS + tuple(WIDTH_FILTERS) + ('join',)))}."]
    token = _strict.set(True)
    try:
        ctx = Context(sample)
        ctx.sentinel_budget = [settings.SENTINEL_TEMPLATE_OUTPUT_CHARS * _BUDGET_FACTOR]
        template.render(ctx)
    except WidthRefused as exc:
        return [f"The {what} was refused: {exc}."]
    except Exception:
        pass  # the sample message is not the alert's: a failure here may not happen with real values
    finally:
        _strict.reset(token)
    return []
