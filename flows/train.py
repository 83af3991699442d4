"""One model's training as its own flow, so that a worker of the gpu work pool can run it."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from rnnpipe.config import ModelName, PipelineConfig
from rnnpipe.runs import RunFolder
from tasks.run_folder import fetch_run_files, publish_run_files
from tasks.train import train_model_task


@flow(name="train-model", flow_run_name="train-{name}", log_prints=False)
def train_one_model(name: ModelName, run_dir: str, config: PipelineConfig) -> dict:
    """Train one model of a comparison run and write its files into the run folder.

    The comparison flow starts one run of this flow per model when
    ``training.placement`` is ``"gpu-pool"`` and reads the results back from
    ``models/<name>/`` of the run folder.

    Args:
        name: The model to train: 'simple_rnn' or 'lstm'.
        run_dir: The run folder in the artifact root, a path or an fsspec URL, with the
            padded splits that the pad stage wrote.
        config: The configuration of the comparison run.
    """
    local_run_dir = fetch_run_files(run_dir, "padded")

    dataset = {"path": str(RunFolder(Path(local_run_dir)).padded_dir)}
    metrics = train_model_task(name, dataset, local_run_dir, config, placement="gpu-pool")

    publish_run_files(local_run_dir, config, f"models/{name}")
    return metrics
