"""The training task, run once per model."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import get_run_logger, runtime, task

from rnnpipe.config import PipelineConfig
from rnnpipe.runs import RunFolder
from rnnpipe.training import train_model


@task(name="train-model", task_run_name="train-{name}")
def train_model_task(
    name: str, dataset: dict, run_dir: str, config: PipelineConfig, placement: str = "local"
) -> dict:
    logger = get_run_logger()
    output_dir = RunFolder(Path(run_dir)).model_dir(name)
    metrics = train_model(
        name,
        Path(dataset["path"]),
        config,
        output_dir,
        report_epoch=logger.info,
        placement=placement,
        # A Prefect worker names itself in the environment of each flow run it starts.
        prefect_worker=os.environ.get("PREFECT__WORKER_NAME"),
        flow_run_id=runtime.flow_run.id,
    )
    metrics["seconds"] = metrics["train_seconds"]

    logger.info(
        "%s: best val_accuracy %.4f at epoch %d, %.1f s on %s",
        metrics["display_name"],
        metrics["best_val_accuracy"],
        metrics["best_epoch"],
        metrics["train_seconds"],
        metrics["device"],
    )
    return metrics
