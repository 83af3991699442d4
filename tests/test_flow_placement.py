"""The flow with an fsspec URL artifact root, and gpu-pool placement without a deployment."""

from __future__ import annotations

import secrets

import fsspec
import pytest
from prefect.testing.utilities import prefect_test_harness

from flows.compare import compare_recurrent_models
from flows.placement import TrainRunError
from rnnpipe import runs, storage
from rnnpipe.config import build_config

TINY = {
    "data": {"limit": 300},
    "text": {"num_words": 300, "maxlen": 40},
    "model": {"embedding_dim": 4, "units": 4},
    "training": {"epochs": 2, "batch_size": 64},
    "validation": {"min_rows": 100},
}


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness(server_startup_timeout=300):
        yield


@pytest.fixture
def memory_root(monkeypatch, tmp_path):
    monkeypatch.setenv(storage.MIRROR_DIR_VARIABLE, str(tmp_path / "mirror"))
    root = f"memory://rnnpipe-flow-{secrets.token_hex(4)}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root.removeprefix("memory://")):
        fs.rm(root.removeprefix("memory://"), recursive=True)


def test_flow_writes_the_run_to_a_url_root(harness, memory_root):
    config = build_config({**TINY, "artifact_root": memory_root})

    result = compare_recurrent_models(config)

    latest = runs.read_latest(memory_root)
    location = runs.run_location(memory_root, latest["run_id"])
    assert latest["run_dir"] == location
    assert result["run_dir"] == str(runs.local_root(memory_root) / "runs" / latest["run_id"])
    assert storage.read_json_at(f"{location}/manifest.json")["status"] == "completed"
    for name in ("simple_rnn", "lstm"):
        metrics = storage.read_json_at(f"{location}/models/{name}/metrics.json")
        assert metrics["placement"] == "local"
        assert metrics["device"] == "CPU"
    assert storage.exists_at(f"{location}/report/report.html")
    assert storage.exists_at(f"{location}/padded/train.parquet")


def test_gpu_pool_without_deployment(harness, tmp_path):
    config = build_config({**TINY, "artifact_root": str(tmp_path), "training": {"placement": "gpu-pool"}})

    with pytest.raises(TrainRunError, match=r"Deployment train-model/train-model was not found on the Prefect server.*'make deploy'"):
        compare_recurrent_models(config)

    (run_dir,) = (tmp_path / "runs").iterdir()
    assert storage.read_json(run_dir / "manifest.json")["status"] == "failed"
    assert not (run_dir / "models").exists()
