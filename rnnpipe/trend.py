"""Figures of each run over time: the trend table, drift flags and the run list.

Each run's figures come from the files in its folder: ``padded/dataset.json`` for
the data (row count, class balance, out-of-vocabulary rate), each
``models/<name>/metrics.json`` for the accuracies and training time,
``champion_decision.json`` for the champion decision and ``manifest.json`` for the
status. Only completed runs enter the trend, so a failed run never shows up as a
drop in accuracy.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rnnpipe.config import MODEL_DISPLAY_NAMES, ReportConfig
from rnnpipe.errors import RnnpipeError
from rnnpipe.storage import read_json

logger = logging.getLogger(__name__)

RUNS_FOLDER = "runs"
COMPLETED = "completed"
# The manifest is the last file a run writes, so a run folder without one belongs
# to a run that is still going or was killed.
NO_MANIFEST = "no manifest"


class TrendError(RnnpipeError, ValueError):
    """A run folder whose figures cannot be read."""


def run_figures(run_dir: Path) -> dict:
    """Read one run's headline figures from its folder.

    Returns:
        A JSON-serialisable dict: ``run_id``, ``status``, ``rows`` (padded reviews,
        all splits), ``rows_by_split``, ``positive_share`` (over all splits),
        ``oov_rate``, ``truncated_share``, ``train_seconds`` (all models together),
        ``models`` (per model name: ``display_name``, ``val_accuracy`` (best),
        ``test_accuracy`` or None, ``train_seconds``), ``champion_decision``
        ("promote", "keep" or None) and an empty ``flags`` list.

    Raises:
        TrendError: when ``padded/dataset.json`` or every ``metrics.json`` is missing.
    """
    run_dir = Path(run_dir)
    dataset_path = run_dir / "padded" / "dataset.json"
    if not dataset_path.is_file():
        raise TrendError(f"{dataset_path} not found, so run {run_dir.name} has no data figures.")
    dataset = read_json(dataset_path)

    models = {}
    for metrics_path in sorted((run_dir / "models").glob("*/metrics.json"), key=_model_order):
        metrics = read_json(metrics_path)
        name = metrics.get("model", metrics_path.parent.name)
        models[name] = {
            "display_name": metrics.get("display_name") or MODEL_DISPLAY_NAMES.get(name, name),
            "val_accuracy": metrics.get("best_val_accuracy"),
            "test_accuracy": metrics.get("test_accuracy"),
            "train_seconds": metrics.get("train_seconds"),
        }
    if not models:
        raise TrendError(f"No models/<name>/metrics.json in {run_dir}, so run {run_dir.name} has no accuracies.")

    rows_by_split = {split: int(count) for split, count in dataset.get("rows", {}).items()}
    decision_path = run_dir / "champion_decision.json"
    return {
        "run_id": run_dir.name,
        "status": _status(run_dir),
        "rows": sum(rows_by_split.values()),
        "rows_by_split": rows_by_split,
        "positive_share": _overall_positive_share(rows_by_split, dataset.get("positive_share", {})),
        "oov_rate": dataset.get("oov_rate"),
        "truncated_share": dataset.get("truncated_share"),
        "train_seconds": round(sum(model["train_seconds"] or 0.0 for model in models.values()), 3),
        "models": models,
        "champion_decision": read_json(decision_path).get("decision") if decision_path.is_file() else None,
        "flags": [],
    }


def completed_run_folders(artifact_root: Path) -> list[Path]:
    """Return the folders of completed runs under ``artifact_root/runs``, oldest first.

    Run ids start with the UTC start time, so sorting by name sorts by time.
    """
    runs_dir = Path(artifact_root) / RUNS_FOLDER
    if not runs_dir.is_dir():
        return []
    return [path for path in sorted(runs_dir.iterdir()) if path.is_dir() and _status(path) == COMPLETED]


def collect_trend(artifact_root: Path | None, run_dir: Path, config: ReportConfig) -> dict:
    """Gather the figures of ``run_dir`` and the completed runs before it, and flag drift.

    Args:
        artifact_root: folder with ``runs/``; None shows ``run_dir`` alone.
        run_dir: the run being reported. It enters the trend whatever its status,
            because its manifest is written after the report.
        config: the number of runs to show and the drift thresholds.

    Returns:
        A JSON-serialisable dict: ``runs`` (at most ``config.trend_runs`` figures from
        ``run_figures``, oldest first, each with its ``flags`` against the run before
        it), ``flags`` (those of ``run_dir``), ``skipped`` (earlier runs whose files
        could not be read, with the reason) and ``thresholds``.
    """
    run_dir = Path(run_dir)
    earlier = []
    if artifact_root is not None:
        earlier = [path for path in completed_run_folders(artifact_root) if path.name < run_dir.name]

    figures: list[dict] = []
    skipped = []
    # One run more than shown, so that the oldest run shown has a run to be compared with.
    for path in earlier[-config.trend_runs :]:
        try:
            figures.append(run_figures(path))
        except (TrendError, OSError, ValueError) as error:
            logger.warning("left run %s out of the trend: %s", path.name, error)
            skipped.append({"run_id": path.name, "reason": str(error)})
    figures.append(run_figures(run_dir))

    for previous, current in zip(figures, figures[1:]):
        current["flags"] = drift_flags(previous, current, config)
    shown_runs = figures[-config.trend_runs :]
    return {
        "runs": shown_runs,
        "flags": shown_runs[-1]["flags"],
        "skipped": skipped,
        "thresholds": config.model_dump(
            include={
                "trend_runs",
                "drift_threshold_points",
                "balance_drift_points",
                "oov_drift_points",
                "row_count_drift_percent",
                "train_time_drift_percent",
            }
        ),
    }


def drift_flags(previous: dict, current: dict, config: ReportConfig) -> list[str]:
    """Describe each figure of ``current`` that moved more than its threshold since ``previous``.

    Accuracies, the positive share and the out-of-vocabulary rate are compared in
    percentage points. The row count and the training time are compared in percent
    of the previous run's value.
    """
    since = f"since run {previous['run_id']}"
    flags = []
    for name, model in current["models"].items():
        before = previous["models"].get(name)
        if before is None:
            continue
        for key, label in (("val_accuracy", "best validation accuracy"), ("test_accuracy", "test accuracy")):
            flag = _points_flag(
                f"{model['display_name']} {label}", before[key], model[key], config.drift_threshold_points, since
            )
            if flag:
                flags.append(flag)

    for key, label, threshold in (
        ("positive_share", "Share of positive reviews", config.balance_drift_points),
        ("oov_rate", "Out-of-vocabulary rate", config.oov_drift_points),
    ):
        flag = _points_flag(label, previous[key], current[key], threshold, since)
        if flag:
            flags.append(flag)

    for key, label, threshold, unit in (
        ("rows", "Number of padded reviews", config.row_count_drift_percent, ""),
        ("train_seconds", "Training time", config.train_time_drift_percent, " s"),
    ):
        flag = _percent_flag(label, previous[key], current[key], threshold, unit, since)
        if flag:
            flags.append(flag)
    return flags


def list_runs(artifact_root: Path) -> list[dict]:
    """List every run folder under ``artifact_root/runs`` with its headline figures, oldest first.

    A run whose figures cannot be read (a failed run stops before training) is listed
    with its status, empty ``models`` and the reason in ``note``.
    """
    runs_dir = Path(artifact_root) / RUNS_FOLDER
    if not runs_dir.is_dir():
        return []

    listed = []
    for path in sorted(runs_dir.iterdir()):
        if not path.is_dir():
            continue
        try:
            figures = run_figures(path)
            figures["note"] = None
        except (TrendError, OSError, ValueError) as error:
            figures = {"run_id": path.name, "status": _status(path), "models": {}, "note": str(error)}
        listed.append(figures)
    return listed


def render_runs(listed: list[dict], champion: dict | None) -> str:
    """Format the runs from ``list_runs`` as a plain-text table for a terminal, oldest first.

    Each model's column gives its best validation accuracy and, after a slash, its
    test accuracy when the run had a test split. The run and model of ``champion``
    (the contents of ``champion.json``) are marked.
    """
    if not listed:
        return "No runs yet."

    names = [name for name in MODEL_DISPLAY_NAMES if any(name in run["models"] for run in listed)]
    names += sorted({name for run in listed for name in run["models"]} - set(names))
    headers = ["run", "status", *[f"{MODEL_DISPLAY_NAMES.get(name, name)} val/test" for name in names]]
    headers += ["reviews", "decision", "champion"]

    rows = []
    for run in listed:
        row = [run["run_id"], run["status"]]
        for name in names:
            model = run["models"].get(name)
            row.append(_accuracy_pair(model) if model else "–")
        is_champion = champion is not None and champion["run_id"] == run["run_id"]
        row += [
            f"{run['rows']:,}" if "rows" in run else "–",
            run.get("champion_decision") or "–",
            champion["display_name"] if is_champion else "",
        ]
        rows.append(row)

    widths = [max(len(str(line[column])) for line in [headers, *rows]) for column in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [headers, *rows]]
    notes = [f"{run['run_id']}: {run['note']}" for run in listed if run.get("note")]
    return "\n".join(lines + ([""] + notes if notes else []))


def _accuracy_pair(model: dict) -> str:
    validation = "–" if model["val_accuracy"] is None else f"{model['val_accuracy'] * 100:.1f}"
    if model["test_accuracy"] is None:
        return f"{validation} %"
    return f"{validation} / {model['test_accuracy'] * 100:.1f} %"


def _points_flag(label: str, before: float | None, after: float | None, threshold: float, since: str) -> str | None:
    if before is None or after is None:
        return None
    change = (after - before) * 100
    if abs(change) <= threshold:
        return None
    direction = "rose" if change > 0 else "fell"
    return (
        f"{label} {direction} by {abs(change):.1f} points {since}, from {before * 100:.1f} % "
        f"to {after * 100:.1f} % (threshold {points_text(threshold)})."
    )


def _percent_flag(
    label: str, before: float | None, after: float | None, threshold: float, unit: str, since: str
) -> str | None:
    if not before or after is None:
        return None
    change = (after - before) / before * 100
    if abs(change) <= threshold:
        return None
    direction = "rose" if change > 0 else "fell"
    return (
        f"{label} {direction} by {abs(change):.0f} % {since}, from {before:,.0f}{unit} to "
        f"{after:,.0f}{unit} (threshold {threshold:g} %)."
    )


def points_text(points: float) -> str:
    """Write a threshold in percentage points: "1 point", "0.5 points", "2 points"."""
    return f"{points:g} point" if points == 1 else f"{points:g} points"


def _status(run_dir: Path) -> str:
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        return NO_MANIFEST
    try:
        return str(read_json(manifest_path).get("status", "unknown"))
    except ValueError:
        return "unreadable manifest"


def _overall_positive_share(rows_by_split: dict[str, int], shares: dict[str, float | None]) -> float | None:
    counted = [(rows_by_split.get(split, 0), share) for split, share in shares.items() if share is not None]
    total = sum(rows for rows, _ in counted)
    if not total:
        return None
    return round(sum(rows * share for rows, share in counted) / total, 6)


def _model_order(metrics_path: Path) -> tuple[int, str]:
    # The order of MODEL_DISPLAY_NAMES (SimpleRNN before LSTM) is the report's order.
    name = metrics_path.parent.name
    order = list(MODEL_DISPLAY_NAMES)
    return (order.index(name) if name in order else len(order), name)
