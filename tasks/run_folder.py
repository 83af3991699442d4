"""Tasks that open, share and close a run folder."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from rnnpipe import runs
from rnnpipe.config import PipelineConfig


@task(name="create-run-folder")
def create_run_folder(config: PipelineConfig) -> str:
    run = runs.create_run(config.artifact_root)
    get_run_logger().info("run %s writes into %s", run.run_id, run.path)
    return str(run.path)


@task(name="publish-run-files")
def publish_run_files(run_dir: str, config: PipelineConfig, part: str | None = None) -> int:
    """Copy the run folder, or its subfolder ``part``, to a URL artifact root for other machines."""
    run = runs.RunFolder(Path(run_dir))
    count = runs.publish_run(run, config.artifact_root, part)
    if count:
        get_run_logger().info(
            "copied %d files of run %s%s to %s",
            count,
            run.run_id,
            f" ({part})" if part else "",
            runs.run_location(config.artifact_root, run.run_id),
        )
    return count


@task(name="fetch-run-files")
def fetch_run_files(location: str, part: str | None = None) -> str:
    """Open the run folder at ``location`` on this machine, downloading ``part`` from a URL."""
    run = runs.fetch_run(location, part)
    if run.path != Path(location):
        get_run_logger().info("copied %s of run %s from %s to %s", part or "every file", run.run_id, location, run.path)
    return str(run.path)


@task(name="finish-run")
def finish_run(run_dir: str, config: PipelineConfig, stages: dict[str, dict]) -> str:
    """Write the manifest of a completed run, publish the run, then move the latest-run pointer to it."""
    run = runs.RunFolder(Path(run_dir))
    runs.write_manifest(run, config, "completed", stages)
    runs.publish_run(run, config.artifact_root)
    runs.point_latest_to(run, config.artifact_root)
    get_run_logger().info("run %s completed; latest-run pointer moved to it", run.run_id)
    return str(run.manifest)
