"""Unit tests of rnnpipe.trend and rnnpipe.health on run folders whose files the tests write."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rnnpipe.config import ReportConfig
from rnnpipe.health import summarize_health
from rnnpipe.plots import plot_trend
from rnnpipe.trend import TrendError, collect_trend, drift_flags, list_runs, render_runs, run_figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_run(
    root: Path,
    run_id: str,
    status: str | None = "completed",
    val_accuracy: float = 0.85,
    rows: int = 1_000,
    positive_share: float = 0.5,
    oov_rate: float = 0.05,
    train_seconds: float = 100.0,
) -> Path:
    run_dir = root / "runs" / run_id
    (run_dir / "padded").mkdir(parents=True)
    dataset = {
        "rows": {"train": int(rows * 0.8), "validation": rows - int(rows * 0.8), "test": 0},
        "positive_share": {"train": positive_share, "validation": positive_share, "test": None},
        "oov_rate": oov_rate,
        "truncated_share": 0.1,
    }
    (run_dir / "padded" / "dataset.json").write_text(json.dumps(dataset))
    for name, display_name in (("simple_rnn", "SimpleRNN"), ("lstm", "LSTM")):
        (run_dir / "models" / name).mkdir(parents=True)
        metrics = {
            "model": name,
            "display_name": display_name,
            "best_val_accuracy": val_accuracy,
            "test_accuracy": None,
            "train_seconds": train_seconds / 2,
        }
        (run_dir / "models" / name / "metrics.json").write_text(json.dumps(metrics))
    if status is not None:
        (run_dir / "manifest.json").write_text(json.dumps({"status": status}))
    return run_dir


# --- one run's figures ------------------------------------------------------------------


def test_run_figures_reads_files(tmp_path):
    run_dir = write_run(tmp_path, "20260101T020000Z-aaaaaa", rows=1_000, positive_share=0.4)

    figures = run_figures(run_dir)

    assert figures["run_id"] == "20260101T020000Z-aaaaaa"
    assert figures["status"] == "completed"
    assert figures["rows"] == 1_000
    assert figures["positive_share"] == 0.4
    assert figures["train_seconds"] == 100.0
    assert list(figures["models"]) == ["simple_rnn", "lstm"]
    assert figures["models"]["lstm"] == {
        "display_name": "LSTM",
        "val_accuracy": 0.85,
        "test_accuracy": None,
        "train_seconds": 50.0,
    }
    assert figures["champion_decision"] is None


def test_run_figures_rejects_folder_without_dataset(tmp_path):
    (tmp_path / "runs" / "x").mkdir(parents=True)

    with pytest.raises(TrendError, match=r"dataset\.json not found, so run x has no data figures"):
        run_figures(tmp_path / "runs" / "x")


# --- drift flags ------------------------------------------------------------------------


def test_drift_flags_accuracy_drop(tmp_path):
    previous = run_figures(write_run(tmp_path, "a", val_accuracy=0.88))
    current = run_figures(write_run(tmp_path, "b", val_accuracy=0.85))

    flags = drift_flags(previous, current, ReportConfig(drift_threshold_points=2.0))

    assert flags == [
        "SimpleRNN best validation accuracy fell by 3.0 points since run a, from 88.0 % to 85.0 % (threshold 2 points).",
        "LSTM best validation accuracy fell by 3.0 points since run a, from 88.0 % to 85.0 % (threshold 2 points).",
    ]


def test_drift_flags_within_thresholds(tmp_path):
    previous = run_figures(write_run(tmp_path, "a", val_accuracy=0.85, rows=1_000, train_seconds=100))
    current = run_figures(write_run(tmp_path, "b", val_accuracy=0.86, rows=1_050, train_seconds=140))

    assert drift_flags(previous, current, ReportConfig()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"positive_share": 0.6}, "Share of positive reviews rose by 10.0 points since run a, from 50.0 % to 60.0 % (threshold 5 points)."),
        ({"oov_rate": 0.08}, "Out-of-vocabulary rate rose by 3.0 points since run a, from 5.0 % to 8.0 % (threshold 1 point)."),
        ({"rows": 800}, "Number of padded reviews fell by 20 % since run a, from 1,000 to 800 (threshold 10 %)."),
        ({"train_seconds": 250.0}, "Training time rose by 150 % since run a, from 100 s to 250 s (threshold 50 %)."),
    ],
)
def test_drift_flags_data_and_time(tmp_path, changes, expected):
    previous = run_figures(write_run(tmp_path, "a"))
    current = run_figures(write_run(tmp_path, "b", **changes))

    assert drift_flags(previous, current, ReportConfig()) == [expected]


# --- the trend ----------------------------------------------------------------------


def test_collect_trend_keeps_completed_runs_before_this_one(tmp_path):
    write_run(tmp_path, "20260101T020000Z-aaaaaa")
    write_run(tmp_path, "20260102T020000Z-bbbbbb", status="failed")
    write_run(tmp_path, "20260103T020000Z-cccccc", status=None)
    current = write_run(tmp_path, "20260104T020000Z-dddddd", status=None, val_accuracy=0.80)
    write_run(tmp_path, "20260105T020000Z-eeeeee")

    trend = collect_trend(tmp_path, current, ReportConfig())

    assert [run["run_id"] for run in trend["runs"]] == ["20260101T020000Z-aaaaaa", "20260104T020000Z-dddddd"]
    assert len(trend["flags"]) == 2
    assert trend["runs"][-1]["flags"] == trend["flags"]
    assert trend["skipped"] == []


def test_collect_trend_limits_runs_shown(tmp_path):
    for day, accuracy in ((1, 0.70), (2, 0.85), (3, 0.85)):
        write_run(tmp_path, f"2026010{day}T020000Z-aaaaaa", val_accuracy=accuracy)
    current = write_run(tmp_path, "20260104T020000Z-aaaaaa", status=None)

    trend = collect_trend(tmp_path, current, ReportConfig(trend_runs=3))

    assert [run["run_id"][:8] for run in trend["runs"]] == ["20260102", "20260103", "20260104"]
    # The oldest run shown is compared with the run before it, which is not shown.
    assert len(trend["runs"][0]["flags"]) == 2


def test_collect_trend_skips_unreadable_run(tmp_path):
    broken = write_run(tmp_path, "20260101T020000Z-aaaaaa")
    (broken / "padded" / "dataset.json").unlink()
    current = write_run(tmp_path, "20260102T020000Z-bbbbbb", status=None)

    trend = collect_trend(tmp_path, current, ReportConfig())

    assert [run["run_id"] for run in trend["runs"]] == ["20260102T020000Z-bbbbbb"]
    assert trend["skipped"][0]["run_id"] == "20260101T020000Z-aaaaaa"


def test_plot_trend_is_png(tmp_path):
    write_run(tmp_path, "20260101T020000Z-aaaaaa", val_accuracy=0.9)
    current = write_run(tmp_path, "20260102T020000Z-bbbbbb", status=None)

    assert plot_trend(collect_trend(tmp_path, current, ReportConfig())).startswith(PNG_SIGNATURE)


# --- the run list -------------------------------------------------------------------


def test_list_runs_includes_failed_runs(tmp_path):
    write_run(tmp_path, "20260101T020000Z-aaaaaa")
    (tmp_path / "runs" / "20260102T020000Z-bbbbbb").mkdir()
    (tmp_path / "runs" / "20260102T020000Z-bbbbbb" / "manifest.json").write_text(json.dumps({"status": "failed"}))

    listed = list_runs(tmp_path)
    text = render_runs(listed, {"run_id": "20260101T020000Z-aaaaaa", "display_name": "LSTM"})

    assert [run["status"] for run in listed] == ["completed", "failed"]
    lines = text.splitlines()
    assert lines[0].split() == ["run", "status", "SimpleRNN", "val/test", "LSTM", "val/test", "reviews", "decision", "champion"]
    assert lines[1].split() == ["20260101T020000Z-aaaaaa", "completed", "85.0", "%", "85.0", "%", "1,000", "–", "LSTM"]
    assert lines[2].split() == ["20260102T020000Z-bbbbbb", "failed", "–", "–", "–", "–"]
    assert "20260102T020000Z-bbbbbb: " in text


def test_render_runs_without_runs():
    assert render_runs([], None) == "No runs yet."


# --- the data's health --------------------------------------------------------------


def write_validation_result(path: Path, suite: str, results: list[tuple[str, bool, str | None]]) -> None:
    """Write a Great Expectations 1.x result document: (type, success, severity) per expectation."""
    document = {
        "success": all(success for _, success, _ in results),
        "suite_name": suite,
        "statistics": {"evaluated_expectations": len(results), "unsuccessful_expectations": sum(not s for _, s, _ in results)},
        "results": [
            {"success": success, "expectation_config": {"type": kind, **({"severity": severity} if severity else {})}}
            for kind, success, severity in results
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def test_health_reads_rejected_set_aside_and_gate(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pd.DataFrame({"review_id": ["a", "b", "c"], "text": ["x", "y", "z"]}).to_parquet(run_dir / "reviews.parquet")
    pd.DataFrame({"review_id": ["d", "e", "f"], "reason": ["label not 0 or 1", "empty text", "label not 0 or 1"]}).to_parquet(
        run_dir / "rejected.parquet"
    )
    (run_dir / "padded").mkdir()
    pd.DataFrame({"review_id": ["c"], "split": ["train"], "reason": ["empty after cleaning"]}).to_parquet(
        run_dir / "padded" / "set_aside.parquet"
    )
    write_validation_result(
        run_dir / "validation" / "reviews_result.json",
        "reviews",
        [("expect_column_values_to_be_unique", True, None), ("expect_column_mean_to_be_between", False, "warning")],
    )
    write_validation_result(
        run_dir / "validation" / "sequences_result.json", "sequences", [("expect_column_values_to_not_be_null", True, "critical")]
    )
    (run_dir / "validation" / "data_docs" / "reviews").mkdir(parents=True)
    (run_dir / "validation" / "data_docs" / "reviews" / "index.html").write_text("<html></html>")

    health = summarize_health(run_dir, {"rows": {"train": 1, "validation": 1}, "truncated_count": 0, "truncated_share": 0.0, "oov_rate": 0.02})

    assert health["rows_in"] == 3
    assert health["rejected"] == {"rows": 3, "reasons": {"label not 0 or 1": 2, "empty text": 1}}
    assert health["set_aside"] == {"rows": 1, "reasons": {"empty after cleaning": 1}}
    assert health["rows_padded"] == 2
    validation = health["validation"]
    assert validation["success"] is True
    assert (validation["evaluated"], validation["failed"], validation["warned"]) == (3, 0, 1)
    assert validation["warned_expectations"] == ["expect_column_mean_to_be_between"]
    assert [suite["suite"] for suite in validation["suites"]] == ["reviews", "sequences"]
    assert health["data_docs"] == [{"suite": "reviews", "path": "validation/data_docs/reviews/index.html"}]


def test_health_without_optional_files(tmp_path):
    health = summarize_health(tmp_path, {"rows": {"train": 5}})

    assert health["rows_in"] is None
    assert health["rejected"] is None
    assert health["set_aside"] is None
    assert health["validation"] is None
    assert health["data_docs"] == []
