"""Run folders under the artifact root, their manifests and the latest-run pointer.

Layout::

    <artifact_root>/
      latest.json              pointer to the last completed run; moved only on success
      runs/<run-id>/
        manifest.json          config, versions, stage timings, status; written last
        reviews.parquet
        validation/ padded/ models/<model-name>/ report/

A run writes only inside its own folder until it has completed, so a failed run
leaves earlier runs, their reports and the pointer as they were.
"""

from __future__ import annotations

import logging
import platform
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rnnpipe import storage
from rnnpipe.config import PipelineConfig

logger = logging.getLogger(__name__)

LATEST_POINTER = "latest.json"
VERSIONED_PACKAGES = ("rnnpipe", "tensorflow", "keras", "prefect", "great-expectations", "pandas", "pyarrow")


@dataclass(frozen=True)
class RunFolder:
    """Paths of one run's files."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def reviews(self) -> Path:
        return self.path / "reviews.parquet"

    @property
    def validation_dir(self) -> Path:
        return self.path / "validation"

    @property
    def padded_dir(self) -> Path:
        return self.path / "padded"

    def model_dir(self, name: str) -> Path:
        return self.path / "models" / name

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"


def new_run_id(now: datetime | None = None) -> str:
    """Return a sortable id: the UTC start time and a random suffix against collisions."""
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def create_run(artifact_root: Path, run_id: str | None = None) -> RunFolder:
    """Create a new, empty run folder; an existing folder with that id is never reused."""
    path = Path(artifact_root) / "runs" / (run_id or new_run_id())
    path.mkdir(parents=True, exist_ok=False)
    logger.info("created run folder %s", path)
    return RunFolder(path)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def write_manifest(
    run: RunFolder,
    config: PipelineConfig,
    status: str,
    stages: dict[str, dict],
    error: str | None = None,
) -> Path:
    """Write the run's manifest: the config, versions, each stage's descriptor and the status."""
    manifest = {
        "run_id": run.run_id,
        "status": status,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "error": error,
        "config": config.model_dump(mode="json"),
        "versions": package_versions(),
        "stages": stages,
    }
    return storage.write_json(run.manifest, manifest)


def point_latest_to(run: RunFolder, artifact_root: Path) -> Path:
    """Move the latest-run pointer to ``run``; call only after the run completed."""
    pointer = {
        "run_id": run.run_id,
        "run_dir": str(run.path),
        "report": str(run.report_dir / "report.html"),
    }
    return storage.write_json(Path(artifact_root) / LATEST_POINTER, pointer)


def read_latest(artifact_root: Path) -> dict | None:
    path = Path(artifact_root) / LATEST_POINTER
    return storage.read_json(path) if path.is_file() else None
