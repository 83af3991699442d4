"""Tests for the validation gate's two suites, run against real Great Expectations.

The first validate call in a process imports Great Expectations, which took
about 3 s on a 2-core machine. Each later call on these small tables took about
0.3 s there, most of it rendering Data Docs. So each passing run is a module
fixture that every test which only reads it shares.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnpipe.config import TextConfig, ValidationConfig
from rnnpipe.dataset import load_sequences, pad_reviews, sequences_table
from rnnpipe.suites import reviews_frame, sequences_frame
from rnnpipe.validation import (
    DataValidationError,
    PaddedFileError,
    render_validation_markdown,
    reviews_expectations,
    validate_reviews,
    validate_sequences,
)

# Great Expectations 1.24.1 imports the deprecated sre_constants and sre_parse modules.
pytestmark = pytest.mark.filterwarnings("ignore:module 'sre_:DeprecationWarning")

CONFIG = ValidationConfig(min_rows=4, min_positive_share=0.3, max_positive_share=0.7)

# The reviews suite in order: expectation, column, group and default severity.
SUITE = [
    ("expect_table_columns_to_match_set", None, "columns", "fail"),
    ("expect_column_values_to_be_of_type", "review_id", "columns", "fail"),
    ("expect_column_values_to_be_of_type", "text", "columns", "fail"),
    ("expect_column_values_to_be_in_type_list", "label", "columns", "fail"),
    ("expect_column_values_to_be_of_type", "split", "columns", "fail"),
    ("expect_column_values_to_be_unique", "review_id", "values", "fail"),
    ("expect_column_values_to_not_be_null", "review_id", "values", "fail"),
    ("expect_column_values_to_not_be_null", "label", "values", "fail"),
    ("expect_column_values_to_be_in_set", "label", "values", "fail"),
    ("expect_column_values_to_be_in_set", "split", "values", "fail"),
    ("expect_table_row_count_to_be_between", None, "size", "fail"),
    ("expect_column_mean_to_be_between", "label", "balance", "fail"),
    ("expect_column_values_to_not_be_null", "text", "empty", "warn"),
    ("expect_column_values_to_be_between", "token_count", "empty", "warn"),
    ("expect_column_values_to_be_null", "exact_duplicate_of", "duplicates", "warn"),
    ("expect_column_values_to_be_null", "normalized_duplicate_of", "duplicates", "warn"),
    ("expect_column_values_to_be_null", "same_text_in_train", "overlap", "fail"),
]

SEQUENCE_SUITE = [
    ("expect_column_values_to_be_between", "sequence_length", "sequences"),
    ("expect_column_values_to_be_between", "min_token_id", "sequences"),
    ("expect_column_values_to_be_between", "max_token_id", "sequences"),
    ("expect_column_values_to_be_between", "non_padding_tokens", "sequences"),
    ("expect_column_values_to_not_be_null", "label", "sequences"),
    ("expect_column_values_to_be_in_set", "label", "sequences"),
    ("expect_column_distinct_values_to_contain_set", "split", "splits"),
    ("expect_column_values_to_be_unique", "review_id", "splits"),
    ("expect_column_mean_to_be_between", "in_validation_split", "splits"),
    ("expect_column_mean_to_be_between", "validation_label", "splits"),
]

SEQUENCE_TEXT = TextConfig(num_words=40, maxlen=6)


def make_reviews() -> pd.DataFrame:
    """Six valid reviews: three positive, four train and two test."""
    return pd.DataFrame(
        {
            "review_id": pd.array(["r1", "r2", "r3", "r4", "r5", "r6"], dtype="str"),
            "text": pd.array(
                [
                    "A moving film.",
                    "Dull and far too long.",
                    "Great cast, great plot.",
                    "I walked out.",
                    "Worth a second viewing.",
                    "The worst sequel yet.",
                ],
                dtype="str",
            ),
            "label": pd.array([1, 0, 1, 0, 1, 0], dtype="int8"),
            "split": pd.array(["train", "train", "train", "train", "test", "test"], dtype="str"),
        }
    )


def make_duplicated_reviews() -> pd.DataFrame:
    """Eight reviews with 4 exact and 5 normalised repeats within their split, none across splits."""
    rows = [
        ("r1", "A moving film.", 1, "train"),
        ("r2", "Dull and far too long.", 0, "train"),
        ("r3", "A moving film.", 1, "train"),
        ("r4", "a MOVING <i>film</i>!", 1, "train"),
        ("r5", "Dull and far too long.", 0, "train"),
        ("r6", "A moving film.", 0, "train"),
        ("t1", "Fresh and fun.", 1, "test"),
        ("t2", "Fresh and fun.", 0, "test"),
    ]
    review_ids, texts, labels, splits = zip(*rows)
    return pd.DataFrame(
        {
            "review_id": pd.array(review_ids, dtype="str"),
            "text": pd.array(texts, dtype="str"),
            "label": pd.array(labels, dtype="int8"),
            "split": pd.array(splits, dtype="str"),
        }
    )


def config_with(**fields) -> ValidationConfig:
    """Return CONFIG with some fields replaced, validated like a user's overrides."""
    return ValidationConfig.model_validate({**CONFIG.model_dump(), **fields})


def item(summary: dict, expectation: str, column: str | None) -> dict:
    """Return the summary item of one expectation."""
    matches = [
        entry
        for entry in summary["expectations"]
        if entry["expectation"] == expectation and entry["column"] == column
    ]
    assert len(matches) == 1, (expectation, column)
    return matches[0]


@pytest.fixture(scope="module")
def passing_run(tmp_path_factory) -> tuple[Path, dict]:
    output_dir = tmp_path_factory.mktemp("validation")
    summary = validate_reviews(make_reviews(), CONFIG, output_dir)
    return output_dir, summary


def test_passing_table_succeeds(passing_run):
    _, summary = passing_run

    assert summary["suite"] == "reviews"
    assert summary["success"] is True
    assert summary["evaluated"] == len(SUITE)
    assert summary["failed"] == 0
    assert summary["warned"] == 0
    assert summary["row_count"] == 6
    assert summary["data_docs"] == "data_docs/reviews/index.html"


def test_passing_table_writes_files(passing_run):
    output_dir, summary = passing_run
    result = json.loads((output_dir / "reviews_result.json").read_text(encoding="utf-8"))

    assert result["suite_name"] == "reviews"
    assert result["success"] is True
    assert result["statistics"]["evaluated_expectations"] == len(SUITE)
    assert (output_dir / summary["data_docs"]).is_file()
    assert sorted(path.name for path in output_dir.iterdir()) == ["data_docs", "reviews_result.json"]
    assert (output_dir / "data_docs").stat().st_mode & 0o777 == 0o755


def test_summary_lists_suite_in_order(passing_run):
    _, summary = passing_run

    listed = [
        (entry["expectation"], entry["column"], entry["group"], entry["severity"])
        for entry in summary["expectations"]
    ]
    assert listed == SUITE
    assert all(entry["success"] for entry in summary["expectations"])
    assert all(entry["outcome"] == "pass" for entry in summary["expectations"])


def test_summary_is_plain_json(passing_run):
    _, summary = passing_run

    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    mean = item(summary, "expect_column_mean_to_be_between", "label")
    assert mean["observed_value"] == 0.5
    assert mean["unexpected_count"] is None
    assert item(summary, "expect_column_values_to_be_in_set", "label")["unexpected_count"] == 0


def test_expectations_follow_config():
    config = ValidationConfig(min_rows=50, min_positive_share=0.2, max_positive_share=0.9)

    expectations = reviews_expectations(config)

    listed = [(entry.expectation_type, getattr(entry, "column", None)) for entry in expectations]
    assert listed == [(expectation, column) for expectation, column, _, _ in SUITE]
    assert expectations[10].min_value == 50
    assert (expectations[11].min_value, expectations[11].max_value) == (0.2, 0.9)


def test_expectations_follow_thresholds_and_severities():
    config = ValidationConfig(
        max_empty_share=0.1,
        max_duplicate_share=0.05,
        max_overlap_share=0.01,
        severity={"duplicates": "fail", "overlap": "warn"},
    )

    expectations = reviews_expectations(config)

    assert [entry.mostly for entry in expectations[12:]] == [0.9, 0.9, 0.95, 0.95, 0.99]
    assert [entry.severity for entry in expectations[12:]] == ["warning", "warning", "critical", "critical", "warning"]
    assert all(entry.severity == "critical" for entry in expectations[:12])


def test_duplicate_ids_fail(tmp_path):
    reviews = make_reviews()
    reviews.loc[3, "review_id"] = "r1"

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_values_to_be_unique on review_id: 2 unexpected values, e\.g\. 'r1'\n",
    ):
        validate_reviews(reviews, CONFIG, tmp_path)


def test_blank_text_warns(tmp_path, caplog):
    reviews = make_reviews()
    reviews.loc[2, "text"] = " \t "

    with caplog.at_level(logging.WARNING, logger="rnnpipe"):
        summary = validate_reviews(reviews, CONFIG, tmp_path)

    empty = item(summary, "expect_column_values_to_be_between", "token_count")
    assert summary["success"] is True
    assert (summary["failed"], summary["warned"]) == (0, 1)
    assert (empty["outcome"], empty["unexpected_count"]) == ("warn", 1)
    assert empty["examples"] == [{"review_id": "r3", "value": 0}]
    assert caplog.messages == [
        "data validation warning in the reviews suite, the run goes on: "
        "expect_column_values_to_be_between on token_count: 1 unexpected value, e.g. r3: 0 "
        "(the pad stage sets these reviews aside; set validation.max_empty_share to allow "
        "more, or validation.severity.empty)"
    ]


def test_null_text_warns(tmp_path):
    reviews = make_reviews()
    reviews.loc[2, "text"] = None

    summary = validate_reviews(reviews, CONFIG, tmp_path)

    not_null = item(summary, "expect_column_values_to_not_be_null", "text")
    assert (not_null["outcome"], not_null["unexpected_count"]) == ("warn", 1)
    assert not_null["examples"] == [{"review_id": "r3", "value": None}]
    assert item(summary, "expect_column_values_to_be_between", "token_count")["unexpected_count"] == 1
    assert summary["warned"] == 2


def test_null_text_fails_with_severity_fail(tmp_path):
    reviews = make_reviews()
    reviews.loc[2, "text"] = None
    config = config_with(severity={"empty": "fail"})

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_values_to_not_be_null on text: 1 unexpected value, e\.g\. r3: null "
        r"\(the pad stage sets these reviews aside",
    ):
        validate_reviews(reviews, config, tmp_path)


def test_label_outside_set_fails(tmp_path):
    reviews = make_reviews()
    reviews.loc[0, "label"] = 3
    reviews.loc[1, "label"] = -1

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_values_to_be_in_set on label: 2 unexpected values, e\.g\. 3, -1\n",
    ):
        validate_reviews(reviews, CONFIG, tmp_path)


def test_unknown_split_fails(tmp_path):
    reviews = make_reviews()
    reviews["split"] = pd.array(["train", "dev", "dev", "holdout", "valid", "test"], dtype="str")

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)

    assert "on split: 4 unexpected values, e.g. 'dev', 'holdout', 'valid'\n" in str(raised.value)
    assert item(raised.value.summary, "expect_column_values_to_be_in_set", "split")["examples"] == [
        "dev",
        "holdout",
        "valid",
    ]


def test_too_few_rows_fail(tmp_path):
    config = ValidationConfig(min_rows=1_000)

    with pytest.raises(
        DataValidationError,
        match=re.escape(
            "expect_table_row_count_to_be_between: observed 6, expected at least 1,000 "
            "(set validation.min_rows to lower it)"
        ),
    ):
        validate_reviews(make_reviews(), config, tmp_path)


def test_unbalanced_labels_fail(tmp_path):
    reviews = make_reviews()
    reviews["label"] = pd.array([1, 1, 1, 1, 1, 0], dtype="int8")

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_mean_to_be_between on label: observed 0\.8333, expected between "
        r"0\.3 and 0\.7 \(.*validation\.max_positive_share",
    ):
        validate_reviews(reviews, CONFIG, tmp_path)


def test_missing_column_fails(tmp_path):
    reviews = make_reviews().drop(columns=["split"])

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)

    message = str(raised.value)
    assert "expect_table_columns_to_match_set: missing column split, expected " in message
    assert "expect_column_values_to_be_in_set on split: could not be evaluated: " in message
    assert 'The column "split" in BatchData does not exist' in message


def test_failure_message_frames_lines(tmp_path):
    reviews = make_reviews()
    reviews.loc[3, "review_id"] = "r1"

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)

    lines = str(raised.value).splitlines()
    assert lines[0] == "Data validation failed for 1 of 17 expectations on 6 reviews:"
    assert lines[1].startswith("  - expect_column_values_to_be_unique on review_id: ")
    assert len(lines) == 3
    assert lines[2].startswith("The run stopped before training")
    assert lines[2].endswith(f"Data Docs: {(tmp_path / 'data_docs' / 'reviews' / 'index.html').resolve()}")


def test_failure_message_lists_warnings_after(tmp_path):
    reviews = make_reviews()
    reviews.loc[3, "review_id"] = "r1"
    reviews.loc[2, "text"] = "<br />"

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)

    lines = str(raised.value).splitlines()
    assert lines[0] == "Data validation failed for 1 of 17 expectations on 6 reviews:"
    assert lines[1].startswith("  - expect_column_values_to_be_unique on review_id: ")
    assert lines[2] == "1 warning, which alone would not stop the run:"
    assert lines[3].startswith("  - expect_column_values_to_be_between on token_count: 1 unexpected value, e.g. r3: 0 ")
    assert len(lines) == 5


def test_error_survives_pickling():
    summary = {"suite": "reviews", "success": False, "failed": 1}

    restored = pickle.loads(pickle.dumps(DataValidationError("Data validation failed", summary)))

    assert str(restored) == "Data validation failed"
    assert restored.summary == summary


def test_failure_still_writes_files(tmp_path):
    reviews = make_reviews()
    reviews.loc[3, "review_id"] = "r1"

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)

    result = json.loads((tmp_path / "reviews_result.json").read_text(encoding="utf-8"))
    assert result["success"] is False
    assert (tmp_path / "data_docs" / "reviews" / "index.html").is_file()
    assert raised.value.summary["success"] is False
    assert raised.value.summary["failed"] == 1


def test_long_examples_are_cut(tmp_path):
    reviews = make_reviews()
    long_id = "x" * 200
    reviews.loc[0, "review_id"] = long_id
    reviews.loc[1, "review_id"] = long_id

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)

    examples = item(raised.value.summary, "expect_column_values_to_be_unique", "review_id")["examples"]
    assert examples == ["x" * 59 + "…"]
    assert long_id not in str(raised.value)


def test_rerun_replaces_data_docs(tmp_path):
    validate_reviews(make_reviews(), CONFIG, tmp_path)
    stale_page = tmp_path / "data_docs" / "reviews" / "stale.html"
    stale_page.write_text("from an earlier run", encoding="utf-8")

    validate_reviews(make_reviews(), CONFIG, tmp_path)

    assert not stale_page.exists()
    assert (tmp_path / "data_docs" / "reviews" / "index.html").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data_docs", "reviews_result.json"]


def test_validation_prints_nothing(tmp_path, capfd):
    validate_reviews(make_reviews(), CONFIG, tmp_path)

    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_import_is_side_effect_free(tmp_path):
    code = "import sys, rnnpipe.validation; print('great_expectations' in sys.modules)"

    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "False"
    assert list(tmp_path.iterdir()) == []


def test_markdown_lists_every_expectation(passing_run):
    _, summary = passing_run

    markdown = render_validation_markdown(summary)

    rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert len(rows) == len(SUITE)
    for row, (expectation, column, group, severity) in zip(rows, SUITE):
        assert row.startswith(f"| `{expectation}` | {column or ''} | {group} ({severity}) | pass |")
    assert "## Data validation passed: reviews suite" in markdown
    assert "17 of 17 expectations passed on 6 reviews" in markdown


def test_markdown_shows_failures(tmp_path):
    reviews = make_reviews()
    reviews["split"] = pd.array(["train", "a|b", "c", "d", "e" * 100, "test"], dtype="str")

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)
    markdown = render_validation_markdown(raised.value.summary)

    split_row = next(
        line for line in markdown.splitlines() if line.startswith("| `expect_column_values_to_be_in_set` | split |")
    )
    assert "| **fail** | 4 | 'a\\|b', 'c', 'd' |" in split_row
    assert "## Data validation failed: reviews suite" in markdown
    assert "| `expect_column_mean_to_be_between` | label | balance (fail) | pass |  |  | 0.5 |" in markdown


# --- the reviews suite: empty, duplicate and overlapping reviews -------------


def test_reviews_frame_names_earlier_copies():
    frame = reviews_frame(make_duplicated_reviews())

    assert frame["normalized_text"].tolist()[:4] == [
        "a moving film",
        "dull and far too long",
        "a moving film",
        "a moving film",
    ]
    assert frame["exact_duplicate_of"].fillna("-").tolist() == ["-", "-", "r1", "-", "r2", "r1", "-", "t1"]
    assert frame["normalized_duplicate_of"].fillna("-").tolist() == ["-", "-", "r1", "r1", "r2", "r1", "-", "t1"]
    assert frame["same_text_in_train"].isna().all()


def test_reviews_frame_leaves_input_unchanged():
    reviews = make_duplicated_reviews()

    reviews_frame(reviews)

    assert list(reviews.columns) == ["review_id", "text", "label", "split"]


def test_duplicates_counted_and_warned(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="rnnpipe"):
        summary = validate_reviews(make_duplicated_reviews(), CONFIG, tmp_path)

    exact = item(summary, "expect_column_values_to_be_null", "exact_duplicate_of")
    normalized = item(summary, "expect_column_values_to_be_null", "normalized_duplicate_of")
    assert summary["success"] is True
    assert (exact["outcome"], exact["unexpected_count"]) == ("warn", 4)
    assert (normalized["outcome"], normalized["unexpected_count"]) == ("warn", 5)
    assert exact["examples"] == [
        {"review_id": "r3", "value": "r1"},
        {"review_id": "r5", "value": "r2"},
        {"review_id": "r6", "value": "r1"},
    ]
    assert normalized["examples"][1] == {"review_id": "r4", "value": "r1"}
    assert len(caplog.records) == 2
    assert all(record.levelno == logging.WARNING for record in caplog.records)
    assert "on exact_duplicate_of: 4 unexpected values, e.g. r3: 'r1', r5: 'r2', r6: 'r1'" in caplog.messages[0]


def test_duplicates_fail_with_severity_fail(tmp_path):
    config = config_with(severity={"duplicates": "fail"})

    with pytest.raises(
        DataValidationError,
        match=r"  - expect_column_values_to_be_null on exact_duplicate_of: 4 unexpected values, "
        r"e\.g\. r3: 'r1', r5: 'r2', r6: 'r1' \(set validation\.max_duplicate_share",
    ):
        validate_reviews(make_duplicated_reviews(), config, tmp_path)


def test_duplicates_under_max_share_pass(tmp_path):
    # 5 normalised repeats in 8 reviews is 62.5 %.
    config = config_with(max_duplicate_share=0.625, severity={"duplicates": "fail"})

    summary = validate_reviews(make_duplicated_reviews(), config, tmp_path)

    normalized = item(summary, "expect_column_values_to_be_null", "normalized_duplicate_of")
    assert (normalized["outcome"], normalized["unexpected_count"]) == ("pass", 5)


def test_duplicates_over_max_share_state_share(tmp_path):
    config = config_with(max_duplicate_share=0.5, severity={"duplicates": "fail"})

    with pytest.raises(
        DataValidationError,
        match=r"on normalized_duplicate_of: 5 unexpected values \(62\.5 %, at most 50 % allowed\)",
    ):
        validate_reviews(make_duplicated_reviews(), config, tmp_path)


def test_same_review_in_both_splits_is_no_duplicate(tmp_path):
    reviews = make_reviews()
    reviews.loc[4, "text"] = reviews.loc[0, "text"]
    config = config_with(severity={"overlap": "warn"})

    summary = validate_reviews(reviews, config, tmp_path)

    assert item(summary, "expect_column_values_to_be_null", "exact_duplicate_of")["unexpected_count"] == 0


def test_train_test_overlap_fails_by_default(tmp_path):
    reviews = make_reviews()
    reviews.loc[5, "text"] = "DULL and far <b>too</b> long!!"

    with pytest.raises(
        DataValidationError,
        match=r"Data validation failed for 1 of 17 expectations on 6 reviews:\n"
        r"  - expect_column_values_to_be_null on same_text_in_train: 1 unexpected value, "
        r"e\.g\. r6: 'r2' \(a test review that is also a training review makes test accuracy "
        r"meaningless",
    ):
        validate_reviews(reviews, CONFIG, tmp_path)


def test_train_test_overlap_warns_with_severity_warn(tmp_path):
    reviews = make_reviews()
    reviews.loc[5, "text"] = "DULL and far <b>too</b> long!!"

    summary = validate_reviews(reviews, config_with(severity={"overlap": "warn"}), tmp_path)

    overlap = item(summary, "expect_column_values_to_be_null", "same_text_in_train")
    assert (overlap["outcome"], overlap["unexpected_count"]) == ("warn", 1)
    assert overlap["examples"] == [{"review_id": "r6", "value": "r2"}]


def test_overlap_share_counts_test_reviews_only(tmp_path):
    reviews = make_reviews()
    reviews.loc[5, "text"] = reviews.loc[1, "text"]

    # One of the two test reviews overlaps: 50 % of the test split, not 1 in 6.
    summary = validate_reviews(reviews, config_with(max_overlap_share=0.5), tmp_path)

    overlap = item(summary, "expect_column_values_to_be_null", "same_text_in_train")
    assert (overlap["outcome"], overlap["unexpected_count"]) == ("pass", 1)
    with pytest.raises(DataValidationError, match=r"on same_text_in_train: 1 unexpected value \(50 %, at most 40 % allowed\)"):
        validate_reviews(reviews, config_with(max_overlap_share=0.4), tmp_path)


def test_empty_after_cleaning_case_warns(cases, tmp_path):
    # keep_default_na=False would keep the first row's blank cell as "", but a
    # plain read_csv makes it null, which the gate must also set aside.
    frame = pd.read_csv(cases / "empty_after_cleaning.csv", dtype={"text": "str"})
    reviews = pd.DataFrame(
        {
            "review_id": pd.array([f"row-{index}" for index in range(len(frame))], dtype="str"),
            "text": frame["text"],
            "label": frame["label"].astype("int8"),
            "split": pd.array(["train"] * len(frame), dtype="str"),
        }
    )

    summary = validate_reviews(reviews, config_with(min_rows=8), tmp_path)

    empty = item(summary, "expect_column_values_to_be_between", "token_count")
    assert summary["success"] is True
    assert (empty["outcome"], empty["unexpected_count"]) == ("warn", 5)
    assert [example["review_id"] for example in empty["examples"]] == ["row-0", "row-1", "row-2"]
    assert item(summary, "expect_column_values_to_not_be_null", "text")["unexpected_count"] == 1


def test_empty_fails_with_severity_fail(tmp_path):
    reviews = make_reviews()
    reviews.loc[1, "text"] = "<br /><BR>"
    reviews.loc[3, "text"] = "?! ... --"

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_values_to_be_between on token_count: 2 unexpected values, e\.g\. r2: 0, r4: 0 ",
    ):
        validate_reviews(reviews, config_with(severity={"empty": "fail"}), tmp_path)


def test_unknown_words_are_not_empty(tmp_path):
    reviews = make_reviews()
    reviews.loc[1, "text"] = "qzxv vxzq"

    summary = validate_reviews(reviews, CONFIG, tmp_path)

    assert item(summary, "expect_column_values_to_be_between", "token_count")["unexpected_count"] == 0


def test_token_id_rows_need_no_text(tmp_path):
    reviews = make_reviews()
    reviews["text"] = pd.array([None, None, None, None, "Worth a second viewing.", "The worst sequel yet."], dtype="str")
    reviews["token_ids"] = [[1, 14, 22], [1, 194, 1153], [1], [1, 14, 22], None, None]

    summary = validate_reviews(reviews, CONFIG, tmp_path)

    not_null = item(summary, "expect_column_values_to_not_be_null", "text")
    empty = item(summary, "expect_column_values_to_be_between", "token_count")
    duplicates = item(summary, "expect_column_values_to_be_null", "normalized_duplicate_of")
    assert (not_null["outcome"], not_null["unexpected_count"]) == ("pass", 0)
    assert empty["examples"] == [{"review_id": "r3", "value": 0}]
    assert duplicates["examples"] == [{"review_id": "r4", "value": "r1"}]


def test_markdown_marks_warnings(tmp_path):
    summary = validate_reviews(make_duplicated_reviews(), CONFIG, tmp_path)

    markdown = render_validation_markdown(summary)

    assert "## Data validation passed with 2 warnings: reviews suite" in markdown
    assert "15 of 17 expectations passed on 8 reviews" in markdown
    assert (
        "| `expect_column_values_to_be_null` | exact_duplicate_of | duplicates (warn) | warn | 4 | "
        "r3: 'r1', r5: 'r2', r6: 'r1' |  |"
    ) in markdown


# --- the sequences suite -----------------------------------------------------


def padded_reviews(cases: Path, output_dir: Path) -> Path:
    """Pad the 120 label-sorted reviews with maxlen=6 and num_words=40 into ``output_dir``."""
    frame = pd.read_csv(cases / "label_sorted.csv", dtype={"text": "str"})
    reviews = pd.DataFrame(
        {
            "review_id": pd.array([f"row-{index:03d}" for index in range(len(frame))], dtype="str"),
            "text": frame["text"],
            "label": frame["label"].astype("int8"),
            "split": pd.array(["train"] * 100 + ["test"] * 20, dtype="str"),
        }
    )
    pad_reviews(reviews, SEQUENCE_TEXT, 0.2, 7, output_dir)
    return output_dir


def rewrite_split(padded_dir: Path, split: str, change) -> None:
    """Load one padded split, let ``change(x, y, review_ids)`` edit it in place and write it back."""
    x, y, review_ids = load_sequences(padded_dir / f"{split}.parquet")
    change(x, y, review_ids)
    table = sequences_table(pd.Series(review_ids), y, x, SEQUENCE_TEXT)
    pq.write_table(table, padded_dir / f"{split}.parquet")


@pytest.fixture(scope="module")
def padded_dir(tmp_path_factory) -> Path:
    return padded_reviews(Path(__file__).parent / "cases", tmp_path_factory.mktemp("padded"))


@pytest.fixture
def bad_padded_dir(cases, tmp_path) -> Path:
    return padded_reviews(cases, tmp_path / "padded")


@pytest.fixture(scope="module")
def passing_sequences(padded_dir, tmp_path_factory) -> tuple[Path, dict]:
    output_dir = tmp_path_factory.mktemp("sequence-validation")
    summary = validate_sequences(padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, output_dir)
    return output_dir, summary


def test_padded_reviews_pass(passing_sequences):
    _, summary = passing_sequences

    listed = [(entry["expectation"], entry["column"], entry["group"]) for entry in summary["expectations"]]
    assert summary["suite"] == "sequences"
    assert summary["success"] is True
    assert (summary["failed"], summary["warned"]) == (0, 0)
    assert summary["row_count"] == 120
    assert listed == SEQUENCE_SUITE
    assert all(entry["outcome"] == "pass" for entry in summary["expectations"])


def test_padded_reviews_write_files(passing_sequences):
    output_dir, summary = passing_sequences

    result = json.loads((output_dir / "sequences_result.json").read_text(encoding="utf-8"))
    assert result["suite_name"] == "sequences"
    assert summary["data_docs"] == "data_docs/sequences/index.html"
    assert (output_dir / summary["data_docs"]).is_file()


def test_sequence_suite_observes_split_shares(passing_sequences):
    _, summary = passing_sequences

    # 100 training reviews: 60 positive and 40 negative, of which 12 and 8 are held out.
    assert item(summary, "expect_column_mean_to_be_between", "in_validation_split")["observed_value"] == 0.2
    assert item(summary, "expect_column_mean_to_be_between", "validation_label")["observed_value"] == 0.6


def test_sequences_frame_statistics(padded_dir):
    frame = sequences_frame(padded_dir)

    assert frame["split"].value_counts().to_dict() == {"train": 80, "validation": 20, "test": 20}
    assert (frame["sequence_length"] == 6).all()
    assert frame["min_token_id"].min() == 0
    assert frame["max_token_id"].max() < 40
    assert frame["non_padding_tokens"].min() >= 1


def test_id_outside_vocabulary_fails(bad_padded_dir, tmp_path):
    def set_id(x, y, review_ids):
        x[0, -1] = 40

    rewrite_split(bad_padded_dir, "train", set_id)
    first_id = load_sequences(bad_padded_dir / "train.parquet")[2][0]

    with pytest.raises(
        DataValidationError,
        match=r"Data validation failed for 1 of 10 expectations on 120 sequences:\n"
        rf"  - expect_column_values_to_be_between on max_token_id: 1 unexpected value, e\.g\. {first_id}: 40 ",
    ):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_negative_id_fails(bad_padded_dir, tmp_path):
    def set_id(x, y, review_ids):
        x[1, 0] = -3

    rewrite_split(bad_padded_dir, "test", set_id)

    with pytest.raises(DataValidationError, match=r"on min_token_id: 1 unexpected value, e\.g\. row-\d+: -3 "):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_all_padding_row_fails(bad_padded_dir, tmp_path):
    def clear_row(x, y, review_ids):
        x[2, :] = 0

    rewrite_split(bad_padded_dir, "validation", clear_row)
    third_id = load_sequences(bad_padded_dir / "validation.parquet")[2][2]

    with pytest.raises(
        DataValidationError,
        match=rf"expect_column_values_to_be_between on non_padding_tokens: 1 unexpected value, e\.g\. {third_id}: 0 ",
    ):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_review_in_two_splits_fails(bad_padded_dir, tmp_path):
    training_id = load_sequences(bad_padded_dir / "train.parquet")[2][5]

    def reuse_id(x, y, review_ids):
        review_ids[0] = training_id

    rewrite_split(bad_padded_dir, "validation", reuse_id)

    with pytest.raises(
        DataValidationError,
        match=rf"expect_column_values_to_be_unique on review_id: 2 unexpected values, e\.g\. '{training_id}' "
        r"\(a review is in more than one split",
    ):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_label_outside_set_fails(bad_padded_dir, tmp_path):
    def set_label(x, y, review_ids):
        y[3] = 2

    rewrite_split(bad_padded_dir, "test", set_label)

    with pytest.raises(
        DataValidationError, match=r"expect_column_values_to_be_in_set on label: 1 unexpected value, e\.g\. 2\n"
    ):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_unstratified_validation_split_fails(bad_padded_dir, tmp_path):
    def make_positive(x, y, review_ids):
        y[:] = 1

    rewrite_split(bad_padded_dir, "validation", make_positive)

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_mean_to_be_between on validation_label: observed 1, expected between "
        r"0\.55 and 0\.65 \(set validation\.split_share_tolerance",
    ):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_validation_share_off_fraction_fails(padded_dir, tmp_path):
    with pytest.raises(
        DataValidationError,
        match=r"expect_column_mean_to_be_between on in_validation_split: observed 0\.2, expected between "
        r"0\.25 and 0\.35 ",
    ):
        validate_sequences(padded_dir, SEQUENCE_TEXT, 0.3, CONFIG, tmp_path)


def test_empty_validation_split_fails(bad_padded_dir, tmp_path):
    table = pq.read_table(bad_padded_dir / "validation.parquet")
    pq.write_table(table.slice(0, 0), bad_padded_dir / "validation.parquet")

    with pytest.raises(DataValidationError) as raised:
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)

    message = str(raised.value)
    assert (
        "  - expect_column_distinct_values_to_contain_set on split: missing value validation, expected "
        "train, validation (the training or validation split has no rows)\n"
    ) in message
    assert "on validation_label: observed no value, expected between 0.55 and 0.65" in message


def test_wrong_length_fails(bad_padded_dir, tmp_path):
    # A hand-written file with a variable-length list column, as no pad stage writes it.
    table = pa.table(
        {
            "review_id": pa.array(["short", "long"]),
            "label": pa.array([0, 1], type=pa.int8()),
            "tokens": pa.array([[1, 5, 6], [1, 5, 6, 7, 8, 9, 10]], type=pa.list_(pa.int32())),
        }
    )
    pq.write_table(table, bad_padded_dir / "test.parquet")

    with pytest.raises(DataValidationError) as raised:
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)

    assert (
        "  - expect_column_values_to_be_between on sequence_length: 2 unexpected values, e.g. short: 3, long: 7 "
        in str(raised.value)
    )


def test_sequence_failure_warns_with_severity_warn(bad_padded_dir, tmp_path, caplog):
    def set_id(x, y, review_ids):
        x[0, -1] = 40

    rewrite_split(bad_padded_dir, "train", set_id)

    with caplog.at_level(logging.WARNING, logger="rnnpipe"):
        summary = validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, config_with(severity={"sequences": "warn"}), tmp_path)

    assert (summary["failed"], summary["warned"]) == (0, 1)
    assert item(summary, "expect_column_values_to_be_between", "max_token_id")["outcome"] == "warn"
    assert "data validation warning in the sequences suite, the run goes on: " in caplog.messages[0]


def test_missing_split_file_raises(bad_padded_dir, tmp_path):
    (bad_padded_dir / "test.parquet").unlink()

    with pytest.raises(PaddedFileError, match=r"The padded split .*test\.parquet was not found\. .*rerun it"):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_split_file_without_tokens_raises(bad_padded_dir, tmp_path):
    pq.write_table(pa.table({"review_id": ["a"], "label": [1]}), bad_padded_dir / "test.parquet")

    with pytest.raises(PaddedFileError, match=r"test\.parquet has no column tokens\. Expected the columns review_id, label, tokens"):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_tokens_that_are_not_lists_raise(bad_padded_dir, tmp_path):
    pq.write_table(pa.table({"review_id": ["a"], "label": [1], "tokens": ["1 2 3"]}), bad_padded_dir / "test.parquet")

    with pytest.raises(PaddedFileError, match=r"The column tokens of .*test\.parquet has the type string, expected a list"):
        validate_sequences(bad_padded_dir, SEQUENCE_TEXT, 0.2, CONFIG, tmp_path)


def test_sequences_frame_handles_null_lists_and_ids(bad_padded_dir):
    table = pa.table(
        {
            "review_id": pa.array(["a", "b", "c", "d"]),
            "label": pa.array([0, 1, 0, 1], type=pa.int8()),
            "tokens": pa.array([[0, 4, 9], None, [], [3, None, 5]], type=pa.list_(pa.int32())),
        }
    )
    pq.write_table(table, bad_padded_dir / "test.parquet")

    frame = sequences_frame(bad_padded_dir)
    test_rows = frame[frame["split"] == "test"]

    assert test_rows["sequence_length"].tolist() == [3, 0, 0, 3]
    assert test_rows["min_token_id"].tolist() == [0, 0, 0, -1]
    assert test_rows["max_token_id"].tolist() == [9, 0, 0, 5]
    assert test_rows["non_padding_tokens"].tolist() == [2, 0, 0, 3]
    assert np.isnan(test_rows["in_validation_split"]).all()
