"""The query contract: rows -> outcomes, for each evaluation mode."""

import pytest

from alerts.evaluation import BREACH, ERROR, NO_DATA, OK, Rule, evaluate

STATUS = Rule()


def kinds(evaluation):
    return [(o.key, o.kind) for o in evaluation.outcomes]


@pytest.mark.parametrize("status, kind", [
    ("ALERT", BREACH), ("alert", BREACH), (" Alert ", BREACH), ("OK", OK), ("ok", OK), (" ok\n", OK),
])
def test_status_values_are_trimmed_and_any_case(status, kind):
    assert kinds(evaluate(STATUS, ["status"], [(status,)])) == [("", kind)]


@pytest.mark.parametrize("status", ["WARNING", None, 1, "", "ALERTING"])
def test_other_status_values_are_an_error_that_says_what_was_found(status):
    evaluation = evaluate(STATUS, ["status"], [(status,)])
    assert kinds(evaluation) == [("", ERROR)]
    assert repr(status) in evaluation.error and "'ALERT' or 'OK'" in evaluation.error


def test_column_names_match_in_any_case_and_the_rest_is_context():
    evaluation = evaluate(STATUS, ["STATUS", "Actual_Value", "THRESHOLD", "team", "orders"],
                          [("ALERT", 1450.5, 2000, "finance", 2)])
    outcome = evaluation.outcomes[0]
    assert (outcome.kind, outcome.value, outcome.threshold) == (BREACH, 1450.5, 2000)
    assert outcome.context == {"team": "finance", "orders": 2}


def test_actual_value_and_threshold_are_optional_and_text_stays_text():
    assert evaluate(STATUS, ["status"], [("OK",)]).outcomes[0].value is None
    outcome = evaluate(STATUS, ["status", "actual_value"], [("ALERT", "three stuck jobs")]).outcomes[0]
    assert outcome.value == "three stuck jobs"


def test_missing_status_column_names_the_columns_found():
    evaluation = evaluate(STATUS, ["actual_value"], [(3,)])
    assert "no `status` column (columns: actual_value)" in evaluation.error


def test_zero_rows_is_no_data():
    assert kinds(evaluate(STATUS, ["status"], [])) == [("", NO_DATA)]


def test_several_rows_without_a_key_is_an_error_with_the_fix():
    evaluation = evaluate(STATUS, ["status"], [("OK",), ("ALERT",)])
    assert "returned 2 rows" in evaluation.error and "key column" in evaluation.error


@pytest.mark.parametrize("operator, value, kind", [
    (">", 11, BREACH), (">", 10, OK), (">=", 10, BREACH), ("<", 9, BREACH), ("<", 10, OK),
    ("<=", 10, BREACH), ("==", 10, BREACH), ("==", 10.5, OK), ("!=", 10.5, BREACH), ("!=", 10, OK),
])
def test_threshold_operators(operator, value, kind):
    rule = Rule(mode="threshold", operator=operator, threshold=10)
    assert kinds(evaluate(rule, ["n"], [(value,)])) == [("", kind)]


def test_threshold_value_column_defaults_to_the_first_and_can_be_named():
    first = evaluate(Rule(mode="threshold", operator=">", threshold=5), ["n", "m"], [(9, 1)]).outcomes[0]
    named = evaluate(Rule(mode="threshold", operator=">", threshold=5, value_column="M"), ["n", "m"], [(9, 1)])
    assert (first.kind, first.value, first.context) == (BREACH, 9, {"m": 1})
    assert named.outcomes[0].kind == OK


@pytest.mark.parametrize("value", ["12", "abc", True])
def test_threshold_non_numeric_is_an_error_not_a_string_comparison(value):
    evaluation = evaluate(Rule(mode="threshold", threshold=5), ["n"], [(value,)])
    assert kinds(evaluation) == [("", ERROR)] and "not a number" in evaluation.error


def test_threshold_null_is_no_data():
    assert kinds(evaluate(Rule(mode="threshold", threshold=5), ["n"], [(None,)])) == [("", NO_DATA)]


def test_threshold_can_come_from_the_result():
    outcome = evaluate(Rule(mode="threshold", operator="<"), ["n", "threshold"], [(3, 10)]).outcomes[0]
    assert (outcome.kind, outcome.threshold) == (BREACH, 10)


def test_rows_mode_any_row_breaches_and_zero_rows_is_ok():
    assert kinds(evaluate(Rule(mode="rows"), ["id"], [(1,), (2,)])) == [("", BREACH)]
    assert kinds(evaluate(Rule(mode="rows"), ["id"], [])) == [("", OK)]
    assert evaluate(Rule(mode="rows"), ["id"], [(1,)]).value == 1


def test_rows_mode_count_against_a_threshold():
    rule = Rule(mode="rows", operator=">=", threshold=3)
    assert kinds(evaluate(rule, ["id"], [(1,), (2,)])) == [("", OK)]
    assert kinds(evaluate(rule, ["id"], [(1,), (2,), (3,)])) == [("", BREACH)]


def test_key_column_makes_each_row_an_instance():
    evaluation = evaluate(STATUS, ["key", "status", "actual_value"],
                          [("berlin", "ALERT", 3), ("paris", "OK", 80)])
    assert evaluation.keyed and kinds(evaluation) == [("berlin", BREACH), ("paris", OK)]
    assert evaluation.outcomes[0].context == {}


def test_alert_key_columns_join_into_one_instance_key():
    rule = Rule(mode="threshold", operator="<", threshold=10, key_columns=("warehouse", "sku"))
    evaluation = evaluate(rule, ["warehouse", "sku", "units"], [("berlin", "widget", 3), ("paris", "gadget", 40)])
    assert kinds(evaluation) == [("berlin/widget", BREACH), ("paris/gadget", OK)]


def test_keyed_zero_rows_means_no_instance_is_in_trouble():
    evaluation = evaluate(Rule(mode="rows", key_columns=("id",)), ["id"], [])
    assert evaluation.keyed and evaluation.outcomes == []


def test_duplicate_keys_are_an_error():
    evaluation = evaluate(STATUS, ["key", "status"], [("berlin", "OK"), ("berlin", "ALERT")])
    assert "share the key 'berlin'" in evaluation.error


def test_missing_key_column_names_it():
    evaluation = evaluate(Rule(key_columns=("region",)), ["status"], [("OK",)])
    assert "Key column(s) region not in the result" in evaluation.error


def test_status_threshold_text_stays_text_and_nulls_are_allowed():
    outcome = evaluate(STATUS, ["status", "actual_value", "threshold"], [("OK", None, "under ten")]).outcomes[0]
    assert (outcome.kind, outcome.value, outcome.threshold) == (OK, None, "under ten")


def test_threshold_mode_several_rows_without_a_key_is_an_error():
    evaluation = evaluate(Rule(mode="threshold", threshold=5), ["n"], [(1,), (9,)])
    assert kinds(evaluation) == [("", ERROR)] and "threshold-mode alert needs exactly one row" in evaluation.error


def test_threshold_zero_rows_is_no_data_and_decimal_like_values_compare_as_numbers():
    assert kinds(evaluate(Rule(mode="threshold", threshold=5), ["n"], [])) == [("", NO_DATA)]
    assert kinds(evaluate(Rule(mode="threshold", threshold=5), ["n"], [(5.0000001,)])) == [("", BREACH)]


def test_rows_mode_keeps_the_first_row_as_context():
    evaluation = evaluate(Rule(mode="rows"), ["id", "job"], [(7, "nightly"), (8, "invoices")])
    assert evaluation.outcomes[0].context == {"first_row": {"id": 7, "job": "nightly"}}
    assert evaluation.outcomes[0].value == 2


def test_keyed_status_rows_keep_their_own_context():
    evaluation = evaluate(STATUS, ["KEY", "status", "units"], [("berlin", "alert", 3), ("paris", "ok", 40)])
    assert [o.context for o in evaluation.outcomes] == [{"units": 3}, {"units": 40}]


def test_key_columns_named_on_the_alert_win_over_a_key_column():
    rule = Rule(key_columns=("region",))
    evaluation = evaluate(rule, ["key", "region", "status"], [("a", "eu", "OK"), ("a", "us", "ALERT")])
    assert kinds(evaluation) == [("eu", OK), ("us", BREACH)]
