"""The ingest task."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task

from rnnpipe.config import PipelineConfig
from rnnpipe.ingest import ingest
from rnnpipe.runs import RunFolder


@task(name="ingest-reviews")
def ingest_reviews(run_dir: str, config: PipelineConfig) -> dict:
    started = time.perf_counter()
    descriptor = ingest(
        config.data, config.training.seed, RunFolder(Path(run_dir)).reviews, config.text.num_words
    )
    descriptor["seconds"] = round(time.perf_counter() - started, 3)

    get_run_logger().info(
        "ingested %d reviews from %s; %d rows rejected",
        descriptor["rows"],
        descriptor["source"],
        descriptor["rejected"],
    )
    return descriptor
