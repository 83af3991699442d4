"""Tests for the source readers and the label rule, on the hard input files and tiny inputs."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnpipe import sources
from rnnpipe.labels import (
    LABEL_OUT_OF_RANGE,
    MISSING_LABEL,
    UNMAPPED_LABEL_WORD,
    LabelError,
    normalize_label,
    normalize_label_map,
)
from rnnpipe.npz import RestrictedUnpickler, read_imdb_npz
from rnnpipe.review_files import read_review_file
from rnnpipe.sources import MISSING_SPLIT, TEXT_NOT_STRING, UNKNOWN_SPLIT, SourceError, read_aclimdb

ACLIMDB_IDS = [
    "train/pos/0_9",
    "train/pos/1_8",
    "train/pos/2_10",
    "train/neg/3_1",
    "train/neg/4_2",
    "train/neg/5_3",
    "train/neg/6_4",
    "test/pos/8_7",
    "test/neg/9_2",
]

REVIEWS = [("a moving film", "1", "train"), ("a dull film", "0", "train"), ("a fine plot", "1", "test")]


# --- the label rule -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("1", 1),
        ("0", 0),
        ("1.0", 1),
        ("0.0", 0),
        (" 1 ", 1),
        ("\t0\n", 0),
        (1, 1),
        (0, 0),
        (1.0, 1),
        (0.0, 0),
        (True, 1),
        (False, 0),
        (np.int64(1), 1),
        (np.float32(0.0), 0),
        (np.bool_(True), 1),
    ],
)
def test_label_spellings_of_0_and_1_are_accepted(value, label):
    assert normalize_label(value) == label


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", MISSING_LABEL),
        ("   ", MISSING_LABEL),
        (None, MISSING_LABEL),
        (float("nan"), MISSING_LABEL),
        (pd.NA, MISSING_LABEL),
        ("NaN", MISSING_LABEL),
        ("null", MISSING_LABEL),
        ("3", LABEL_OUT_OF_RANGE),
        ("-1", LABEL_OUT_OF_RANGE),
        ("0.5", LABEL_OUT_OF_RANGE),
        (2, LABEL_OUT_OF_RANGE),
        (-1.0, LABEL_OUT_OF_RANGE),
        ("pos", UNMAPPED_LABEL_WORD),
        ("yes", UNMAPPED_LABEL_WORD),
        ("positive", UNMAPPED_LABEL_WORD),
        ([1], UNMAPPED_LABEL_WORD),
    ],
)
def test_other_labels_are_rejected_with_reason(value, reason):
    with pytest.raises(LabelError, match=f"^{reason}$"):
        normalize_label(value)


def test_label_map_matches_without_case_or_whitespace():
    label_map = normalize_label_map({"Positive": 1, " neg ": 0})

    assert normalize_label(" POSITIVE ", label_map) == 1
    assert normalize_label("Neg", label_map) == 0
    assert normalize_label("1", label_map) == 1
    with pytest.raises(LabelError, match=UNMAPPED_LABEL_WORD):
        normalize_label("pos", label_map)


# --- labels_mixed.csv ---------------------------------------------------------


def test_labels_mixed_accepts_0_and_1_spellings(cases):
    source = read_review_file(cases / "labels_mixed.csv")
    reviews = source.reviews

    assert reviews["review_id"].tolist() == ["row-1", "row-2", "row-3", "row-4", "row-5", "row-12"]
    assert reviews["label"].tolist() == [1, 0, 1, 0, 1, 0]
    assert str(reviews["label"].dtype) == "int8"
    assert reviews["text"].tolist()[4] == "a lively film"
    assert source.rows_read == 12


def test_labels_mixed_rejects_rows_with_reason(cases):
    rejected = read_review_file(cases / "labels_mixed.csv").rejected

    assert rejected[["source_row", "field", "value", "reason"]].values.tolist() == [
        ["row 6", "label", "", MISSING_LABEL],
        ["row 7", "label", "pos", UNMAPPED_LABEL_WORD],
        ["row 8", "label", "3", LABEL_OUT_OF_RANGE],
        ["row 9", "label", "-1", LABEL_OUT_OF_RANGE],
        ["row 10", "label", "yes", UNMAPPED_LABEL_WORD],
        ["row 11", "label", "NaN", MISSING_LABEL],
    ]
    assert rejected["text"].tolist()[1] == "a bold film"


def test_labels_mixed_accepts_mapped_words(cases):
    source = read_review_file(cases / "labels_mixed.csv", label_map={"POS": 1, "Yes": 1})

    assert source.reviews["review_id"].tolist() == [
        "row-1", "row-2", "row-3", "row-4", "row-5", "row-7", "row-10", "row-12",
    ]
    assert source.reviews["label"].tolist() == [1, 0, 1, 0, 1, 1, 1, 0]
    assert source.rejected["source_row"].tolist() == ["row 6", "row 8", "row 9", "row 11"]


# --- the aclImdb folder -------------------------------------------------------


def test_aclimdb_reads_only_labelled_txt_files(cases):
    reviews = read_aclimdb(cases / "aclImdb_small").reviews

    assert reviews["review_id"].tolist() == ACLIMDB_IDS
    assert reviews["label"].tolist() == [1, 1, 1, 0, 0, 0, 0, 1, 0]
    assert reviews["split"].tolist() == ["train"] * 7 + ["test"] * 2
    assert reviews["rating"].tolist() == [9, 8, 10, 1, 2, 3, 4, 7, 2]
    assert str(reviews["rating"].dtype) == "Int8"
    assert reviews["token_ids"].isna().all()


def test_aclimdb_decodes_utf8_text(cases):
    reviews = read_aclimdb(cases / "aclImdb_small").reviews.set_index("review_id")

    assert reviews.loc["train/pos/0_9", "text"] == (
        "A \u201cwonderful\u201d caf\u00e9 scene \u2013 na\u00efve but charming.<br /><br />Loved it."
    )
    assert reviews.loc["train/neg/3_1", "text"] == ""
    assert reviews.loc["train/neg/4_2", "text"] == "<br /><br />"


def test_aclimdb_replaces_and_counts_invalid_bytes(cases, caplog):
    with caplog.at_level(logging.WARNING, logger="rnnpipe.sources"):
        source = read_aclimdb(cases / "aclImdb_small")

    text = source.reviews.set_index("review_id").loc["train/pos/1_8", "text"]
    assert text == "Great acting \ufffd\ufffd and a \ufffd fine score."
    assert source.facts == {"replacement_characters": 3, "files_with_invalid_utf8": ["train/pos/1_8.txt"]}
    assert "3 replacement characters" in caplog.text
    assert "train/pos/1_8.txt" in caplog.text


def test_aclimdb_reads_utf8_under_c_locale(cases):
    script = (
        "import json, sys; from pathlib import Path; from rnnpipe.sources import read_aclimdb; "
        "r = read_aclimdb(Path(sys.argv[1])).reviews.set_index('review_id'); "
        "print(json.dumps(r.loc['train/pos/0_9', 'text']))"
    )
    environment = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"}

    completed = subprocess.run(
        [sys.executable, "-c", script, str(cases / "aclImdb_small")],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )

    assert json.loads(completed.stdout) == (
        "A \u201cwonderful\u201d caf\u00e9 scene \u2013 na\u00efve but charming.<br /><br />Loved it."
    )


def test_aclimdb_result_ignores_listing_order(cases, monkeypatch):
    expected = read_aclimdb(cases / "aclImdb_small").reviews
    real_listdir = os.listdir
    monkeypatch.setattr(sources.os, "listdir", lambda path: sorted(real_listdir(path), reverse=True))

    reviews = read_aclimdb(cases / "aclImdb_small").reviews

    pd.testing.assert_frame_equal(reviews, expected)


def test_aclimdb_file_name_without_rating_has_null_rating(tmp_path):
    (tmp_path / "train" / "pos").mkdir(parents=True)
    (tmp_path / "train" / "pos" / "review.txt").write_text("A fine film.", encoding="utf-8")

    reviews = read_aclimdb(tmp_path).reviews

    assert reviews["review_id"].tolist() == ["train/pos/review"]
    assert reviews["rating"].isna().tolist() == [True]


def test_aclimdb_rating_out_of_range_is_null(tmp_path):
    (tmp_path / "train" / "pos").mkdir(parents=True)
    (tmp_path / "train" / "pos" / "0_300.txt").write_text("A fine film.", encoding="utf-8")
    (tmp_path / "train" / "pos" / "1_9.txt").write_text("A good film.", encoding="utf-8")

    reviews = read_aclimdb(tmp_path).reviews.set_index("review_id")

    assert reviews["rating"].isna().to_dict() == {"train/pos/0_300": True, "train/pos/1_9": False}
    assert int(reviews.loc["train/pos/1_9", "rating"]) == 9


def test_aclimdb_missing_folder_is_rejected(tmp_path):
    with pytest.raises(SourceError, match=r"The aclImdb folder .*missing was not found\. Set data\.path"):
        read_aclimdb(tmp_path / "missing")


def test_aclimdb_file_path_is_rejected(cases):
    with pytest.raises(SourceError, match=r"labels_mixed\.csv is a file, but data\.source='aclimdb' reads a folder"):
        read_aclimdb(cases / "labels_mixed.csv")


def test_aclimdb_folder_without_label_folders_is_rejected(tmp_path):
    (tmp_path / "aclImdb" / "train" / "pos").mkdir(parents=True)
    (tmp_path / "README").write_text("archive notes", encoding="utf-8")

    with pytest.raises(
        SourceError,
        match=r"is not an aclImdb folder: none of train/pos, train/neg, test/pos and test/neg exists in it\. "
        r"Found: README, aclImdb\. It contains aclImdb/: set data\.path to .*aclImdb\.",
    ):
        read_aclimdb(tmp_path)


def test_aclimdb_without_txt_files_is_rejected(tmp_path):
    (tmp_path / "train" / "pos").mkdir(parents=True)
    (tmp_path / "train" / "pos" / "notes.md").write_text("not a review", encoding="utf-8")

    with pytest.raises(SourceError, match=r"has no \*\.txt review in train/pos\."):
        read_aclimdb(tmp_path)


# --- CSV, TSV, Parquet and JSON Lines files -----------------------------------


def write_reviews(path, rows, columns=("text", "label", "split")):
    """Write ``rows`` of strings in the format that the extension of ``path`` names."""
    frame = pd.DataFrame(rows, columns=list(columns))
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(record) + "\n" for record in frame.to_dict("records")), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl", ".ndjson"])
def test_each_file_format_gives_same_reviews(tmp_path, suffix):
    path = write_reviews(tmp_path / f"reviews{suffix}", REVIEWS, columns=("review", "sentiment", "part"))

    source = read_review_file(path, text_column="review", label_column="sentiment", split_column="part")

    assert source.reviews["review_id"].tolist() == ["row-1", "row-2", "row-3"]
    assert source.reviews["text"].tolist() == ["a moving film", "a dull film", "a fine plot"]
    assert source.reviews["label"].tolist() == [1, 0, 1]
    assert source.reviews["split"].tolist() == ["train", "train", "test"]
    assert source.rejected.empty


def test_file_without_split_column_gives_train_rows(tmp_path):
    path = write_reviews(tmp_path / "reviews.csv", REVIEWS)

    source = read_review_file(path)

    assert source.reviews["split"].tolist() == ["train", "train", "train"]


def test_split_values_are_checked(tmp_path):
    rows = [("a", "1", " Train "), ("b", "0", "TEST"), ("c", "1", "dev"), ("d", "0", "")]
    path = write_reviews(tmp_path / "reviews.csv", rows)

    source = read_review_file(path, split_column="split")

    assert source.reviews["split"].tolist() == ["train", "test"]
    assert source.rejected[["source_row", "field", "value", "reason"]].values.tolist() == [
        ["row 3", "split", "dev", UNKNOWN_SPLIT],
        ["row 4", "split", "", MISSING_SPLIT],
    ]


def test_parquet_labels_keep_their_type(tmp_path):
    path = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c", "d"], "label": [1.0, 0.0, None, 2.0]}), path)

    source = read_review_file(path)

    assert source.reviews["label"].tolist() == [1, 0]
    assert source.rejected[["source_row", "value", "reason"]].values.tolist() == [
        ["row 3", pd.NA, MISSING_LABEL],
        ["row 4", "2.0", LABEL_OUT_OF_RANGE],
    ]


def test_json_lines_non_string_text_rejected(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"text": "fine", "label": 1}\n\n{"text": 42, "label": 0}\n{"label": true}\n', encoding="utf-8")

    source = read_review_file(path)

    assert source.reviews["text"].tolist() == ["fine", pd.NA]
    assert source.reviews["label"].tolist() == [1, 1]
    assert source.rejected[["source_row", "field", "value", "reason"]].values.tolist() == [
        ["row 2", "text", "42", TEXT_NOT_STRING],
    ]


def test_csv_with_byte_order_mark_and_quoted_newline(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(b'\xef\xbb\xbftext,label\r\n"two\nlines",1\r\nplain,yes\r\n')

    source = read_review_file(path)

    assert source.reviews["text"].tolist() == ["two\nlines"]
    assert source.rejected["source_row"].tolist() == ["row 2"]


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(SourceError, match=r"The review file .*reviews\.csv was not found\. Set data\.path"):
        read_review_file(tmp_path / "reviews.csv")


def test_folder_as_file_is_rejected(cases):
    with pytest.raises(SourceError, match=r"aclImdb_small is a folder, but data\.source='file' reads one file"):
        read_review_file(cases / "aclImdb_small")


def test_unknown_extension_is_rejected(tmp_path):
    path = tmp_path / "reviews.xlsx"
    path.write_bytes(b"PK\x03\x04")

    with pytest.raises(SourceError, match=r"has the extension '\.xlsx', which rnnpipe cannot read\. Supported extensions: \.csv"):
        read_review_file(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_empty_file_is_rejected(tmp_path, suffix):
    path = tmp_path / f"reviews{suffix}"
    path.touch()

    with pytest.raises(SourceError, match=r"The review file .* is empty \(0 bytes\)"):
        read_review_file(path)


def test_header_only_csv_is_rejected(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n", encoding="utf-8")

    with pytest.raises(SourceError, match=r"reviews\.csv has a header but no data rows"):
        read_review_file(path)


def test_csv_without_configured_columns_is_rejected(tmp_path):
    path = write_reviews(tmp_path / "reviews.csv", REVIEWS, columns=("review", "sentiment", "part"))

    with pytest.raises(
        SourceError,
        match=r"reviews\.csv has no column 'text' and 'label'\. Found columns: 'review', 'sentiment', 'part'\. "
        r"Set data\.text_column and data\.label_column to the name of the column in this file, "
        r"for example --set data\.text_column=review\.",
    ):
        read_review_file(path)


def test_missing_split_column_names_setting(tmp_path):
    path = write_reviews(tmp_path / "reviews.parquet", REVIEWS)

    with pytest.raises(SourceError, match=r"has no column 'fold'\. Found columns: 'text', 'label', 'split'\. Set data\.split_column"):
        read_review_file(path, split_column="fold")


def test_tsv_named_csv_gets_separator_hint(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text\tlabel\na fine film\t1\n", encoding="utf-8")

    with pytest.raises(SourceError, match=r"Found columns: 'text\\tlabel'\..*the file may be TSV \(\.tsv\) rather than CSV"):
        read_review_file(path)


def test_csv_named_parquet_is_rejected(tmp_path):
    path = tmp_path / "reviews.parquet"
    path.write_text("text,label\na fine film,1\n", encoding="utf-8")

    with pytest.raises(
        SourceError,
        match=r"reviews\.parquet is not a Parquet file: it does not start with the Parquet signature PAR1 "
        r"but with b'text'\. Its first line is 'text,label'\. If it is a CSV file, rename it to \.csv\.",
    ):
        read_review_file(path)


def test_parquet_named_csv_is_rejected(tmp_path):
    path = tmp_path / "reviews.csv"
    write_reviews(tmp_path / "reviews.parquet", REVIEWS).rename(path)

    with pytest.raises(SourceError, match=r"reviews\.csv is a Parquet file \(rename it to \.parquet\), not a CSV file"):
        read_review_file(path)


def test_csv_encoding_error_names_offset_and_line(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes("text,label\nfine,1\nun caf\u00e9 \u00e9trange,0\n".encode("cp1252"))

    with pytest.raises(
        SourceError,
        match=r"reviews\.csv is not valid UTF-8: the byte 0xe9 at byte offset 24 \(line 3\) cannot be decoded\. "
        r"Save the file as UTF-8",
    ):
        read_review_file(path)


def test_utf16_csv_is_rejected(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes("text,label\nfine,1\n".encode("utf-16"))

    with pytest.raises(SourceError, match=r"byte 0xff at byte offset 0 \(line 1\) cannot be decoded\. It starts with a UTF-16 byte-order mark\."):
        read_review_file(path)


def test_json_lines_split_of_other_type_rejected(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"text": "a", "label": 1, "split": ["train"]}\n{"text": "b", "label": 0, "split": null}\n', encoding="utf-8")

    rejected = read_review_file(path, split_column="split").rejected

    assert rejected[["source_row", "value", "reason"]].values.tolist() == [
        ["row 1", "['train']", UNKNOWN_SPLIT],
        ["row 2", pd.NA, MISSING_SPLIT],
    ]


def test_unparsable_csv_is_rejected(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"an unclosed quote,1\n', encoding="utf-8")

    with pytest.raises(SourceError, match=r"reviews\.csv could not be parsed as CSV: .*Check that fields with commas"):
        read_review_file(path)


def test_invalid_json_line_is_rejected(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"text": "fine", "label": 1}\ntext,label\n', encoding="utf-8")

    with pytest.raises(SourceError, match=r"reviews\.jsonl line 2 is not valid JSON \(Expecting value at column 1\)"):
        read_review_file(path)


def test_json_line_that_is_not_object_is_rejected(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text('["fine", 1]\n', encoding="utf-8")

    with pytest.raises(SourceError, match=r"reviews\.jsonl line 1 is a JSON list, not an object"):
        read_review_file(path)


def test_parquet_text_column_of_numbers_is_rejected(tmp_path):
    path = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"text": [1, 2], "label": [1, 0]}), path)

    with pytest.raises(SourceError, match=r"The column 'text' of .*reviews\.parquet has the type int64, not string\. Set data\.text_column"):
        read_review_file(path)


# --- the Keras imdb.npz -------------------------------------------------------


def write_npz(path, **arrays):
    """Write arrays to an .npz; lists of lists become object arrays, as in Keras' imdb.npz."""
    converted = {}
    for name, value in arrays.items():
        if isinstance(value, list):
            array = np.empty(len(value), dtype=object)
            array[:] = value
            converted[name] = array
        else:
            converted[name] = value
    np.savez(path, **converted)
    return path


def test_tiny_imdb_matches_keras_load_data_defaults(cases):
    source = read_imdb_npz(cases / "tiny_imdb.npz", num_words=10_000)
    reviews = source.reviews

    assert reviews["review_id"].tolist() == ["train-00000", "train-00001", "train-00002", "test-00000", "test-00001"]
    assert [list(ids) for ids in reviews["token_ids"]] == [
        [1, 14, 22, 16, 9999, 2],
        [1, 194, 1153],
        [1],
        [1, 4, 5, 2],
        [1, 7, 8, 9],
    ]
    assert reviews["label"].tolist() == [1, 0, 1, 0, 1]
    assert reviews["split"].tolist() == ["train", "train", "train", "test", "test"]
    assert reviews["text"].isna().all()
    assert source.text_available is False


def test_npz_without_num_words_keeps_every_id(cases):
    reviews = read_imdb_npz(cases / "tiny_imdb.npz").reviews

    assert list(reviews["token_ids"][0]) == [1, 14, 22, 16, 9999, 10004]
    assert list(reviews["token_ids"][3]) == [1, 4, 5, 12000]


def test_npz_is_read_without_numpy_load(cases, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("numpy.load must not be called")

    monkeypatch.setattr(np, "load", refuse)

    assert len(read_imdb_npz(cases / "tiny_imdb.npz", num_words=100).reviews) == 5


def test_npz_keeps_long_rows(tmp_path):
    path = write_npz(tmp_path / "imdb.npz", x_train=[list(range(1, 1001))], y_train=np.array([1]), x_test=[[5]], y_test=np.array([0]))

    reviews = read_imdb_npz(path, num_words=10_000).reviews

    assert len(reviews["token_ids"][0]) == 1001


def test_npz_labels_go_through_label_rule(tmp_path):
    path = write_npz(tmp_path / "imdb.npz", x_train=[[5], [6]], y_train=np.array([1, 2]), x_test=[[7]], y_test=np.array([0]))

    source = read_imdb_npz(path, num_words=100)

    assert source.reviews["review_id"].tolist() == ["train-00000", "test-00000"]
    assert source.rejected[["source_row", "value", "reason"]].values.tolist() == [
        ["train index 1", "2", LABEL_OUT_OF_RANGE]
    ]


def test_restricted_unpickler_rejects_other_globals():
    payload = pickle.dumps(os.getcwd)

    with pytest.raises(pickle.UnpicklingError, match=r"posix\.getcwd is not allowed"):
        RestrictedUnpickler(io.BytesIO(payload)).load()


@pytest.mark.parametrize("protocol", [2, 3])
def test_restricted_unpickler_reads_numpy_1_pickles(protocol):
    array = np.empty(2, dtype=object)
    array[:] = [[1, 2], [3]]
    # Protocols 2 and 3 name globals as text lines, so the module name can be swapped.
    payload = pickle.dumps(array, protocol=protocol).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in payload

    loaded = RestrictedUnpickler(io.BytesIO(payload)).load()

    assert loaded.tolist() == [[1, 2], [3]]


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_npz_with_code_in_pickle_is_rejected(tmp_path):
    path = write_npz(tmp_path / "imdb.npz", x_train=[_RunsCode()], y_train=np.array([1]), x_test=[[4]], y_test=np.array([0]))

    with pytest.raises(SourceError, match=r"x_train\.npy could not be read safely: posix\.getcwd is not allowed"):
        read_imdb_npz(path)


def test_npz_with_wrong_arrays_is_rejected(tmp_path):
    path = tmp_path / "imdb.npz"
    np.savez(path, np.arange(3), y_train=np.array([1, 0, 1]))

    with pytest.raises(
        SourceError,
        match=r"does not have the arrays of a Keras imdb\.npz: missing x_train, x_test, y_test\. "
        r"Found: arr_0, y_train\. Expected: x_train, y_train, x_test, y_test\.",
    ):
        read_imdb_npz(path)


def test_npz_with_mismatched_lengths_is_rejected(tmp_path):
    path = write_npz(tmp_path / "imdb.npz", x_train=[[4], [5]], y_train=np.array([1]), x_test=[[4]], y_test=np.array([0]))

    with pytest.raises(SourceError, match=r"has 2 rows in x_train but 1 labels in y_train"):
        read_imdb_npz(path)


def test_npz_with_text_rows_is_rejected(tmp_path):
    path = write_npz(tmp_path / "imdb.npz", x_train=["a fine film"], y_train=np.array([1]), x_test=[[4]], y_test=np.array([0]))

    with pytest.raises(SourceError, match=r"x_train\[0\] is str a fine film, not a list of integer word ranks"):
        read_imdb_npz(path)


def test_npz_with_2d_array_is_rejected(tmp_path):
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=np.ones((2, 3), dtype=np.int32), y_train=np.array([1, 0]), x_test=np.ones((1, 3)), y_test=np.array([0]))

    with pytest.raises(SourceError, match=r"x_train has shape \(2, 3\), but a Keras imdb\.npz contains one row per review"):
        read_imdb_npz(path)


def test_csv_named_npz_is_rejected(cases, tmp_path):
    path = tmp_path / "imdb.npz"
    path.write_bytes((cases / "labels_mixed.csv").read_bytes())

    with pytest.raises(SourceError, match=r"imdb\.npz is not an \.npz archive \(a ZIP file of \.npy arrays\)"):
        read_imdb_npz(path)


def test_missing_npz_is_rejected(tmp_path):
    with pytest.raises(SourceError, match=r"The npz file .*imdb\.npz was not found\. Set data\.path to a Keras imdb\.npz"):
        read_imdb_npz(tmp_path / "imdb.npz")


def test_npz_member_that_is_not_npy_is_rejected(tmp_path):
    path = tmp_path / "imdb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            archive.writestr(f"{name}.npy", b"not an array")

    with pytest.raises(SourceError, match=r"x_train\.npy is not a readable \.npy array"):
        read_imdb_npz(path)
