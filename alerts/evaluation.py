"""Rows -> Outcomes: the query contract (docs/writing-alerts.md).

Three modes: *status* (SQL Sentinel's contract: a `status` column saying ALERT
or OK), *threshold* (a value compared with a threshold) and *rows* (any row is
a breach). With key columns every row is an instance of its own.
"""

import operator as op
from dataclasses import dataclass, field

from django.conf import settings

from .models import AlertState, EvaluationMode
from .querying import cut, cut_row

OK = "OK"
BREACH = "BREACH"
NO_DATA = "NO_DATA"
ERROR = "ERROR"

COMPARATORS = {">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le, "==": op.eq, "!=": op.ne}


@dataclass(frozen=True)
class Outcome:
    kind: str  # OK | BREACH | NO_DATA | ERROR
    key: str = ""
    value: object = None
    threshold: object = None
    context: dict = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class Evaluation:
    """Every instance's outcome; `keyed` means instances absent from the rows have recovered."""

    outcomes: list[Outcome]
    keyed: bool = False
    value: object = None
    threshold: object = None
    message: str = ""

    @property
    def error(self) -> str:
        return next((o.message for o in self.outcomes if o.kind == ERROR), "")


@dataclass(frozen=True)
class Rule:
    """The alert settings evaluation needs, so tests and dry runs need no database row."""

    mode: str = EvaluationMode.STATUS
    value_column: str = ""
    operator: str = ">"
    threshold: float | None = None
    key_columns: tuple[str, ...] = ()

    @classmethod
    def of(cls, alert) -> "Rule":
        return cls(alert.mode, alert.value_column, alert.operator, alert.threshold, tuple(alert.keys))


class ContractError(Exception):
    pass


def evaluate(rule: Rule, columns: list[str], rows: list[tuple]) -> Evaluation:
    try:
        keys = _key_columns(rule, columns)
        if rule.mode == EvaluationMode.ROWS:
            return _rows(rule, columns, rows, keys)
        if not rows and keys:
            # Per-entity: no row means no instance is in trouble.
            return Evaluation([], keyed=True, value=0)
        if not rows:
            return Evaluation([Outcome(NO_DATA, message="The query returned no rows.")])
        if not keys and len(rows) > 1:
            raise ContractError(
                f"The query returned {len(rows)} rows; a {rule.mode}-mode alert needs exactly one row, "
                "or a key column (a column named `key`, or the alert's key columns) so that each row "
                "is its own instance."
            )
        judge = _status_row if rule.mode == EvaluationMode.STATUS else _threshold_row
        outcomes = [judge(rule, columns, row, keys) for row in rows]
        _check_unique_keys(outcomes, keys)
        first = outcomes[0]
        return Evaluation(outcomes, keyed=bool(keys), value=first.value, threshold=first.threshold)
    except ContractError as exc:
        return Evaluation([Outcome(ERROR, message=str(exc))], message=str(exc))


def _find(columns: list[str], name: str) -> int | None:
    """Column names match in any case, as PostgreSQL folds them and SQLite does not."""
    wanted = name.strip().lower()
    for i, column in enumerate(columns):
        if column.lower() == wanted:
            return i
    return None


def _key_columns(rule: Rule, columns: list[str]) -> list[int]:
    if rule.key_columns:
        missing = [k for k in rule.key_columns if _find(columns, k) is None]
        if missing:
            raise ContractError(
                f"Key column(s) {', '.join(missing)} not in the result; columns are: {', '.join(columns)}."
            )
        return [_find(columns, k) for k in rule.key_columns]
    found = _find(columns, "key")
    return [found] if found is not None else []


def _instance_key(row: tuple, keys: list[int]) -> str:
    return "/".join("" if row[i] is None else str(row[i]) for i in keys)


def _cut(value):
    """A value as the history and the messages keep it: cut like a preview cell (by its JSON, nested
    values included), or every execution and notification would carry a megabyte cell whole."""
    return cut(value, settings.SENTINEL_PREVIEW_CELL_CHARS)


def _context(columns: list[str], row: tuple, skip: set[int]) -> dict:
    """The row's other columns, cut like a preview row."""
    kept = [(c, v) for i, (c, v) in enumerate(zip(columns, row)) if i not in skip]
    values = cut_row([v for _, v in kept], settings.SENTINEL_PREVIEW_CELL_CHARS, settings.SENTINEL_PREVIEW_ROW_CHARS)
    return dict(zip([c for c, _ in kept], values))


def _status_row(rule: Rule, columns, row, keys) -> Outcome:
    status_at = _find(columns, "status")
    if status_at is None:
        raise ContractError(
            f"The result has no `status` column (columns: {', '.join(columns)}). A status-mode query "
            "returns one row with status 'ALERT' or 'OK', e.g. SELECT CASE WHEN ... THEN 'ALERT' "
            "ELSE 'OK' END AS status."
        )
    raw = row[status_at]
    status = raw.strip().upper() if isinstance(raw, str) else raw
    if status not in ("ALERT", "OK"):
        raise ContractError(
            f"The `status` column holds {_cut(raw)!r}; it must be 'ALERT' or 'OK' (any case). "
            "Map other values with a CASE expression."
        )
    value_at, threshold_at = _find(columns, "actual_value"), _find(columns, "threshold")
    skip = {status_at, value_at, threshold_at, *keys}
    return Outcome(
        BREACH if status == "ALERT" else OK,
        key=_instance_key(row, keys),
        value=None if value_at is None else _cut(row[value_at]),
        threshold=None if threshold_at is None else _cut(row[threshold_at]),
        context=_context(columns, row, skip),
    )


def _number(value, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractError(
            f"Column `{column}` holds {_cut(value)!r}, not a number; threshold mode compares numbers only "
            "(CAST it in the query)."
        )
    return value


def _threshold_row(rule: Rule, columns, row, keys) -> Outcome:
    if rule.value_column:
        value_at = _find(columns, rule.value_column)
        if value_at is None:
            raise ContractError(
                f"Value column `{rule.value_column}` not in the result; columns are: {', '.join(columns)}."
            )
    else:
        value_at = next(i for i in range(len(columns)) if i not in keys) if len(columns) > len(keys) else None
        if value_at is None:
            raise ContractError("The result has no value column besides its key columns.")
    threshold_at = _find(columns, "threshold")
    threshold = rule.threshold
    if threshold is None and threshold_at is not None:
        threshold = _number(row[threshold_at], columns[threshold_at])
    if threshold is None:
        raise ContractError("Threshold mode needs a threshold: set one on the alert or return a `threshold` column.")
    key = _instance_key(row, keys)
    context = _context(columns, row, {value_at, threshold_at, *keys})
    value = row[value_at]
    if value is None:
        return Outcome(NO_DATA, key=key, threshold=threshold, context=context, message="The value is NULL.")
    value = _number(value, columns[value_at])
    breached = COMPARATORS[rule.operator](value, threshold)
    return Outcome(BREACH if breached else OK, key=key, value=value, threshold=threshold, context=context)


def _rows(rule: Rule, columns, rows, keys) -> Evaluation:
    if keys:
        outcomes = [
            Outcome(BREACH, key=_instance_key(row, keys), context=_context(columns, row, set(keys))) for row in rows
        ]
        _check_unique_keys(outcomes, keys)
        return Evaluation(outcomes, keyed=True, value=len(rows))
    threshold = 0 if rule.threshold is None else rule.threshold
    comparator = COMPARATORS[rule.operator if rule.threshold is not None else ">"]
    breached = comparator(len(rows), threshold)
    context = {"first_row": _context(columns, rows[0], set())} if rows else {}
    outcome = Outcome(BREACH if breached else OK, value=len(rows), threshold=threshold, context=context)
    return Evaluation([outcome], value=len(rows), threshold=threshold)


def _check_unique_keys(outcomes: list[Outcome], keys: list[int]) -> None:
    if not keys:
        return
    seen = set()
    longest = AlertState._meta.get_field("key").max_length
    for outcome in outcomes:
        if len(outcome.key) > longest:
            raise ContractError(
                f"An instance key is {len(outcome.key)} characters long; keys are at most {longest} "
                f"(it begins {outcome.key[:40]!r})."
            )
        if outcome.key in seen:
            raise ContractError(f"Two rows share the key {_cut(outcome.key)!r}; each instance must appear once.")
        seen.add(outcome.key)
