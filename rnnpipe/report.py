"""Compare the trained models with each other and with the book, and publish the result.

The report stage reads what the pad and train stages wrote into a run folder
(``padded/dataset.json`` and ``models/<name>/{metrics,history}.json``), builds one
JSON-serialisable summary, and renders it as Markdown, as a self-contained HTML page
and as a PNG of the learning curves. The renderers are pure functions of the summary,
so a Prefect task can publish the same Markdown and table as artifacts.

The book is Chollet, *Deep Learning with Python* (1st ed., section 6.2). Its settings
are the defaults of ``PipelineConfig``.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path
from typing import Any

from rnnpipe.errors import RnnpipeError
from rnnpipe.config import BOOK_VALIDATION_ACCURACY, MODEL_DISPLAY_NAMES, PipelineConfig
from rnnpipe.storage import read_json, write_bytes, write_json, write_text

logger = logging.getLogger(__name__)

REPORT_FOLDER = "report"
LEARNING_CURVES_FILE = "learning_curves.png"

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
_SPLITS = ("train", "validation", "test")


class ReportError(RnnpipeError, ValueError):
    """Inputs of the report stage that are missing, incomplete or inconsistent."""


# --- the stage ------------------------------------------------------------------


def build_report(run_dir: Path, config: PipelineConfig, models: list[str]) -> dict:
    """Write the comparison report of one run and return its summary.

    Reads ``padded/dataset.json`` and ``models/<name>/metrics.json`` and
    ``history.json`` for each name in ``models``. Writes ``report/report.md``,
    ``report/report.html``, ``report/learning_curves.png`` and ``report/summary.json``
    into ``run_dir``, each atomically.

    Returns:
        The summary from ``summarize_run``, which is JSON-serialisable.

    Raises:
        ReportError: when ``models`` is empty, an input file is missing, or an input
            is missing a field or disagrees with ``config``.
    """
    run_dir = Path(run_dir)
    if not models:
        raise ReportError(
            "models must name at least one trained model, for example ['simple_rnn', 'lstm']. "
            "Received: models=[]"
        )

    dataset = _read_input(run_dir / "padded" / "dataset.json", "pad")
    metrics = [_read_input(run_dir / "models" / name / "metrics.json", "train") for name in models]
    histories = {
        name: _read_input(run_dir / "models" / name / "history.json", "train") for name in models
    }
    for name, model_metrics in zip(models, metrics):
        if model_metrics.get("model") != name:
            raise ReportError(
                f"{run_dir / 'models' / name / 'metrics.json'} describes model "
                f"{model_metrics.get('model')!r}, not {name!r}. Retrain {name!r} so that its "
                "folder contains its own metrics."
            )

    summary = summarize_run(run_dir.name, dataset, metrics, histories, config)
    learning_curves_png = plot_learning_curves(histories)

    report_dir = run_dir / REPORT_FOLDER
    write_bytes(report_dir / LEARNING_CURVES_FILE, learning_curves_png)
    write_json(report_dir / "summary.json", summary)
    write_text(report_dir / "report.md", render_markdown(summary))
    write_text(report_dir / "report.html", render_html(summary, learning_curves_png))

    logger.info(
        "wrote the report of run %s for %d model(s) to %s: %s",
        summary["run_id"],
        len(summary["models"]),
        report_dir,
        summary["comparison_sentence"] or "one model, nothing to compare",
    )
    return summary


def _read_input(path: Path, stage: str) -> dict:
    if not path.is_file():
        raise ReportError(f"{path} not found. Run the {stage} stage for this run first.")
    return read_json(path)


# --- the summary ----------------------------------------------------------------


def summarize_run(
    run_id: str,
    dataset: dict,
    metrics: list[dict],
    histories: dict[str, dict],
    config: PipelineConfig,
) -> dict:
    """Combine one run's dataset facts, model metrics and settings into one summary.

    Args:
        run_id: name of the run folder.
        dataset: contents of ``padded/dataset.json``.
        metrics: contents of each model's ``metrics.json``, in report order.
        histories: contents of each model's ``history.json``, keyed by model name.
        config: the configuration of the run.

    Returns:
        A JSON-serialisable dict with the keys ``run_id``, ``models`` (one dict per
        model, in the order of ``metrics``), ``winner`` (None for one model or a tie),
        ``comparison_sentence`` (None for one model), ``dataset``, ``settings``,
        ``book_settings`` and ``settings_differing_from_book``.

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
        _check_history(name, histories[name])

    models = [_summarize_model(m, histories[m["model"]]) for m in metrics]
    winner = _find_winner(models)
    settings = _settings_of(config)
    book_settings = _settings_of(PipelineConfig())

    return {
        "run_id": run_id,
        "models": models,
        "winner": winner,
        "comparison_sentence": _comparison_sentence(models, winner),
        "dataset": _summarize_dataset(dataset),
        "settings": settings,
        "book_settings": book_settings,
        "settings_differing_from_book": [
            {"setting": name, "value": value, "book_value": book_settings[name]}
            for name, value in settings.items()
            if value != book_settings[name]
        ],
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


def _comparison_sentence(models: list[dict], winner: dict | None) -> str | None:
    if len(models) < 2:
        return None

    if winner is None:
        best = max(model["best_val_accuracy"] for model in models)
        tied = [model["display_name"] for model in models if model["best_val_accuracy"] == best]
        return f"{' and '.join(tied)} tie at {_percent(best)} best validation accuracy."

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
        "rows": {split: dataset["rows"].get(split, 0) for split in _SPLITS},
        "positive_share": {
            split: dataset.get("positive_share", {}).get(split) for split in _SPLITS
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


def _check_history(name: str, history: dict) -> None:
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
    are seconds. Columns without a value (no test split, no book result) hold None.
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
            }
        )
    return rows


# --- the learning curves --------------------------------------------------------


def plot_learning_curves(histories: dict[str, dict]) -> bytes:
    """Plot accuracy and loss per epoch for each model and return the figure as PNG bytes.

    Each model gets one colour: solid lines are validation, dashed lines training, and
    a star marks the epoch with the best validation accuracy. The loss panel is left
    out when no history has ``loss`` or ``val_loss``.

    Raises:
        ReportError: when ``histories`` is empty or a history is missing a field.
    """
    # Imported here so that importing rnnpipe.report stays cheap. Figure with its own
    # Agg canvas needs no pyplot and changes no global backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not histories:
        raise ReportError("histories must contain at least one model's history. Received: {}")
    for name, history in histories.items():
        _check_history(name, history)

    has_loss = any("loss" in history or "val_loss" in history for history in histories.values())
    panels = [("accuracy", "val_accuracy", "accuracy")]
    if has_loss:
        panels.append(("loss", "val_loss", "loss"))
    colours = {name: f"C{index}" for index, name in enumerate(histories)}

    # Panels stack vertically so the image stays legible on a narrow phone screen.
    figure = Figure(figsize=(7, 1.2 + 3 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]

    for (train_key, validation_key, label), axes in zip(panels, axes_list):
        for name, history in histories.items():
            _plot_model(axes, history, train_key, validation_key, colours[name])
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)

    # One legend entry per model colour and one per line style keeps the legend short
    # and off the curves.
    handles = [
        Line2D([], [], color=colour, linewidth=3, label=MODEL_DISPLAY_NAMES.get(name, name))
        for name, colour in colours.items()
    ]
    handles += [
        Line2D([], [], color="grey", linestyle="--", label="training"),
        Line2D([], [], color="grey", linestyle="-", label="validation"),
        Line2D([], [], color="grey", marker="*", markersize=12, markeredgecolor="black",
               linestyle="none", label="best validation accuracy"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _plot_model(axes, history: dict, train_key: str, validation_key: str, colour: str) -> None:
    epochs = history["epoch"]
    if train_key in history:
        axes.plot(epochs, history[train_key], "--", color=colour)
    if validation_key not in history:
        return

    # The star sits at the epoch of best validation accuracy on every panel, so the
    # loss panel shows the loss of the epoch that the accuracy table reports.
    axes.plot(epochs, history[validation_key], "-", color=colour)
    best_index = max(range(len(epochs)), key=lambda i: history["val_accuracy"][i])
    axes.plot(
        [epochs[best_index]],
        [history[validation_key][best_index]],
        "*",
        color=colour,
        markersize=14,
        markeredgecolor="black",
    )


# --- the tables and sentences both renderers share -------------------------------


def _accuracy_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    models = summary["models"]
    show_test = any(model["test_accuracy"] is not None for model in models)
    headers = [
        "model",
        "best validation accuracy",
        "best epoch",
        "book",
        "difference from book",
        "final validation accuracy",
    ]
    if show_test:
        headers.append("test accuracy")

    rows = []
    for model in models:
        row = [
            model["display_name"],
            _percent(model["best_val_accuracy"]),
            f"{model['best_epoch']} of {model['epochs']}",
            _percent(model["book_val_accuracy"], decimals=0),
            _signed_points(model["difference_from_book_points"]),
            _percent(model["final_val_accuracy"]),
        ]
        if show_test:
            row.append(_percent(model["test_accuracy"]))
        rows.append(row)
    return headers, rows


def _size_and_time_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    headers = [
        "model",
        "embedding",
        "recurrent",
        "dense",
        "total parameters",
        "training time",
        "time per epoch",
        "device",
    ]
    rows = [
        [
            model["display_name"],
            f"{model['params']['embedding']:,}",
            f"{model['params']['recurrent']:,}",
            f"{model['params']['dense']:,}",
            f"{model['params']['total']:,}",
            _seconds(model["train_seconds"]),
            _seconds(model["mean_epoch_seconds"]),
            model["device"],
        ]
        for model in summary["models"]
    ]
    return headers, rows


def _epoch_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    models = summary["models"]
    epoch_count = max(len(model["val_accuracy_by_epoch"]) for model in models)
    headers = ["epoch"] + [model["display_name"] for model in models]
    rows = []
    for index in range(epoch_count):
        row = [str(index + 1)]
        for model in models:
            values = model["val_accuracy_by_epoch"]
            row.append(_percent(values[index]) if index < len(values) else "–")
        rows.append(row)
    return headers, rows


def _dataset_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    dataset = summary["dataset"]
    headers = ["split", "reviews", "positive share"]
    rows = [
        [split, f"{dataset['rows'][split]:,}", _percent(dataset["positive_share"][split])]
        for split in _SPLITS
    ]
    return headers, rows


def _dataset_facts(summary: dict) -> list[str]:
    dataset = summary["dataset"]
    return [
        dataset["truncation_sentence"],
        f"{dataset['truncated_count']:,} reviews ({_percent(dataset['truncated_share'])}) "
        f"were longer than {dataset['maxlen']} tokens and were truncated.",
        dataset["padding_sentence"],
        f"{_percent(dataset['oov_rate'])} of tokens are out of vocabulary "
        f"(num_words={dataset['num_words']:,}, reserved ids included).",
        f"{dataset['empty_after_cleaning']:,} reviews were empty after cleaning and were "
        "set aside.",
    ]


def _settings_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["setting", "this run", "book"]
    rows = [
        [name, _setting_value(name, value), _setting_value(name, summary["book_settings"][name])]
        for name, value in summary["settings"].items()
    ]
    return headers, rows


def _settings_sentence(summary: dict) -> str:
    differing = summary["settings_differing_from_book"]
    if not differing:
        return "Every setting matches the book."
    changes = [
        f"{item['setting']} ({_setting_value(item['setting'], item['value'])} instead of "
        f"{_setting_value(item['setting'], item['book_value'])})"
        for item in differing
    ]
    return f"Settings that differ from the book: {', '.join(changes)}."


def _training_facts(summary: dict) -> list[str]:
    facts = []
    for model in summary["models"]:
        where = f"{model['display_name']} trained on {model['device']}"
        if model["worker"]:
            where += f" on {model['worker']}"
        versions = [
            f"{library} {model[key]}"
            for library, key in (("TensorFlow", "tensorflow_version"), ("Keras", "keras_version"))
            if model[key]
        ]
        if versions:
            where += f" with {' and '.join(versions)}"
        facts.append(where + ".")
    return facts


_ACCURACY_NOTE = (
    "Best validation accuracy is the highest validation accuracy over all epochs. "
    "The book column is the best validation accuracy published in Chollet, "
    "Deep Learning with Python (1st ed., section 6.2), and differences are in percentage points."
)


def _setting_value(name: str, value: Any) -> str:
    if name == "limit" and value is None:
        return "all reviews"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _percent(fraction: float | None, decimals: int = 1) -> str:
    if fraction is None:
        return "–"
    return f"{fraction * 100:.{decimals}f} %"


def _signed_points(points: float | None) -> str:
    if points is None:
        return "–"
    return f"{points:+.1f} points"


def _seconds(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    return f"{seconds:.1f} s"


# --- Markdown -------------------------------------------------------------------


def render_markdown(summary: dict) -> str:
    """Render the summary as a Markdown report, for report.md and a Prefect artifact.

    The learning curves are not embedded, because a Prefect Markdown artifact cannot
    show a file from the run folder. The text points to the PNG instead.
    """
    lines = [f"# rnnpipe run {summary['run_id']}", ""]
    if summary["comparison_sentence"]:
        lines += [summary["comparison_sentence"], ""]

    lines += ["## Accuracy", "", *_markdown_table(*_accuracy_table(summary)), "", _ACCURACY_NOTE, ""]
    lines += [
        "## Validation accuracy per epoch",
        "",
        *_markdown_table(*_epoch_table(summary)),
        "",
        f"The learning curves are in {REPORT_FOLDER}/{LEARNING_CURVES_FILE} in the run folder.",
        "",
    ]
    lines += [
        "## Parameters and training time",
        "",
        *_markdown_table(*_size_and_time_table(summary)),
        "",
        *[f"- {fact}" for fact in _training_facts(summary)],
        "",
    ]
    lines += [
        "## Dataset",
        "",
        *_markdown_table(*_dataset_table(summary)),
        "",
        *[f"- {fact}" for fact in _dataset_facts(summary)],
        "",
    ]
    lines += ["## Settings", "", *_markdown_table(*_settings_table(summary)), ""]
    lines += [_settings_sentence(summary), ""]
    return "\n".join(lines)


def _markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    # The first column names the row; the others hold values and align right.
    alignment = ["---"] + ["---:"] * (len(headers) - 1)
    lines = [_markdown_row(headers), _markdown_row(alignment)]
    lines += [_markdown_row(row) for row in rows]
    return lines


def _markdown_row(cells: list[str]) -> str:
    escaped = [str(cell).replace("|", "\\|") for cell in cells]
    return "| " + " | ".join(escaped) + " |"


# --- HTML -----------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.5;
       color: #1f2328; background: #fff; margin: 0 auto; padding: 1rem; max-width: 60rem; }
h1 { font-size: 1.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.lead { font-size: 1.1rem; font-weight: 600; }
.table-scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; min-width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid #d0d7de; text-align: right;
         white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f8fa; }
img { max-width: 100%; height: auto; }
.note { color: #59636e; font-size: 0.9rem; }
@media (max-width: 600px) { body { padding: 0.5rem; font-size: 0.95rem; } }
"""


def render_html(summary: dict, learning_curves_png: bytes) -> str:
    """Render the summary as one self-contained HTML page.

    The PNG is embedded as a base64 data URI and the CSS is inline, so the page
    loads no external resource and can be opened from disk or mailed as one file.
    """
    title = f"rnnpipe run {summary['run_id']}"
    image = base64.b64encode(learning_curves_png).decode("ascii")
    body = [f"<h1>{_escape(title)}</h1>"]
    if summary["comparison_sentence"]:
        body.append(f'<p class="lead">{_escape(summary["comparison_sentence"])}</p>')

    body += [
        "<h2>Accuracy</h2>",
        _html_table(*_accuracy_table(summary)),
        f'<p class="note">{_escape(_ACCURACY_NOTE)}</p>',
        "<h2>Learning curves</h2>",
        f'<img src="data:image/png;base64,{image}" alt="Training and validation accuracy '
        'and loss per epoch for each model, with the best epoch starred">',
        "<h2>Validation accuracy per epoch</h2>",
        _html_table(*_epoch_table(summary)),
        "<h2>Parameters and training time</h2>",
        _html_table(*_size_and_time_table(summary)),
        _html_list(_training_facts(summary)),
        "<h2>Dataset</h2>",
        _html_table(*_dataset_table(summary)),
        _html_list(_dataset_facts(summary)),
        "<h2>Settings</h2>",
        _html_table(*_settings_table(summary)),
        f"<p>{_escape(_settings_sentence(summary))}</p>",
    ]

    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_escape(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_escape(cell)}</th>" for cell in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="table-scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_escape(item)}</li>" for item in items) + "</ul>"


def _escape(text: Any) -> str:
    return html.escape(str(text), quote=True)
