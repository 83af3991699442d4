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

When the artifact root is an fsspec URL, a run is written into this machine's
mirror of its folder (``local_root``) and copied to the URL by ``publish_run``;
a worker on another machine opens it with ``fetch_run``.
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
from rnnpipe.errors import RnnpipeError

logger = logging.getLogger(__name__)

LATEST_POINTER = "latest.json"
VERSIONED_PACKAGES = ("rnnpipe", "tensorflow", "keras", "prefect", "great-expectations", "pandas", "pyarrow")


class ArtifactRootError(RnnpipeError, OSError):
    """An artifact root where a run folder cannot be created."""


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


def local_root(artifact_root: str | Path) -> Path:
    """Return the local folder that contains this machine's copy of ``artifact_root``.

    That is the path itself, or for an fsspec URL the URL's mirror on this machine.
    """
    if storage.is_url(artifact_root):
        return storage.mirror_path(str(artifact_root))
    return Path(artifact_root)


def run_location(artifact_root: str | Path, run_id: str) -> str:
    """Return the run folder's path or URL in ``artifact_root``, which other machines open."""
    return storage.join(artifact_root, "runs", run_id)


def create_run(artifact_root: str | Path, run_id: str | None = None) -> RunFolder:
    """Create a new, empty run folder; an existing folder with that id is never reused.

    For a URL artifact root the folder is created in this machine's mirror, and
    nothing reaches the URL until ``publish_run``.
    """
    path = local_root(artifact_root) / "runs" / (run_id or new_run_id())
    try:
        path.mkdir(parents=True, exist_ok=False)
    except PermissionError as error:
        raise ArtifactRootError(
            f"Cannot create the run folder {path}: {error.strerror}. Choose a writable "
            "artifact root with --artifact-root or the artifact_root setting."
        ) from None
    logger.info("created run folder %s", path)
    return RunFolder(path)


def publish_run(run: RunFolder, artifact_root: str | Path, part: str | None = None) -> int:
    """Copy the run folder, or its subfolder ``part``, from the mirror to a URL artifact root.

    Does nothing for a local artifact root, where the run folder is already in place.
    The manifest is copied last, so a reader that finds it finds the rest complete.

    Returns:
        The number of files copied.
    """
    if not storage.is_url(artifact_root):
        return 0
    location = run_location(artifact_root, run.run_id)
    if part is None:
        return storage.upload(run.path, location, last=["manifest.json"])
    return storage.upload(run.path / part, storage.join(location, part))


def fetch_run(location: str, part: str | None = None) -> RunFolder:
    """Open the run folder at ``location``, a path or a URL, on this machine.

    For a URL, ``part`` (a subfolder such as ``"padded"``), or else the whole
    folder, is downloaded into this machine's mirror first. A local path is
    opened where it is.
    """
    if not storage.is_url(location):
        return RunFolder(Path(location))
    mirror = storage.mirror_path(location)
    if part is None:
        storage.download(location, mirror)
    else:
        storage.download(storage.join(location, part), mirror / part)
    return RunFolder(mirror)


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


def point_latest_to(run: RunFolder, artifact_root: str | Path) -> str:
    """Move the latest-run pointer to ``run``; call only after the run completed and was published."""
    location = run_location(artifact_root, run.run_id) if storage.is_url(artifact_root) else str(run.path)
    pointer = {
        "run_id": run.run_id,
        "run_dir": location,
        "report": storage.join(location, "report", "report.html"),
    }
    return storage.write_json_at(storage.join(artifact_root, LATEST_POINTER), pointer)


def read_latest(artifact_root: str | Path) -> dict | None:
    location = storage.join(artifact_root, LATEST_POINTER)
    return storage.read_json_at(location) if storage.exists_at(location) else None
