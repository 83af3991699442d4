"""Tasks that open and close a run folder."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from rnnpipe import runs
from rnnpipe.config import PipelineConfig


@task(name="create-run-folder")
def create_run_folder(config: PipelineConfig) -> str:
    run = runs.create_run(Path(config.artifact_root))
    get_run_logger().info("run %s writes into %s", run.run_id, run.path)
    return str(run.path)


@task(name="finish-run")
def finish_run(run_dir: str, config: PipelineConfig, stages: dict[str, dict]) -> str:
    """Write the manifest of a completed run, then move the latest-run pointer to it."""
    run = runs.RunFolder(Path(run_dir))
    runs.write_manifest(run, config, "completed", stages)
    runs.point_latest_to(run, Path(config.artifact_root))
    get_run_logger().info("run %s completed; latest-run pointer moved to it", run.run_id)
    return str(run.manifest)
