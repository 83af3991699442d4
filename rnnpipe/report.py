"""The report stage: compare the trained models and write the report files of one run.

``build_report`` reads what the earlier stages wrote into a run folder, builds one
JSON-serialisable summary and writes it as ``report/summary.json``, ``report/report.md``
and a self-contained ``report/report.html`` with the charts as PNG files beside them.
The report answers, in this order: is one model's lead real (paired statistics on the
same reviews), does tonight's best model replace the champion (the decision that
``rnnpipe.champion`` recorded), how this run compares with earlier runs (trend and
drift flags), how it compares with the book, and how healthy the data was.

The work is split by concept: ``rnnpipe.summary`` builds the summary,
``rnnpipe.statistics`` compares models, ``rnnpipe.trend`` reads earlier runs,
``rnnpipe.health`` reads the data's figures, ``rnnpipe.plots`` draws the charts and
``rnnpipe.render`` writes Markdown and HTML. The names below are re-exported so that
callers keep one import.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError

from rnnpipe import runs
from rnnpipe.champion import read_decision
from rnnpipe.config import MODEL_DISPLAY_NAMES, PipelineConfig
from rnnpipe.health import summarize_health
from rnnpipe.render import (
    LEARNING_CURVES_FILE,
    REPORT_FOLDER,
    TREND_FILE,
    render_html,
    render_markdown,
)
from rnnpipe.statistics import evaluate_models
from rnnpipe.storage import read_json, write_bytes, write_json, write_text
from rnnpipe.summary import (
    SETTING_FIELDS,
    ReportError,
    comparison_rows,
    padding_sentence,
    summarize_run,
    truncation_sentence,
)
from rnnpipe.trend import RUNS_FOLDER, collect_trend

__all__ = [
    "LEARNING_CURVES_FILE",
    "REPORT_FOLDER",
    "SETTING_FIELDS",
    "TREND_FILE",
    "ReportError",
    "build_report",
    "comparison_rows",
    "find_run_folder",
    "padding_sentence",
    "plot_learning_curves",
    "rebuild_report",
    "render_html",
    "render_markdown",
    "summarize_run",
    "truncation_sentence",
]

logger = logging.getLogger(__name__)


def plot_learning_curves(histories: dict[str, dict]) -> bytes:
    """Draw the learning curves as PNG bytes; see ``rnnpipe.plots.plot_learning_curves``."""
    from rnnpipe import plots

    return plots.plot_learning_curves(histories)


# --- the stage ------------------------------------------------------------------


def build_report(
    run_dir: Path,
    config: PipelineConfig,
    models: list[str],
    artifact_root: Path | None = None,
) -> dict:
    """Write the comparison report of one run and return its summary.

    Reads ``padded/dataset.json`` and, for each name in ``models``,
    ``models/<name>/metrics.json``, ``history.json`` and ``predictions.parquet``. Reads
    ``champion_decision.json``, ``reviews.parquet``, ``rejected.parquet``,
    ``padded/set_aside.parquet`` and ``validation/`` when present, and the completed
    runs under ``artifact_root`` for the trend. Writes ``report/report.md``,
    ``report/report.html``, ``report/learning_curves.png``, ``report/trend.png`` and
    ``report/summary.json`` into ``run_dir``, each atomically.

    Args:
        run_dir: the run folder.
        config: the configuration of the run.
        models: names of the trained models, in report order.
        artifact_root: folder with ``runs/``; None shows this run alone in the trend.

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
    predictions = {name: _read_predictions(run_dir, name) for name in models}

    display_names = {
        model_metrics["model"]: model_metrics.get("display_name") or MODEL_DISPLAY_NAMES.get(name, name)
        for name, model_metrics in zip(models, metrics)
    }
    evaluation = evaluate_models(predictions, display_names, config.training.seed, config.report.bootstrap_resamples)
    trend = collect_trend(artifact_root, run_dir, config.report)
    summary = summarize_run(
        run_dir.name,
        dataset,
        metrics,
        histories,
        config,
        evaluation=evaluation,
        champion=read_decision(run_dir),
        trend=trend,
        health=summarize_health(run_dir, dataset),
    )

    from rnnpipe import plots

    learning_curves_png = plots.plot_learning_curves(histories)
    trend_png = plots.plot_trend(trend)
    report_dir = run_dir / REPORT_FOLDER
    write_bytes(report_dir / LEARNING_CURVES_FILE, learning_curves_png)
    write_bytes(report_dir / TREND_FILE, trend_png)
    write_json(report_dir / "summary.json", summary)
    write_text(report_dir / "report.md", render_markdown(summary))
    write_text(report_dir / "report.html", render_html(summary, learning_curves_png, trend_png))

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


def _read_predictions(run_dir: Path, name: str):
    import pandas as pd

    path = run_dir / "models" / name / "predictions.parquet"
    if not path.is_file():
        raise ReportError(f"{path} not found. Run the train stage for this run first.")
    return pd.read_parquet(path)


# --- rebuilding a report from a run folder --------------------------------------


def find_run_folder(artifact_root: Path, run: str | None = None) -> Path:
    """Locate a run folder by id, by path, or as the latest completed run when ``run`` is None.

    Raises:
        ReportError: when the folder does not exist or no run has completed yet.
    """
    artifact_root = Path(artifact_root)
    if run is None:
        latest = runs.read_latest(artifact_root)
        if latest is None:
            raise ReportError(
                f"No completed run in {artifact_root}: {runs.LATEST_POINTER} not found. "
                "Name a run, or pass the artifact root that holds your runs."
            )
        run = latest["run_id"]

    candidates = [Path(run), artifact_root / RUNS_FOLDER / run]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ReportError(
        f"Run {run!r} not found: neither {candidates[0]} nor {candidates[1]} is a folder. "
        "'rnnpipe runs' lists the runs."
    )


def rebuild_report(run_dir: Path) -> dict:
    """Write the report of a finished run again from the files in its folder.

    The configuration comes from the run's ``manifest.json``, and the champion
    decision from its ``champion_decision.json``, so the report shows the decision
    made that night instead of a new one. A folder inside ``<root>/runs/`` gets the
    completed runs of ``<root>`` before it in its trend.

    Raises:
        ReportError: when the run has no manifest or no trained model.
    """
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ReportError(
            f"{manifest_path} not found. The run is still going or was stopped before it "
            "finished, so there is no configuration to build its report from."
        )
    try:
        config = PipelineConfig.model_validate(read_json(manifest_path)["config"])
    except (KeyError, ValidationError) as error:
        raise ReportError(
            f"The configuration in {manifest_path} is missing or invalid, so the report cannot be "
            f"built again: {error}"
        ) from None
    models = [name for name in config.model.names if (run_dir / "models" / name / "metrics.json").is_file()]
    if not models:
        raise ReportError(
            f"Run {run_dir.name} has no trained model in {run_dir / 'models'}, so there is "
            "nothing to report. A run that failed before training has only its manifest."
        )
    artifact_root = run_dir.parent.parent if run_dir.parent.name == RUNS_FOLDER else None
    return build_report(run_dir, config, models, artifact_root)
