"""Tests for the reviews validation gate, run against real Great Expectations.

The first validate_reviews call in a process imports Great Expectations, which
took about 3 s on a 2-core machine. Each later call on these six-row tables took
about 0.3 s there, most of it rendering Data Docs. So the passing run is a module
fixture that every test which only reads it shares.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rnnpipe.config import ValidationConfig
from rnnpipe.validation import (
    DataValidationError,
    render_validation_markdown,
    reviews_expectations,
    validate_reviews,
)

# Great Expectations 1.24.1 imports the deprecated sre_constants and sre_parse modules.
pytestmark = pytest.mark.filterwarnings("ignore:module 'sre_:DeprecationWarning")

CONFIG = ValidationConfig(min_rows=4, min_positive_share=0.3, max_positive_share=0.7)

SUITE = [
    ("expect_table_columns_to_match_set", None),
    ("expect_column_values_to_be_unique", "review_id"),
    ("expect_column_values_to_not_be_null", "review_id"),
    ("expect_column_values_to_not_be_null", "text"),
    ("expect_column_values_to_match_regex", "text"),
    ("expect_column_values_to_not_be_null", "label"),
    ("expect_column_values_to_be_in_set", "label"),
    ("expect_column_values_to_be_in_set", "split"),
    ("expect_table_row_count_to_be_between", None),
    ("expect_column_mean_to_be_between", "label"),
]


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
    assert summary["row_count"] == 6
    assert summary["data_docs"] == "data_docs/index.html"


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

    listed = [(item["expectation"], item["column"]) for item in summary["expectations"]]
    assert listed == SUITE
    assert all(item["success"] for item in summary["expectations"])


def test_summary_is_plain_json(passing_run):
    _, summary = passing_run

    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    mean = summary["expectations"][-1]
    assert mean["observed_value"] == 0.5
    assert mean["unexpected_count"] is None
    assert summary["expectations"][6]["unexpected_count"] == 0


def test_expectations_follow_config():
    config = ValidationConfig(min_rows=50, min_positive_share=0.2, max_positive_share=0.9)

    expectations = reviews_expectations(config)

    assert [(item.expectation_type, getattr(item, "column", None)) for item in expectations] == SUITE
    assert expectations[-2].min_value == 50
    assert (expectations[-1].min_value, expectations[-1].max_value) == (0.2, 0.9)


def test_duplicate_ids_fail(tmp_path):
    reviews = make_reviews()
    reviews.loc[3, "review_id"] = "r1"

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_values_to_be_unique on review_id: 2 unexpected values, e\.g\. 'r1'\n",
    ):
        validate_reviews(reviews, CONFIG, tmp_path)


def test_blank_text_fails(tmp_path):
    reviews = make_reviews()
    reviews.loc[2, "text"] = " \t "

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_values_to_match_regex on text: 1 unexpected value, e\.g\. ' \\t '\n",
    ):
        validate_reviews(reviews, CONFIG, tmp_path)


def test_null_text_fails(tmp_path):
    reviews = make_reviews()
    reviews.loc[2, "text"] = None

    with pytest.raises(
        DataValidationError,
        match=r"expect_column_values_to_not_be_null on text: 1 unexpected value, e\.g\. null\n",
    ):
        validate_reviews(reviews, CONFIG, tmp_path)


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
    assert raised.value.summary["expectations"][7]["examples"] == ["dev", "holdout", "valid"]


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
    assert lines[0] == "Data validation failed for 1 of 10 expectations on 6 reviews:"
    assert lines[1].startswith("  - expect_column_values_to_be_unique on review_id: ")
    assert len(lines) == 3
    assert lines[2].startswith("The run stopped before training")
    assert lines[2].endswith(f"Data Docs: {(tmp_path / 'data_docs' / 'index.html').resolve()}")


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
    assert (tmp_path / "data_docs" / "index.html").is_file()
    assert raised.value.summary["success"] is False
    assert raised.value.summary["failed"] == 1


def test_long_examples_are_cut(tmp_path):
    reviews = make_reviews()
    long_id = "x" * 200
    reviews.loc[0, "review_id"] = long_id
    reviews.loc[1, "review_id"] = long_id

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)

    examples = raised.value.summary["expectations"][1]["examples"]
    assert examples == ["x" * 59 + "…"]
    assert long_id not in str(raised.value)


def test_rerun_replaces_data_docs(tmp_path):
    validate_reviews(make_reviews(), CONFIG, tmp_path)
    stale_page = tmp_path / "data_docs" / "stale.html"
    stale_page.write_text("from an earlier run", encoding="utf-8")

    validate_reviews(make_reviews(), CONFIG, tmp_path)

    assert not stale_page.exists()
    assert (tmp_path / "data_docs" / "index.html").is_file()
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
    for row, (expectation, column) in zip(rows, SUITE):
        assert row.startswith(f"| `{expectation}` | {column or ''} | pass |")
    assert "10 of 10 expectations passed on 6 reviews" in markdown


def test_markdown_shows_failures(tmp_path):
    reviews = make_reviews()
    reviews["split"] = pd.array(["train", "a|b", "c", "d", "e" * 100, "test"], dtype="str")

    with pytest.raises(DataValidationError) as raised:
        validate_reviews(reviews, CONFIG, tmp_path)
    markdown = render_validation_markdown(raised.value.summary)

    split_row = next(line for line in markdown.splitlines() if "| split |" in line)
    assert "| **fail** | 4 | 'a\\|b', 'c', 'd' |" in split_row
    assert "## Data validation failed: reviews suite" in markdown
    assert "| `expect_column_mean_to_be_between` | label | pass |  |  | 0.5 |" in markdown
