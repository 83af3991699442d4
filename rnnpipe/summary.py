"""The summary of one run: a JSON-serialisable dict that every renderer reads.

``summarize_run`` combines what the pad and train stages wrote (``dataset.json``,
each model's ``metrics.json`` and ``history.json``) with the settings, the book's
published figures and, when the report stage supplies them, the paired statistics,
the champion decision, the trend across runs and the data's health. It reads no file,
so tests and notebooks can call it on plain dicts.

The book is Chollet, *Deep Learning with Python* (1st ed., section 6.2). Its settings
are the defaults of ``PipelineConfig``.
"""

from __future__ import annotations

from typing import Any

from rnnpipe.config import BOOK_VALIDATION_ACCURACY, MODEL_DISPLAY_NAMES, PipelineConfig
from rnnpipe.errors import RnnpipeError

# The settings a reader needs to compare a run with the book, as (section, field) of
# PipelineConfig. Each field keeps its config name in the summary and the report.
SETTING_FIELDS: tuple[tuple[str, str], ...] = (
    ("data", "limit"),
    ("text", "num_words"),
    ("text", "maxlen"),
    ("text", "padding"),
    ("text", "truncating"),
    ("model", "embedding_dim"),
    ("model", "units"),
    ("training", "optimizer"),
    ("training", "batch_size"),
    ("training", "epochs"),
    ("training", "validation_fraction"),
)

# dataset.json must agree with the configuration on these, or the report would
# describe sequences that the pad stage never produced.
_TEXT_SETTINGS = ("num_words", "maxlen", "padding", "truncating")

_REQUIRED_METRICS = (
    "model",
    "params",
    "epochs",
    "best_epoch",
    "best_val_accuracy",
    "final_val_accuracy",
    "train_seconds",
    "mean_epoch_seconds",
    "device",
)
_REQUIRED_PARAMS = ("embedding", "recurrent", "dense", "total")
_REQUIRED_HISTORY = ("epoch", "accuracy", "val_accuracy")
_REQUIRED_DATASET = (
    "num_words",
    "maxlen",
    "padding",
    "truncating",
    "rows",
    "truncated_count",
    "truncated_share",
    "oov_rate",
    "empty_after_cleaning",
)
SPLITS = ("train", "validation", "test")


class ReportError(RnnpipeError, ValueError):
    """Inputs of the report stage that are missing, incomplete or inconsistent."""


# --- the summary ----------------------------------------------------------------


def summarize_run(
    run_id: str,
    dataset: dict,
    metrics: list[dict],
    histories: dict[str, dict],
    config: PipelineConfig,
    *,
    evaluation: dict | None = None,
    champion: dict | None = None,
    trend: dict | None = None,
    health: dict | None = None,
) -> dict:
    """Combine one run's dataset facts, model metrics and settings into one summary.

    Args:
        run_id: name of the run folder.
        dataset: contents of ``padded/dataset.json``.
        metrics: contents of each model's ``metrics.json``, in report order.
        histories: contents of each model's ``history.json``, keyed by model name.
        config: the configuration of the run.
        evaluation: each model's accuracy on the evaluation split and the paired
            comparisons, from ``rnnpipe.statistics.evaluate_models``.
        champion: the run's ``champion_decision.json``, from ``rnnpipe.champion``.
        trend: figures of this and earlier runs, from ``rnnpipe.trend.collect_trend``.
        health: the data's health, from ``rnnpipe.health.summarize_health``.

    Returns:
        A JSON-serialisable dict with the keys ``run_id``, ``models`` (one dict per
        model, in the order of ``metrics``), ``winner`` (by best validation accuracy;
        None for one model or a tie), ``comparison_sentence`` (None for one model),
        ``dataset``, ``settings``, ``book_settings``, ``settings_differing_from_book``,
        and ``evaluation``, ``champion``, ``trend`` and ``health`` as received.
        ``comparison_sentence`` states the paired comparisons when ``evaluation``
        has any, and the lead in best validation accuracy otherwise.

    Raises:
        ReportError: when an input is missing a field, a model has no history, or the
            dataset was padded with other text settings than ``config`` holds.
    """
    _check_dataset(dataset, config)
    for model_metrics in metrics:
        _check_metrics(model_metrics)
        name = model_metrics["model"]
        if name not in histories:
            raise ReportError(
                f"No history for model {name!r}. Received histories for: "
                f"{', '.join(sorted(histories)) or 'none'}."
            )
        check_history(name, histories[name])

    models = [_summarize_model(m, histories[m["model"]]) for m in metrics]
    winner = _find_winner(models)
    settings = _settings_of(config)
    book_settings = _settings_of(PipelineConfig())

    return {
        "run_id": run_id,
        "models": models,
        "winner": winner,
        "comparison_sentence": _comparison_sentence(models, winner, evaluation),
        "dataset": _summarize_dataset(dataset),
        "settings": settings,
        "book_settings": book_settings,
        "settings_differing_from_book": [
            {"setting": name, "value": value, "book_value": book_settings[name]}
            for name, value in settings.items()
            if value != book_settings[name]
        ],
        "evaluation": evaluation,
        "champion": champion,
        "trend": trend,
        "health": health,
    }


def _summarize_model(metrics: dict, history: dict) -> dict:
    name = metrics["model"]
    book_accuracy = BOOK_VALIDATION_ACCURACY.get(name)
    difference_points = None
    if book_accuracy is not None:
        difference_points = _points(metrics["best_val_accuracy"] - book_accuracy)

    return {
        "model": name,
        "display_name": metrics.get("display_name") or MODEL_DISPLAY_NAMES.get(name, name),
        "params": {key: metrics["params"][key] for key in _REQUIRED_PARAMS},
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "best_val_accuracy": metrics["best_val_accuracy"],
        "best_val_loss": metrics.get("best_val_loss"),
        "final_val_accuracy": metrics["final_val_accuracy"],
        "test_accuracy": metrics.get("test_accuracy"),
        "book_val_accuracy": book_accuracy,
        "difference_from_book_points": difference_points,
        "train_seconds": metrics["train_seconds"],
        "mean_epoch_seconds": metrics["mean_epoch_seconds"],
        "device": metrics["device"],
        "worker": metrics.get("worker"),
        "prefect_worker": metrics.get("prefect_worker"),
        "tensorflow_version": metrics.get("tensorflow_version"),
        "keras_version": metrics.get("keras_version"),
        "train_rows": metrics.get("train_rows"),
        "validation_rows": metrics.get("validation_rows"),
        "val_accuracy_by_epoch": list(history["val_accuracy"]),
    }


def _find_winner(models: list[dict]) -> dict | None:
    """Return the model with the best validation accuracy and its lead over the next one.

    None for a single model or when the two best models have equal accuracy.
    """
    if len(models) < 2:
        return None

    ranked = sorted(models, key=lambda model: model["best_val_accuracy"], reverse=True)
    first, second = ranked[0], ranked[1]
    if first["best_val_accuracy"] == second["best_val_accuracy"]:
        return None

    return {
        "model": first["model"],
        "display_name": first["display_name"],
        "runner_up": second["model"],
        "runner_up_display_name": second["display_name"],
        "lead_points": _points(first["best_val_accuracy"] - second["best_val_accuracy"]),
    }


def _comparison_sentence(models: list[dict], winner: dict | None, evaluation: dict | None) -> str | None:
    if len(models) < 2:
        return None
    if evaluation and evaluation["comparisons"]:
        return " ".join(comparison["sentence"] for comparison in evaluation["comparisons"])

    if winner is None:
        best = max(model["best_val_accuracy"] for model in models)
        tied = [model["display_name"] for model in models if model["best_val_accuracy"] == best]
        return f"{' and '.join(tied)} tie at {best * 100:.1f} % best validation accuracy."

    lead = f"{winner['lead_points']:.1f} points"
    if round(winner["lead_points"], 1) == 0:
        lead = "less than 0.1 points"
    return (
        f"{winner['display_name']} is ahead of {winner['runner_up_display_name']} "
        f"by {lead} of best validation accuracy."
    )


def _summarize_dataset(dataset: dict) -> dict:
    maxlen = dataset["maxlen"]
    return {
        "rows": {split: dataset["rows"].get(split, 0) for split in SPLITS},
        "positive_share": {
            split: dataset.get("positive_share", {}).get(split) for split in SPLITS
        },
        "num_words": dataset["num_words"],
        "vocabulary_size": dataset.get("vocabulary_size"),
        "maxlen": maxlen,
        "padding": dataset["padding"],
        "truncating": dataset["truncating"],
        "truncated_count": dataset["truncated_count"],
        "truncated_share": dataset["truncated_share"],
        "oov_rate": dataset["oov_rate"],
        "empty_after_cleaning": dataset["empty_after_cleaning"],
        # False when the reviews came as word ids (a Keras imdb.npz) without text.
        "text_available": dataset.get("text_available", True),
        "truncation_sentence": truncation_sentence(maxlen, dataset["truncating"]),
        "padding_sentence": padding_sentence(maxlen, dataset["padding"]),
    }


def truncation_sentence(maxlen: int, truncating: str) -> str:
    """Describe in one sentence which tokens of a review longer than ``maxlen`` are kept."""
    if truncating == "pre":
        return (
            f"Reviews longer than {maxlen} tokens are cut at the front "
            f'(truncating="pre"), so the last {maxlen} tokens of each review are kept.'
        )
    if truncating == "post":
        return (
            f"Reviews longer than {maxlen} tokens are cut at the end "
            f'(truncating="post"), so the first {maxlen} tokens are kept.'
        )
    raise ReportError(f"truncating must be 'pre' or 'post'. Received: truncating={truncating!r}")


def padding_sentence(maxlen: int, padding: str) -> str:
    """Describe in one sentence where the zeros go in a review shorter than ``maxlen``."""
    if padding == "pre":
        return f'Reviews shorter than {maxlen} tokens get zeros in front of the words (padding="pre").'
    if padding == "post":
        return f'Reviews shorter than {maxlen} tokens get zeros after the words (padding="post").'
    raise ReportError(f"padding must be 'pre' or 'post'. Received: padding={padding!r}")


def _settings_of(config: PipelineConfig) -> dict[str, Any]:
    return {field: getattr(getattr(config, section), field) for section, field in SETTING_FIELDS}


def _points(accuracy_difference: float) -> float:
    """Convert a difference of accuracies (0 to 1) to percentage points, 2 decimals."""
    return round(accuracy_difference * 100, 2)


# --- input checks ---------------------------------------------------------------


def _check_metrics(metrics: dict) -> None:
    name = metrics.get("model", "(unnamed)")
    missing = [key for key in _REQUIRED_METRICS if key not in metrics]
    if missing:
        raise ReportError(
            f"metrics.json of model {name!r} is missing {', '.join(missing)}. "
            "Retrain the model to write complete metrics."
        )

    missing_params = [key for key in _REQUIRED_PARAMS if key not in metrics["params"]]
    if missing_params:
        raise ReportError(
            f"metrics.json of model {name!r} is missing params.{', params.'.join(missing_params)}. "
            "Retrain the model to write complete metrics."
        )


def check_history(name: str, history: dict) -> None:
    missing = [key for key in _REQUIRED_HISTORY if key not in history]
    if missing:
        raise ReportError(
            f"history.json of model {name!r} is missing {', '.join(missing)}. "
            "Retrain the model to write a complete history."
        )

    epochs = len(history["epoch"])
    for key in ("accuracy", "val_accuracy", "loss", "val_loss"):
        if key in history and len(history[key]) != epochs:
            raise ReportError(
                f"history.json of model {name!r} has {len(history[key])} values of {key} "
                f"for {epochs} epochs. Retrain the model to write a consistent history."
            )


def _check_dataset(dataset: dict, config: PipelineConfig) -> None:
    missing = [key for key in _REQUIRED_DATASET if key not in dataset]
    if missing:
        raise ReportError(
            f"dataset.json is missing {', '.join(missing)}. Rerun the pad stage to write it again."
        )

    mismatches = [
        f"{key}={dataset[key]!r} in dataset.json but {key}={getattr(config.text, key)!r} "
        "in the configuration"
        for key in _TEXT_SETTINGS
        if dataset[key] != getattr(config.text, key)
    ]
    if mismatches:
        raise ReportError(
            "The padded dataset does not match the configuration. "
            f"{'. '.join(mismatches)}. Report with the configuration that padded the run, "
            "or pad and train again with this one."
        )


# --- the Prefect table ----------------------------------------------------------


def comparison_rows(summary: dict) -> list[dict]:
    """Flatten the summary into one row per model for a Prefect table artifact.

    Accuracies are fractions (0 to 1), differences are percentage points, and times
    are seconds. The ``evaluation_*`` columns hold the accuracy on the evaluation split
    and its 95 % Wilson interval. Columns without a value (no test split, no book
    result, no predictions) hold None.
    """
    rows = []
    for model in summary["models"]:
        rows.append(
            {
                "display_name": model["display_name"],
                "model": model["model"],
                "best_val_accuracy": model["best_val_accuracy"],
                "best_epoch": model["best_epoch"],
                "book_val_accuracy": model["book_val_accuracy"],
                "difference_from_book_points": model["difference_from_book_points"],
                "final_val_accuracy": model["final_val_accuracy"],
                "test_accuracy": model["test_accuracy"],
                "params_embedding": model["params"]["embedding"],
                "params_recurrent": model["params"]["recurrent"],
                "params_dense": model["params"]["dense"],
                "params_total": model["params"]["total"],
                "epochs": model["epochs"],
                "train_seconds": model["train_seconds"],
                "mean_epoch_seconds": model["mean_epoch_seconds"],
                "device": model["device"],
                **_evaluation_columns(summary, model["model"]),
            }
        )
    return rows


def _evaluation_columns(summary: dict, name: str) -> dict:
    evaluation = summary.get("evaluation") or {"split": None, "models": []}
    scored = next((model for model in evaluation["models"] if model["model"] == name), None)
    low, high = scored["accuracy_interval"] if scored else (None, None)
    return {
        "evaluation_split": evaluation["split"],
        "evaluation_accuracy": scored["accuracy"] if scored else None,
        "evaluation_accuracy_low": low,
        "evaluation_accuracy_high": high,
    }

