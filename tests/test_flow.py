"""The whole flow under prefect_test_harness on a small slice with a tiny model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from prefect.testing.utilities import prefect_test_harness

import tasks.pad
from flows.compare import compare_recurrent_models
from rnnpipe.config import build_config
from rnnpipe.dataset import load_sequences, pad_reviews, sequences_table
from rnnpipe.validation import DataValidationError

TINY = {
    "data": {"limit": 300},
    "text": {"num_words": 300, "maxlen": 40},
    "model": {"embedding_dim": 4, "units": 4},
    "training": {"epochs": 2, "batch_size": 64},
    "validation": {"min_rows": 100},
}

RUN_FILES = [
    "manifest.json",
    "reviews.parquet",
    "validation/reviews_result.json",
    "validation/data_docs/reviews/index.html",
    "validation/sequences_result.json",
    "validation/data_docs/sequences/index.html",
    "padded/vocabulary.json",
    "padded/train.parquet",
    "padded/validation.parquet",
    "padded/test.parquet",
    "padded/set_aside.parquet",
    "padded/dataset.json",
    "report/report.md",
    "report/report.html",
    "report/learning_curves.png",
    "report/summary.json",
    "report/trend.png",
    "champion_decision.json",
]
MODEL_FILES = ["model.keras", "history.json", "metrics.json", "predictions.parquet"]


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness(server_startup_timeout=300):
        yield


def tiny_config(artifact_root: Path, **section_overrides):
    overrides = {**TINY, "artifact_root": str(artifact_root)}
    for section, values in section_overrides.items():
        overrides[section] = {**overrides.get(section, {}), **values}
    return build_config(overrides)


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_flow_writes_every_file_of_the_run(harness, tmp_path):
    result = compare_recurrent_models(tiny_config(tmp_path))
    run_dir = Path(result["run_dir"])

    for relative in RUN_FILES:
        assert (run_dir / relative).is_file(), relative
    for model in ("simple_rnn", "lstm"):
        for name in MODEL_FILES:
            assert (run_dir / "models" / model / name).is_file(), f"{model}/{name}"

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert set(manifest["stages"]) == {
        "ingest",
        "validate",
        "pad",
        "validate-sequences",
        "train-simple_rnn",
        "train-lstm",
        "champion",
        "report",
    }
    assert json.loads((tmp_path / "latest.json").read_text())["run_id"] == run_dir.name

    report = (run_dir / "report" / "report.md").read_text()
    assert "SimpleRNN" in report
    assert "LSTM" in report

    metrics = json.loads((run_dir / "models" / "lstm" / "metrics.json").read_text())
    assert metrics["params"] == {"embedding": 1_200, "recurrent": 144, "dense": 5, "total": 1_349}
    assert metrics["device"] == "CPU"
    assert metrics["train_rows"] + metrics["validation_rows"] == 300


def test_failed_validation_leaves_earlier_runs_untouched(harness, tmp_path):
    first = compare_recurrent_models(tiny_config(tmp_path, model={"names": ["simple_rnn"]}))
    before = tree_digest(tmp_path)

    with pytest.raises(DataValidationError, match=r"expect_table_row_count_to_be_between"):
        compare_recurrent_models(tiny_config(tmp_path, validation={"min_rows": 100_000}))

    after = tree_digest(tmp_path)
    failed_runs = [path for path in (tmp_path / "runs").iterdir() if path.name != Path(first["run_dir"]).name]
    assert {key: value for key, value in after.items() if key in before} == before
    assert len(failed_runs) == 1
    assert not (failed_runs[0] / "padded").exists()
    assert not (failed_runs[0] / "models").exists()
    assert json.loads((failed_runs[0] / "manifest.json").read_text())["status"] == "failed"
    assert json.loads((tmp_path / "latest.json").read_text())["run_id"] == Path(first["run_dir"]).name


def test_failed_sequence_gate_stops_before_training(harness, tmp_path, monkeypatch):
    first = compare_recurrent_models(tiny_config(tmp_path, model={"names": ["simple_rnn"]}))
    before = tree_digest(tmp_path)

    def pad_with_leaked_review(reviews, text, validation_fraction, seed, output_dir):
        # Stands in for a pad stage that puts a training review into validation.
        dataset = pad_reviews(reviews, text, validation_fraction, seed, output_dir)
        x, y, review_ids = load_sequences(output_dir / "validation.parquet")
        review_ids[0] = load_sequences(output_dir / "train.parquet")[2][0]
        table = sequences_table(pd.Series(review_ids), y, x, text)
        pq.write_table(table, output_dir / "validation.parquet")
        return dataset

    monkeypatch.setattr(tasks.pad, "pad_reviews", pad_with_leaked_review)
    with pytest.raises(DataValidationError, match=r"expect_column_values_to_be_unique on review_id: 2 unexpected values"):
        compare_recurrent_models(tiny_config(tmp_path))

    after = tree_digest(tmp_path)
    failed_runs = [path for path in (tmp_path / "runs").iterdir() if path.name != Path(first["run_dir"]).name]
    assert {key: value for key, value in after.items() if key in before} == before
    assert len(failed_runs) == 1
    assert (failed_runs[0] / "padded" / "train.parquet").is_file()
    assert (failed_runs[0] / "validation" / "sequences_result.json").is_file()
    assert not (failed_runs[0] / "models").exists()
    manifest = json.loads((failed_runs[0] / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "validate-sequences" not in manifest["stages"]
    assert json.loads((tmp_path / "latest.json").read_text())["run_id"] == Path(first["run_dir"]).name


def test_warn_severity_lets_the_run_finish(harness, tmp_path):
    config = tiny_config(tmp_path, model={"names": ["lstm"]}, validation={"min_rows": 100_000, "severity": {"size": "warn"}})

    result = compare_recurrent_models(config)

    manifest = json.loads((Path(result["run_dir"]) / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["stages"]["validate"]["warned"] == 1
    assert manifest["stages"]["validate"]["failed"] == 0
    assert (Path(result["run_dir"]) / "models" / "lstm" / "model.keras").is_file()
