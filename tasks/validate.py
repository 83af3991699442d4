"""The data validation tasks: the gate before the pad stage and the gate before training."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from rnnpipe.config import PipelineConfig
from rnnpipe.ingest import read_reviews
from rnnpipe.runs import RunFolder
from rnnpipe.validation import (
    DataValidationError,
    render_validation_markdown,
    validate_reviews,
    validate_sequences,
    validate_source_rows,
)

VALIDATION_ARTIFACT_KEY = "rnnpipe-data-validation"
SEQUENCE_VALIDATION_ARTIFACT_KEY = "rnnpipe-sequence-validation"


@task(name="validate-reviews")
def validate_reviews_task(reviews: dict, run_dir: str, config: PipelineConfig) -> dict:
    """Run the Great Expectations reviews suite; a failed expectation of a 'fail' group raises."""
    started = time.perf_counter()
    run = RunFolder(Path(run_dir))
    summaries: list[dict] = []
    try:
        summaries.append(
            validate_source_rows(
                reviews["rows_read"],
                reviews["rejected"],
                config.data.max_rejected_share,
                reviews.get("rejection_summary"),
                config.validation,
                run.validation_dir,
            )
        )
        summaries.append(validate_reviews(read_reviews(Path(reviews["path"])), config.validation, run.validation_dir))
    except DataValidationError as error:
        _publish_suites(summaries + [error.summary], VALIDATION_ARTIFACT_KEY)
        raise

    _publish_suites(summaries, VALIDATION_ARTIFACT_KEY)
    source_rows, summary = summaries
    summary["source_rows"] = {key: source_rows[key] for key in ("success", "evaluated", "failed", "warned")}
    summary["seconds"] = round(time.perf_counter() - started, 3)
    _log_summary(summary, "reviews")
    return summary


@task(name="validate-sequences")
def validate_sequences_task(padded: dict, run_dir: str, config: PipelineConfig) -> dict:
    """Run the Great Expectations sequences suite over the padded splits before training."""
    started = time.perf_counter()
    run = RunFolder(Path(run_dir))
    try:
        summary = validate_sequences(
            Path(padded["path"]),
            config.text,
            config.training.validation_fraction,
            config.validation,
            run.validation_dir,
        )
    except DataValidationError as error:
        _publish(error.summary, SEQUENCE_VALIDATION_ARTIFACT_KEY)
        raise

    _publish(summary, SEQUENCE_VALIDATION_ARTIFACT_KEY)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    _log_summary(summary, "padded sequences")
    return summary


def _publish(summary: dict, key: str) -> None:
    create_markdown_artifact(
        markdown=render_validation_markdown(summary),
        key=key,
        description=f"Great Expectations results of the {summary['suite']} suite for this run",
    )


def _publish_suites(summaries: list[dict], key: str) -> None:
    """Publish the results of several suites as one Markdown artifact."""
    create_markdown_artifact(
        markdown="\n\n".join(render_validation_markdown(summary) for summary in summaries),
        key=key,
        description="Great Expectations results of the "
        + " and ".join(summary["suite"] for summary in summaries)
        + " suites for this run",
    )


def _log_summary(summary: dict, rows: str) -> None:
    get_run_logger().info(
        "validated %d %s: %d of %d expectations passed, %d warned",
        summary["row_count"],
        rows,
        summary["evaluated"] - summary["failed"] - summary["warned"],
        summary["evaluated"],
        summary["warned"],
    )
