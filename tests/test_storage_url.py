"""Artifact roots behind an fsspec URL, tested on fsspec's in-memory and local file systems."""

import json
import secrets
from pathlib import Path

import fsspec
import pytest

from rnnpipe import runs, storage
from rnnpipe.config import PipelineConfig


@pytest.fixture
def memory_root(monkeypatch, tmp_path):
    monkeypatch.setenv(storage.MIRROR_DIR_VARIABLE, str(tmp_path / "mirror"))
    root = f"memory://rnnpipe-test-{secrets.token_hex(4)}"
    yield root
    fs = fsspec.filesystem("memory")
    path = root.removeprefix("memory://")
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("s3://bucket/rnnpipe", True),
        ("file:///mnt/shared/rnnpipe", True),
        ("memory://rnnpipe", True),
        ("data", False),
        ("/srv/rnnpipe/data", False),
        ("relative/s3:/not-a-url", False),
        (Path("data"), False),
    ],
)
def test_is_url_tells_urls_from_paths(location, expected):
    assert storage.is_url(location) is expected


def test_join_keeps_the_url_scheme():
    assert storage.join("s3://bucket/rnnpipe/", "runs", "x") == "s3://bucket/rnnpipe/runs/x"
    assert storage.join("data", "runs", "x") == str(Path("data", "runs", "x"))


def test_mirror_path_has_a_folder_per_protocol(monkeypatch, tmp_path):
    monkeypatch.setenv(storage.MIRROR_DIR_VARIABLE, str(tmp_path))

    assert storage.mirror_path("s3://bucket/rnnpipe/runs/x") == tmp_path / "s3" / "bucket" / "rnnpipe" / "runs" / "x"
    assert storage.mirror_path("file:///mnt/shared") == tmp_path / "file" / "mnt" / "shared"


def test_upload_and_download_copy_a_folder_tree(memory_root, tmp_path):
    source = tmp_path / "source"
    (source / "models" / "lstm").mkdir(parents=True)
    (source / "manifest.json").write_text("{}")
    (source / "models" / "lstm" / "metrics.json").write_text('{"model": "lstm"}')
    (source / ".metrics.tmp-1234.json").write_text("partial")

    uploaded = storage.upload(source, f"{memory_root}/run", last=["manifest.json"])
    downloaded = storage.download(f"{memory_root}/run", tmp_path / "copy")

    assert uploaded == 2
    assert downloaded == 2
    assert (tmp_path / "copy" / "models" / "lstm" / "metrics.json").read_text() == '{"model": "lstm"}'
    assert not (tmp_path / "copy" / ".metrics.tmp-1234.json").exists()


def test_download_of_a_missing_folder_copies_nothing(memory_root, tmp_path):
    assert storage.download(f"{memory_root}/nothing", tmp_path / "copy") == 0
    assert not (tmp_path / "copy").exists()


@pytest.mark.parametrize("kind", ["url", "path"])
def test_json_round_trip(kind, memory_root, tmp_path):
    location = f"{memory_root}/latest.json" if kind == "url" else str(tmp_path / "latest.json")

    storage.write_json_at(location, {"run_id": "a"})
    storage.write_json_at(location, {"run_id": "b"})

    assert storage.exists_at(location)
    assert storage.read_json_at(location) == {"run_id": "b"}


def test_url_write_leaves_no_temporary(memory_root):
    storage.write_json_at(f"{memory_root}/latest.json", {"run_id": "a"})

    names = [path.rsplit("/", 1)[1] for path in fsspec.filesystem("memory").find(memory_root.removeprefix("memory://"))]
    assert names == ["latest.json"]


def test_url_run_published_from_mirror(memory_root, tmp_path):
    run = runs.create_run(memory_root, run_id="20260101T000000Z-abcdef")
    (run.padded_dir).mkdir()
    (run.padded_dir / "dataset.json").write_text('{"rows": 3}')
    runs.write_manifest(run, PipelineConfig(artifact_root=memory_root), "completed", {})

    assert run.path == tmp_path / "mirror" / "memory" / memory_root.removeprefix("memory://") / "runs" / run.run_id
    assert not storage.exists_at(runs.run_location(memory_root, run.run_id))

    assert runs.publish_run(run, memory_root) == 2
    runs.point_latest_to(run, memory_root)

    location = runs.run_location(memory_root, run.run_id)
    assert storage.read_json_at(f"{location}/padded/dataset.json") == {"rows": 3}
    assert runs.read_latest(memory_root) == {
        "run_id": run.run_id,
        "run_dir": location,
        "report": f"{location}/report/report.html",
    }


def test_fetch_run_downloads_one_part_into_the_mirror(memory_root, tmp_path):
    location = runs.run_location(memory_root, "20260101T000000Z-abcdef")
    storage.write_json_at(f"{location}/padded/dataset.json", {"rows": 3})
    storage.write_json_at(f"{location}/models/lstm/metrics.json", {"model": "lstm"})

    run = runs.fetch_run(location, "padded")

    assert run.run_id == "20260101T000000Z-abcdef"
    assert json.loads((run.padded_dir / "dataset.json").read_text()) == {"rows": 3}
    assert not run.model_dir("lstm").exists()


def test_local_root_is_used_in_place(tmp_path):
    run = runs.create_run(tmp_path, run_id="20260101T000000Z-abcdef")

    assert run.path == tmp_path / "runs" / "20260101T000000Z-abcdef"
    assert runs.publish_run(run, tmp_path) == 0
    assert runs.fetch_run(str(run.path)).path == run.path
    assert runs.read_latest(tmp_path) is None
