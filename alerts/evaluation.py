"""Rows -> Outcomes: the query contract (docs/writing-alerts.md).

Three modes: *status* (SQL Sentinel's contract: a `status` column saying ALERT
or OK), *threshold* (a value compared with a threshold) and *rows* (any row is
a breach). With key columns every row is an instance of its own.
"""

import operator as op
from dataclasses import dataclass, field

from django.conf import settings

from .gc_pause import collector_paused
from .models import AlertState, EvaluationMode
from .querying import cut

OK = "OK"
BREACH = "BREACH"
NO_DATA = "NO_DATA"
ERROR = "ERROR"

COMPARATORS = {">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le, "==": op.eq, "!=": op.ne}


# Not frozen: freezing doubled what building one costs (1.3 against 0.6 µs), a tenth of a second
# for a 100,000-key result; nothing changes an outcome once evaluated.
@dataclass
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
    with collector_paused():
        return _evaluate(rule, columns, rows)


def _evaluate(rule: Rule, columns: list[str], rows: list[tuple]) -> Evaluation:
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
        # The columns are found once per result, not once per row: a 100,000-key result spent most of
        # its evaluation finding the same columns again (docs/performance.md).
        judge = (_status_judge if rule.mode == EvaluationMode.STATUS else _threshold_judge)(rule, columns, keys)
        outcomes = [judge(row) for row in rows]
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


def _key_of(keys: list[int]):
    """row -> its instance key: the key columns' values joined with '/' (NULL as '')."""
    if len(keys) == 1:
        at = keys[0]
        return lambda row: "" if row[at] is None else str(row[at])
    return lambda row: "/".join("" if row[i] is None else str(row[i]) for i in keys)


def _cut(value):
    """A value as the history and the messages keep it: cut like a preview cell (by its JSON, nested
    values included), or every execution and notification would carry a megabyte cell whole."""
    return cut(value, settings.SENTINEL_PREVIEW_CELL_CHARS)


def _context_of(columns: list[str], skip: set):
    """row -> the row's other columns, cut like a preview row (alerts.querying.cut_row)."""
    kept = [i for i in range(len(columns)) if i not in skip]
    names = [columns[i] for i in kept]
    share = max(32, settings.SENTINEL_PREVIEW_ROW_CHARS // max(1, len(kept)))
    limit = min(settings.SENTINEL_PREVIEW_CELL_CHARS, share)
    if not kept:  # `key, value` results: most per-entity alerts; a new dict each, as each outcome owns it
        return lambda row: {}
    return lambda row: dict(zip(names, [cut(row[i], limit) for i in kept]))


def _status_judge(rule: Rule, columns: list[str], keys: list[int]):
    """row -> its Outcome under the status contract."""
    status_at = _find(columns, "status")
    if status_at is None:
        raise ContractError(
            f"The result has no `status` column (columns: {', '.join(columns)}). A status-mode query "
            "returns one row with status 'ALERT' or 'OK', e.g. SELECT CASE WHEN ... THEN 'ALERT' "
            "ELSE 'OK' END AS status."
        )
    value_at, threshold_at = _find(columns, "actual_value"), _find(columns, "threshold")
    key_of, context_of = _key_of(keys), _context_of(columns, {status_at, value_at, threshold_at, *keys})
    limit = settings.SENTINEL_PREVIEW_CELL_CHARS

    def judge(row) -> Outcome:
        raw = row[status_at]
        status = raw.strip().upper() if isinstance(raw, str) else raw
        if status not in ("ALERT", "OK"):
            raise ContractError(
                f"The `status` column holds {_cut(raw)!r}; it must be 'ALERT' or 'OK' (any case). "
                "Map other values with a CASE expression."
            )
        return Outcome(
            BREACH if status == "ALERT" else OK,
            key=key_of(row),
            value=None if value_at is None else cut(row[value_at], limit),
            threshold=None if threshold_at is None else cut(row[threshold_at], limit),
            context=context_of(row),
        )

    return judge


def _number(value, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractError(
            f"Column `{column}` holds {_cut(value)!r}, not a number; threshold mode compares numbers only "
            "(CAST it in the query)."
        )
    return value


def _threshold_judge(rule: Rule, columns: list[str], keys: list[int]):
    """row -> its Outcome under the threshold contract."""
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
    if rule.threshold is None and threshold_at is None:
        raise ContractError("Threshold mode needs a threshold: set one on the alert or return a `threshold` column.")
    key_of, context_of = _key_of(keys), _context_of(columns, {value_at, threshold_at, *keys})

    def judge(row) -> Outcome:
        threshold = rule.threshold
        if threshold is None:
            threshold = _number(row[threshold_at], columns[threshold_at])
        key, context, value = key_of(row), context_of(row), row[value_at]
        if value is None:
            return Outcome(NO_DATA, key=key, threshold=threshold, context=context, message="The value is NULL.")
        if type(value) not in (int, float):  # the usual answer needs no call; anything else is looked at
            value = _number(value, columns[value_at])
        breached = COMPARATORS[rule.operator](value, threshold)
        return Outcome(BREACH if breached else OK, key=key, value=value, threshold=threshold, context=context)

    return judge


def _rows(rule: Rule, columns, rows, keys) -> Evaluation:
    if keys:
        key_of, context_of = _key_of(keys), _context_of(columns, set(keys))
        outcomes = [Outcome(BREACH, key=key_of(row), context=context_of(row)) for row in rows]
        _check_unique_keys(outcomes, keys)
        return Evaluation(outcomes, keyed=True, value=len(rows))
    threshold = 0 if rule.threshold is None else rule.threshold
    comparator = COMPARATORS[rule.operator if rule.threshold is not None else ">"]
    breached = comparator(len(rows), threshold)
    context = {"first_row": _context_of(columns, set())(rows[0])} if rows else {}
    outcome = Outcome(BREACH if breached else OK, value=len(rows), threshold=threshold, context=context)
    return Evaluation([outcome], value=len(rows), threshold=threshold)


def _check_unique_keys(outcomes: list[Outcome], keys: list[int]) -> None:
    if not keys:
        return
    longest = AlertState._meta.get_field("key").max_length
    names = [o.key for o in outcomes]
    if len(set(names)) == len(names) and max(map(len, names), default=0) <= longest:
        return  # the usual answer, found without a loop in Python; otherwise name the first culprit
    seen = set()
    for outcome in outcomes:
        if len(outcome.key) > longest:
            raise ContractError(
                f"An instance key is {len(outcome.key)} characters long; keys are at most {longest} "
                f"(it begins {outcome.key[:40]!r})."
            )
        if outcome.key in seen:
            raise ContractError(f"Two rows share the key {_cut(outcome.key)!r}; each instance must appear once.")
        seen.add(outcome.key)
