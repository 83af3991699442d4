"""The data validation task, the gate before training."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from rnnpipe.config import PipelineConfig
from rnnpipe.ingest import read_reviews
from rnnpipe.runs import RunFolder
from rnnpipe.validation import DataValidationError, render_validation_markdown, validate_reviews

VALIDATION_ARTIFACT_KEY = "rnnpipe-data-validation"


@task(name="validate-reviews")
def validate_reviews_task(reviews: dict, run_dir: str, config: PipelineConfig) -> dict:
    """Run the Great Expectations suite over the reviews; a failed expectation raises."""
    started = time.perf_counter()
    run = RunFolder(Path(run_dir))
    try:
        summary = validate_reviews(read_reviews(Path(reviews["path"])), config.validation, run.validation_dir)
    except DataValidationError as error:
        _publish(error.summary)
        raise

    _publish(summary)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    get_run_logger().info(
        "validated %d reviews: %d of %d expectations passed",
        summary["row_count"],
        summary["evaluated"] - summary["failed"],
        summary["evaluated"],
    )
    return summary


def _publish(summary: dict) -> None:
    create_markdown_artifact(
        markdown=render_validation_markdown(summary),
        key=VALIDATION_ARTIFACT_KEY,
        description="Great Expectations results for the reviews of this run",
    )
