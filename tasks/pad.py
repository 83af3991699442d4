"""The task that pads reviews into fixed-length sequences stored as Parquet."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task

from rnnpipe.config import PipelineConfig
from rnnpipe.dataset import pad_reviews
from rnnpipe.ingest import read_reviews
from rnnpipe.runs import RunFolder


@task(name="pad-to-parquet")
def pad_to_parquet(reviews: dict, run_dir: str, config: PipelineConfig) -> dict:
    started = time.perf_counter()
    run = RunFolder(Path(run_dir))
    dataset = pad_reviews(
        read_reviews(Path(reviews["path"])),
        config.text,
        config.training.validation_fraction,
        config.training.seed,
        run.padded_dir,
    )
    dataset["path"] = str(run.padded_dir)
    dataset["seconds"] = round(time.perf_counter() - started, 3)

    get_run_logger().info(
        "padded %s sequences to maxlen=%d; %d truncated",
        ", ".join(f"{split} {count}" for split, count in dataset["rows"].items()),
        dataset["maxlen"],
        dataset["truncated_count"],
    )
    return dataset
