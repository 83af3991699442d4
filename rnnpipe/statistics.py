"""Paired comparison of two classifiers on the same reviews.

Two models scored on the same rows are compared row by row, not by their accuracies
alone, because most rows are classified alike by both and only the rows where they
disagree carry evidence. This module gives:

- each model's accuracy with a 95 % Wilson score interval;
- the difference in accuracy with a seeded 95 % percentile bootstrap interval that
  resamples rows, keeping each row's pair of outcomes together;
- McNemar's exact test: a two-sided binomial test with p = 0.5 on the rows where
  exactly one model is right.

scipy is imported on the first call, not with this module.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnpipe.errors import RnnpipeError

CONFIDENCE_LEVEL = 0.95
EVALUATION_SPLITS = ("test", "validation")
PREDICTION_COLUMNS = ("review_id", "split", "label", "prediction")


class ComparisonError(RnnpipeError, ValueError):
    """Predictions that cannot be compared row by row."""


@dataclass(frozen=True)
class PairedOutcomes:
    """Whether each of two models classified each shared row correctly.

    ``first_correct`` and ``second_correct`` are bool arrays of shape ``(rows,)``,
    aligned on the same reviews of one split.
    """

    split: str
    review_ids: list[str]
    first_correct: np.ndarray
    second_correct: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.review_ids)


def choose_split(predictions: dict[str, pd.DataFrame]) -> str:
    """Pick the split every model was evaluated on: test when all have it, else validation.

    Args:
        predictions: each model's ``predictions.parquet`` as a frame, keyed by name.

    Raises:
        ComparisonError: when some model has neither test nor validation rows.
    """
    for split in EVALUATION_SPLITS:
        if predictions and all((frame["split"] == split).any() for frame in predictions.values()):
            return split
    names = ", ".join(sorted(predictions)) or "none"
    raise ComparisonError(
        "No split contains predictions of every model: each model needs validation rows, "
        f"and test rows are used when every model has them. Received predictions for: {names}. "
        "Retrain the models of this run."
    )


def evaluate_models(
    predictions: dict[str, pd.DataFrame],
    display_names: dict[str, str],
    seed: int,
    resamples: int,
) -> dict:
    """Score every model on the evaluation split and compare each pair of models row by row.

    Args:
        predictions: each model's ``predictions.parquet`` as a frame, keyed by name
            in report order.
        display_names: the name to print for each model.
        seed: seed of the bootstrap.
        resamples: number of bootstrap resamples.

    Returns:
        A JSON-serialisable dict: ``split`` (from ``choose_split``), ``models`` (per
        model ``model``, ``display_name``, ``rows``, ``accuracy`` and its Wilson
        ``accuracy_interval``), ``comparisons`` (one ``compare_pair`` result per pair,
        in report order), ``confidence_level``, ``bootstrap_resamples`` and ``seed``.
    """
    split = choose_split(predictions)
    models = []
    for name, frame in predictions.items():
        _check_prediction_columns(frame)
        rows = _rows_of_split(frame, split)
        correct = int((rows["prediction"] == rows["label"]).sum())
        low, high = wilson_interval(correct, len(rows))
        models.append(
            {
                "model": name,
                "display_name": display_names[name],
                "rows": len(rows),
                "accuracy": round(correct / len(rows), 6),
                "accuracy_interval": [round(low, 6), round(high, 6)],
            }
        )

    comparisons = [
        compare_pair(
            (first, second),
            (display_names[first], display_names[second]),
            pair_outcomes(predictions[first], predictions[second], split),
            seed,
            resamples,
        )
        for first, second in itertools.combinations(predictions, 2)
    ]
    return {
        "split": split,
        "models": models,
        "comparisons": comparisons,
        "confidence_level": CONFIDENCE_LEVEL,
        "bootstrap_resamples": resamples,
        "seed": seed,
    }


def pair_outcomes(first: pd.DataFrame, second: pd.DataFrame, split: str) -> PairedOutcomes:
    """Join two models' predictions on ``review_id`` within ``split``.

    Rows that only one model scored are left out, so both arrays describe the same
    reviews. A review whose label differs between the two frames raises, because the
    frames then come from different data.

    Raises:
        ComparisonError: when a column is missing, a review id repeats within the split,
            the labels disagree or no row is shared.
    """
    for frame in (first, second):
        _check_prediction_columns(frame)
    left = _rows_of_split(first, split)
    right = _rows_of_split(second, split)
    joined = left.merge(right, on="review_id", suffixes=("_first", "_second"), validate="one_to_one")
    if joined.empty:
        raise ComparisonError(
            f"The two models share no {split} review. Compare models trained on the same run."
        )

    mismatched = joined[joined["label_first"] != joined["label_second"]]
    if not mismatched.empty:
        example = mismatched.iloc[0]
        raise ComparisonError(
            f"{len(mismatched)} {split} reviews have different labels in the two prediction "
            f"files, for example review_id={example['review_id']!r} with label "
            f"{example['label_first']} and {example['label_second']}. Compare predictions "
            "made on the same data."
        )

    joined = joined.sort_values("review_id", kind="stable")
    labels = joined["label_first"].to_numpy()
    return PairedOutcomes(
        split=split,
        review_ids=joined["review_id"].tolist(),
        first_correct=joined["prediction_first"].to_numpy() == labels,
        second_correct=joined["prediction_second"].to_numpy() == labels,
    )


def wilson_interval(correct: int, rows: int, confidence: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Return the Wilson score interval of an accuracy of ``correct`` out of ``rows``.

    The Wilson interval stays inside [0, 1] and keeps close to its nominal coverage
    for accuracies near 0 or 1, where the normal-approximation interval does not.

    Raises:
        ComparisonError: when ``rows`` is not positive or ``correct`` is outside [0, rows].
    """
    if rows < 1 or not 0 <= correct <= rows:
        raise ComparisonError(
            f"An accuracy needs at least one row and 0 <= correct <= rows. Received: "
            f"correct={correct}, rows={rows}"
        )
    from scipy.stats import binomtest

    interval = binomtest(int(correct), int(rows)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> dict:
    """Run McNemar's exact test on paired outcomes.

    Returns:
        ``only_first_correct`` and ``only_second_correct`` (the discordant counts)
        and ``p_value``, two-sided. With no discordant row the test cannot separate
        the models, and ``p_value`` is 1.0.
    """
    only_first = int(np.sum(first_correct & ~second_correct))
    only_second = int(np.sum(~first_correct & second_correct))
    discordant = only_first + only_second
    p_value = 1.0
    if discordant:
        from scipy.stats import binomtest

        p_value = float(binomtest(only_first, discordant, 0.5, alternative="two-sided").pvalue)
    return {"only_first_correct": only_first, "only_second_correct": only_second, "p_value": p_value}


def bootstrap_difference_interval(
    first_correct: np.ndarray,
    second_correct: np.ndarray,
    seed: int,
    resamples: int,
    confidence: float = CONFIDENCE_LEVEL,
) -> tuple[float, float]:
    """Return a percentile bootstrap interval of accuracy(first) - accuracy(second).

    Resampling n rows with replacement and averaging the per-row differences
    (each -1, 0 or +1) is the same as drawing the counts of the three values from a
    multinomial with the observed shares. Drawing the counts gives that bootstrap
    distribution exactly, in memory that does not grow with the number of rows.

    Returns:
        ``(low, high)`` as fractions, for example ``(0.026, 0.042)``.

    Raises:
        ComparisonError: when the arrays are empty or of different lengths, or
            ``resamples`` is below 1.
    """
    rows = len(first_correct)
    if rows == 0 or rows != len(second_correct):
        raise ComparisonError(
            "The bootstrap needs two outcome arrays of the same non-zero length. "
            f"Received lengths {len(first_correct)} and {len(second_correct)}."
        )
    if resamples < 1:
        raise ComparisonError(f"resamples must be at least 1. Received: resamples={resamples}")

    differences = first_correct.astype(np.int8) - second_correct.astype(np.int8)
    shares = [np.mean(differences == value) for value in (-1, 0, 1)]
    counts = np.random.default_rng(seed).multinomial(rows, shares, size=resamples)
    resampled = (counts[:, 2] - counts[:, 0]) / rows

    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return float(low), float(high)


def compare_pair(
    names: tuple[str, str],
    display_names: tuple[str, str],
    outcomes: PairedOutcomes,
    seed: int,
    resamples: int,
) -> dict:
    """Compare two models on their paired outcomes and describe the result in a sentence.

    The model with the higher accuracy on these rows is the leader, so the difference
    and its interval are given from the leader's side. Differences are in percentage
    points, rounded to 2 decimals.

    Returns:
        A JSON-serialisable dict: ``split``, ``rows``, ``leader``, ``trailer`` (each
        with ``model``, ``display_name``, ``accuracy``, ``accuracy_interval``),
        ``difference_points``, ``difference_interval_points``, ``mcnemar``
        (``only_leader_correct``, ``only_trailer_correct``, ``p_value``),
        ``clear`` (whether the interval excludes zero), ``bootstrap_resamples``,
        ``seed`` and ``sentence``.
    """
    first_accuracy = float(np.mean(outcomes.first_correct))
    second_accuracy = float(np.mean(outcomes.second_correct))
    sides = [
        (names[0], display_names[0], outcomes.first_correct, first_accuracy),
        (names[1], display_names[1], outcomes.second_correct, second_accuracy),
    ]
    if second_accuracy > first_accuracy:
        sides.reverse()
    leader, trailer = sides

    low, high = bootstrap_difference_interval(leader[2], trailer[2], seed, resamples)
    test = mcnemar_exact(leader[2], trailer[2])
    comparison = {
        "split": outcomes.split,
        "rows": outcomes.rows,
        "leader": _describe_side(leader, outcomes.rows),
        "trailer": _describe_side(trailer, outcomes.rows),
        "difference_points": _points(leader[3] - trailer[3]),
        "difference_interval_points": [_points(low), _points(high)],
        "mcnemar": {
            "only_leader_correct": test["only_first_correct"],
            "only_trailer_correct": test["only_second_correct"],
            "p_value": test["p_value"],
        },
        # An interval that touches zero counts as covering it.
        "clear": bool(low > 0 or high < 0),
        "bootstrap_resamples": resamples,
        "seed": seed,
    }
    comparison["sentence"] = comparison_sentence(comparison)
    return comparison


def comparison_sentence(comparison: dict) -> str:
    """Describe a comparison from ``compare_pair`` in one sentence.

    For example "LSTM is ahead of SimpleRNN by 3.4 points on the 5,000 test reviews,
    95 % CI 2.6 to 4.2, McNemar p < 0.001." When the interval covers zero the sentence
    starts with "No clear difference".
    """
    leader = comparison["leader"]["display_name"]
    trailer = comparison["trailer"]["display_name"]
    low, high = comparison["difference_interval_points"]
    rows = f"the {comparison['rows']:,} {comparison['split']} reviews"
    figures = (
        f"{_confidence_percent()} % CI {format_points(low)} to {format_points(high)}, "
        f"McNemar {format_p_value(comparison['mcnemar']['p_value'])}"
    )
    lead = format_points(comparison["difference_points"])
    if comparison["clear"]:
        sentence = f"{leader} is ahead of {trailer} by {lead} points on {rows}, {figures}."
        # A display name such as "the champion (...)" starts the sentence in lower case.
        return sentence[0].upper() + sentence[1:]
    if comparison["difference_points"] == 0:
        return f"No clear difference between {leader} and {trailer} on {rows}: both are right as often, {figures}."
    return (
        f"No clear difference between {leader} and {trailer} on {rows}: {leader} is ahead "
        f"by {lead} points, {figures}."
    )


def format_p_value(p_value: float) -> str:
    """Format a p-value as "p < 0.001", "p = 0.004" or "p = 0.27"."""
    if p_value < 0.001:
        return "p < 0.001"
    if p_value < 0.01:
        return f"p = {p_value:.3f}"
    return f"p = {p_value:.2f}"


def format_points(points: float) -> str:
    """Format percentage points with one decimal and a true minus sign."""
    text = f"{points:.1f}"
    if text in ("-0.0", "0.0"):
        return "0.0"
    return text.replace("-", "\N{MINUS SIGN}")


def _describe_side(side: tuple, rows: int) -> dict:
    name, display_name, correct, accuracy = side
    low, high = wilson_interval(int(np.sum(correct)), rows)
    return {
        "model": name,
        "display_name": display_name,
        "accuracy": round(accuracy, 6),
        "accuracy_interval": [round(low, 6), round(high, 6)],
    }


def _rows_of_split(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    rows = frame.loc[frame["split"] == split, ["review_id", "label", "prediction"]]
    repeated = rows["review_id"][rows["review_id"].duplicated()]
    if not repeated.empty:
        raise ComparisonError(
            f"review_id {repeated.iloc[0]!r} occurs more than once in the {split} predictions. "
            "Each review must be predicted once per split; retrain the model."
        )
    return rows


def _check_prediction_columns(frame: pd.DataFrame) -> None:
    missing = [column for column in PREDICTION_COLUMNS if column not in frame.columns]
    if missing:
        raise ComparisonError(
            f"Predictions are missing the columns {', '.join(missing)}. Expected "
            f"{', '.join(PREDICTION_COLUMNS)}; retrain the model to write them."
        )


def _points(fraction: float) -> float:
    return round(fraction * 100, 2)


def _confidence_percent() -> str:
    return f"{CONFIDENCE_LEVEL * 100:.0f}"
