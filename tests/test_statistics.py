"""Unit tests of rnnpipe.statistics against statsmodels and scipy on small fixed outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import bootstrap
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from rnnpipe.statistics import (
    ComparisonError,
    bootstrap_difference_interval,
    choose_split,
    compare_pair,
    comparison_sentence,
    evaluate_models,
    format_p_value,
    format_points,
    mcnemar_exact,
    pair_outcomes,
    wilson_interval,
)


def predictions(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """Build a predictions frame from (review_id, split, label, prediction) rows."""
    frame = pd.DataFrame(rows, columns=["review_id", "split", "label", "prediction"])
    frame["probability"] = frame["prediction"].astype(float)
    return frame


def outcomes_from_table(both: int, only_first: int, only_second: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    first = [True] * both + [True] * only_first + [False] * only_second + [False] * neither
    second = [True] * both + [False] * only_first + [True] * only_second + [False] * neither
    return np.array(first), np.array(second)


# --- the single accuracy ------------------------------------------------------------


@pytest.mark.parametrize(("correct", "rows"), [(85, 100), (0, 10), (10, 10), (1, 1), (4_321, 5_000)])
def test_wilson_interval_matches_statsmodels(correct, rows):
    low, high = wilson_interval(correct, rows)

    reference = proportion_confint(correct, rows, alpha=0.05, method="wilson")
    assert (low, high) == pytest.approx(reference, abs=1e-12)


def test_wilson_interval_rejects_no_rows():
    with pytest.raises(ComparisonError, match=r"Received: correct=0, rows=0"):
        wilson_interval(0, 0)


# --- McNemar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [(50, 3, 12, 35), (40, 0, 0, 10), (10, 1, 0, 0), (100, 25, 25, 5), (0, 30, 70, 0), (500, 140, 100, 60)],
)
def test_mcnemar_exact_matches_statsmodels(table):
    both, only_first, only_second, neither = table
    first, second = outcomes_from_table(*table)

    result = mcnemar_exact(first, second)

    reference = mcnemar(np.array([[both, only_first], [only_second, neither]]), exact=True)
    assert result["only_first_correct"] == only_first
    assert result["only_second_correct"] == only_second
    assert result["p_value"] == pytest.approx(reference.pvalue, rel=1e-12)


def test_mcnemar_exact_without_discordant_rows_is_one():
    first, second = outcomes_from_table(7, 0, 0, 3)

    assert mcnemar_exact(first, second)["p_value"] == 1.0


# --- the bootstrap ------------------------------------------------------------------


def test_bootstrap_interval_matches_scipy():
    first, second = outcomes_from_table(300, 60, 30, 110)

    low, high = bootstrap_difference_interval(first, second, seed=1, resamples=20_000)

    reference = bootstrap(
        (first.astype(float), second.astype(float)),
        lambda a, b, axis=-1: np.mean(a, axis=axis) - np.mean(b, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=20_000,
        method="percentile",
        rng=np.random.default_rng(2),
    ).confidence_interval
    # Two Monte Carlo estimates of the same percentiles on 500 rows, whose
    # differences move in steps of 1/500.
    assert low == pytest.approx(reference.low, abs=2 / 500)
    assert high == pytest.approx(reference.high, abs=2 / 500)


def test_bootstrap_interval_is_seeded():
    first, second = outcomes_from_table(40, 9, 4, 7)

    assert bootstrap_difference_interval(first, second, 5, 2_000) == bootstrap_difference_interval(first, second, 5, 2_000)
    assert bootstrap_difference_interval(first, second, 5, 2_000) != bootstrap_difference_interval(first, second, 6, 2_000)


def test_bootstrap_interval_of_identical_outcomes_is_zero():
    first, _ = outcomes_from_table(10, 5, 0, 5)

    assert bootstrap_difference_interval(first, first.copy(), 0, 500) == (0.0, 0.0)


def test_bootstrap_interval_rejects_uneven_lengths():
    with pytest.raises(ComparisonError, match=r"Received lengths 3 and 2"):
        bootstrap_difference_interval(np.ones(3, bool), np.ones(2, bool), 0, 100)


# --- pairing rows -------------------------------------------------------------------


def test_pair_outcomes_joins_on_review_id():
    first = predictions([("b", "test", 1, 1), ("a", "test", 0, 1), ("c", "validation", 1, 1)])
    second = predictions([("a", "test", 0, 0), ("b", "test", 1, 0), ("d", "test", 1, 1)])

    outcomes = pair_outcomes(first, second, "test")

    assert outcomes.review_ids == ["a", "b"]
    assert outcomes.first_correct.tolist() == [False, True]
    assert outcomes.second_correct.tolist() == [True, False]


def test_pair_outcomes_rejects_different_labels():
    first = predictions([("a", "test", 0, 0)])
    second = predictions([("a", "test", 1, 1)])

    with pytest.raises(ComparisonError, match=r"review_id='a' with label 0 and 1"):
        pair_outcomes(first, second, "test")


def test_pair_outcomes_rejects_repeated_review_id():
    first = predictions([("a", "test", 0, 0), ("a", "test", 0, 1)])

    with pytest.raises(ComparisonError, match=r"review_id 'a' occurs more than once in the test predictions"):
        pair_outcomes(first, first, "test")


def test_pair_outcomes_rejects_missing_columns():
    first = predictions([("a", "test", 0, 0)]).drop(columns="prediction")

    with pytest.raises(ComparisonError, match=r"missing the columns prediction"):
        pair_outcomes(first, first, "test")


def test_pair_outcomes_rejects_no_shared_rows():
    with pytest.raises(ComparisonError, match=r"share no test review"):
        pair_outcomes(predictions([("a", "test", 0, 0)]), predictions([("b", "test", 0, 0)]), "test")


def test_choose_split_prefers_test():
    with_test = predictions([("a", "validation", 0, 0), ("b", "test", 0, 0)])
    without_test = predictions([("a", "validation", 0, 0)])

    assert choose_split({"x": with_test, "y": with_test}) == "test"
    assert choose_split({"x": with_test, "y": without_test}) == "validation"


def test_choose_split_rejects_no_common_split():
    with pytest.raises(ComparisonError, match=r"No split contains predictions of every model"):
        choose_split({"x": predictions([("a", "train", 0, 0)])})


# --- the comparison and its sentence --------------------------------------------------


def paired(first: np.ndarray, second: np.ndarray, split: str = "test"):
    ids = [f"r{index}" for index in range(len(first))]
    return pair_outcomes(
        predictions([(i, split, 1, int(c)) for i, c in zip(ids, first)]),
        predictions([(i, split, 1, int(c)) for i, c in zip(ids, second)]),
        split,
    )


def test_compare_pair_orders_leader_first():
    first, second = outcomes_from_table(800, 20, 54, 126)

    comparison = compare_pair(("simple_rnn", "lstm"), ("SimpleRNN", "LSTM"), paired(first, second), 1337, 4_000)

    assert comparison["leader"]["model"] == "lstm"
    assert comparison["difference_points"] == 3.4
    assert comparison["mcnemar"] == {
        "only_leader_correct": 54,
        "only_trailer_correct": 20,
        "p_value": pytest.approx(mcnemar(np.array([[800, 20], [54, 126]]), exact=True).pvalue),
    }
    low, high = comparison["difference_interval_points"]
    assert 0 < low < 3.4 < high
    assert comparison["clear"] is True
    assert comparison["sentence"] == (
        f"LSTM is ahead of SimpleRNN by 3.4 points on the 1,000 test reviews, 95 % CI "
        f"{format_points(low)} to {format_points(high)}, McNemar p < 0.001."
    )


def test_compare_pair_without_clear_difference():
    first, second = outcomes_from_table(80, 6, 4, 10)

    comparison = compare_pair(("simple_rnn", "lstm"), ("SimpleRNN", "LSTM"), paired(first, second, "validation"), 0, 4_000)

    assert comparison["clear"] is False
    assert comparison["sentence"].startswith(
        "No clear difference between SimpleRNN and LSTM on the 100 validation reviews: SimpleRNN is ahead by 2.0 points, 95 % CI −"
    )
    assert comparison["sentence"].endswith(", McNemar p = 0.75.")


def test_comparison_sentence_for_equal_accuracy():
    first, second = outcomes_from_table(50, 5, 5, 0)

    comparison = compare_pair(("simple_rnn", "lstm"), ("SimpleRNN", "LSTM"), paired(first, second), 0, 1_000)

    assert comparison["difference_points"] == 0
    assert "both are right as often" in comparison_sentence(comparison)


@pytest.mark.parametrize(
    ("p_value", "text"),
    [(0.0004, "p < 0.001"), (0.001, "p = 0.001"), (0.0042, "p = 0.004"), (0.27, "p = 0.27"), (1.0, "p = 1.00")],
)
def test_format_p_value(p_value, text):
    assert format_p_value(p_value) == text


def test_format_points_uses_minus_sign():
    assert format_points(-0.26) == "−0.3"
    assert format_points(-0.01) == "0.0"
    assert format_points(4.25) == "4.2"


def test_evaluate_models_scores_each_model():
    first = predictions([("a", "validation", 1, 1), ("b", "validation", 0, 0), ("c", "validation", 1, 0)])
    second = predictions([("a", "validation", 1, 1), ("b", "validation", 0, 1), ("c", "validation", 1, 0)])

    evaluation = evaluate_models({"simple_rnn": first, "lstm": second}, {"simple_rnn": "SimpleRNN", "lstm": "LSTM"}, 0, 200)

    assert evaluation["split"] == "validation"
    assert [model["accuracy"] for model in evaluation["models"]] == [pytest.approx(2 / 3, abs=1e-6), pytest.approx(1 / 3, abs=1e-6)]
    assert evaluation["models"][0]["accuracy_interval"] == pytest.approx(list(proportion_confint(2, 3, method="wilson")), abs=1e-6)
    assert len(evaluation["comparisons"]) == 1
