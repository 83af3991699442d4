"""Unit tests of rnnpipe.report on a run folder whose JSON inputs the tests write."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rnnpipe.config import PipelineConfig, build_config
from rnnpipe.report import (
    ReportError,
    build_report,
    comparison_rows,
    plot_learning_curves,
    render_html,
    render_markdown,
    summarize_run,
    truncation_sentence,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN_ID = "20250101T020000Z"

DATASET = {
    "num_words": 10000,
    "maxlen": 500,
    "padding": "pre",
    "truncating": "pre",
    "vocabulary_size": 10000,
    "rows": {"train": 20000, "validation": 5000, "test": 0},
    "positive_share": {"train": 0.5, "validation": 0.5, "test": None},
    "empty_after_cleaning": 3,
    "truncated_count": 2300,
    "truncated_share": 0.092,
    "oov_rate": 0.051,
    "seed": 1337,
}

SIMPLE_RNN_METRICS = {
    "model": "simple_rnn",
    "display_name": "SimpleRNN",
    "params": {"embedding": 320000, "recurrent": 2080, "dense": 33, "total": 322113},
    "epochs": 10,
    "best_epoch": 6,
    "best_val_accuracy": 0.8572,
    "best_val_loss": 0.34,
    "final_val_accuracy": 0.841,
    "train_seconds": 179.4,
    "mean_epoch_seconds": 17.94,
    "device": "CPU",
    "worker": "worker-1",
    "tensorflow_version": "2.21.0",
    "keras_version": "3.15.1",
    "test_accuracy": None,
    "validation_rows": 5000,
    "train_rows": 20000,
}

LSTM_METRICS = {
    "model": "lstm",
    "display_name": "LSTM",
    "params": {"embedding": 320000, "recurrent": 8320, "dense": 33, "total": 328353},
    "epochs": 10,
    "best_epoch": 7,
    "best_val_accuracy": 0.8912,
    "best_val_loss": 0.28,
    "final_val_accuracy": 0.874,
    "train_seconds": 301.2,
    "mean_epoch_seconds": 30.1,
    "device": "GPU:0",
    "worker": "worker-2",
    "tensorflow_version": "2.21.0",
    "keras_version": "3.15.1",
    "test_accuracy": None,
    "validation_rows": 5000,
    "train_rows": 20000,
}


def make_history(val_accuracy: list[float]) -> dict:
    epochs = len(val_accuracy)
    return {
        "epoch": list(range(1, epochs + 1)),
        "loss": [0.7 - 0.04 * i for i in range(epochs)],
        "accuracy": [0.6 + 0.03 * i for i in range(epochs)],
        "val_loss": [0.6 - 0.02 * i for i in range(epochs)],
        "val_accuracy": val_accuracy,
        "epoch_seconds": [17.94] * epochs,
    }


HISTORIES = {
    "simple_rnn": make_history([0.70, 0.76, 0.80, 0.83, 0.85, 0.8572, 0.81, 0.84, 0.83, 0.841]),
    "lstm": make_history([0.78, 0.84, 0.86, 0.87, 0.88, 0.885, 0.8912, 0.88, 0.87, 0.874]),
}


# Validation predictions on 200 reviews: SimpleRNN is right on the first 160, LSTM on
# the first 150 and the last 30, so LSTM leads by 10 points with 10 and 30 discordant rows.
PREDICTION_ROWS = 200
CORRECT_ROWS = {
    "simple_rnn": set(range(160)),
    "lstm": set(range(150)) | set(range(170, 200)),
}


def make_predictions(name: str) -> pd.DataFrame:
    labels = [index % 2 for index in range(PREDICTION_ROWS)]
    predictions = [
        label if index in CORRECT_ROWS[name] else 1 - label for index, label in enumerate(labels)
    ]
    return pd.DataFrame(
        {
            "review_id": [f"review-{index:03d}" for index in range(PREDICTION_ROWS)],
            "split": "validation",
            "label": pd.array(labels, dtype="int8"),
            "probability": [0.9 if prediction else 0.1 for prediction in predictions],
            "prediction": pd.array(predictions, dtype="int8"),
        }
    )


def write_run(run_dir: Path, dataset: dict, metrics: list[dict]) -> Path:
    (run_dir / "padded").mkdir(parents=True)
    (run_dir / "padded" / "dataset.json").write_text(json.dumps(dataset))
    for model_metrics in metrics:
        name = model_metrics["model"]
        model_dir = run_dir / "models" / name
        model_dir.mkdir(parents=True)
        (model_dir / "metrics.json").write_text(json.dumps(model_metrics))
        (model_dir / "history.json").write_text(json.dumps(HISTORIES[name]))
        make_predictions(name).to_parquet(model_dir / "predictions.parquet")
    return run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / RUN_ID, DATASET, [SIMPLE_RNN_METRICS, LSTM_METRICS])


@pytest.fixture
def summary() -> dict:
    return summarize_run(
        RUN_ID, DATASET, [SIMPLE_RNN_METRICS, LSTM_METRICS], HISTORIES, PipelineConfig()
    )


# --- build_report -----------------------------------------------------------------


def test_build_report_writes_five_files(run_dir):
    summary = build_report(run_dir, PipelineConfig(), ["simple_rnn", "lstm"])

    report_dir = run_dir / "report"
    assert sorted(path.name for path in report_dir.iterdir()) == [
        "learning_curves.png",
        "report.html",
        "report.md",
        "summary.json",
        "trend.png",
    ]
    assert json.loads((report_dir / "summary.json").read_text()) == summary
    assert (report_dir / "report.md").read_text() == render_markdown(summary)
    assert (report_dir / "learning_curves.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (report_dir / "trend.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (report_dir / "report.html").read_text().count("data:image/png;base64,") == 2


def test_build_report_states_paired_comparison(run_dir):
    summary = build_report(run_dir, PipelineConfig(), ["simple_rnn", "lstm"])

    evaluation = summary["evaluation"]
    assert evaluation["split"] == "validation"
    assert [model["accuracy"] for model in evaluation["models"]] == [0.8, 0.9]
    (comparison,) = evaluation["comparisons"]
    assert comparison["leader"]["model"] == "lstm"
    assert comparison["difference_points"] == 10.0
    assert comparison["mcnemar"]["only_leader_correct"] == 30
    assert comparison["mcnemar"]["only_trailer_correct"] == 10
    assert summary["comparison_sentence"] == comparison["sentence"]
    assert summary["comparison_sentence"].startswith(
        "LSTM is ahead of SimpleRNN by 10.0 points on the 200 validation reviews, 95 % CI "
    )
    assert "McNemar p = 0.002." in summary["comparison_sentence"]


def test_build_report_missing_predictions(run_dir):
    (run_dir / "models" / "lstm" / "predictions.parquet").unlink()

    with pytest.raises(ReportError, match=r"lstm/predictions\.parquet not found\. Run the train stage"):
        build_report(run_dir, PipelineConfig(), ["simple_rnn", "lstm"])


def test_build_report_without_champion_or_health_files(run_dir):
    summary = build_report(run_dir, PipelineConfig(), ["simple_rnn", "lstm"])

    assert summary["champion"] is None
    assert summary["health"]["rows_in"] is None
    assert summary["health"]["rejected"] is None
    assert summary["health"]["validation"] is None
    assert [run["run_id"] for run in summary["trend"]["runs"]] == [RUN_ID]
    assert "## Champion" not in render_markdown(summary)


def test_build_report_uses_folder_name_as_run_id(run_dir):
    summary = build_report(run_dir, PipelineConfig(), ["simple_rnn", "lstm"])

    assert summary["run_id"] == RUN_ID


def test_build_report_keeps_model_order(run_dir):
    summary = build_report(run_dir, PipelineConfig(), ["lstm", "simple_rnn"])

    assert [model["model"] for model in summary["models"]] == ["lstm", "simple_rnn"]


def test_build_report_missing_metrics(tmp_path):
    run_dir = write_run(tmp_path / RUN_ID, DATASET, [LSTM_METRICS])

    with pytest.raises(ReportError, match=r"simple_rnn/metrics\.json not found\. Run the train stage"):
        build_report(run_dir, PipelineConfig(), ["simple_rnn", "lstm"])
    assert not (run_dir / "report").exists()


def test_build_report_missing_dataset(tmp_path):
    run_dir = tmp_path / RUN_ID
    run_dir.mkdir()

    with pytest.raises(ReportError, match=r"dataset\.json not found\. Run the pad stage"):
        build_report(run_dir, PipelineConfig(), ["lstm"])


def test_build_report_rejects_empty_models(run_dir):
    with pytest.raises(ReportError, match=r"models must name at least one trained model"):
        build_report(run_dir, PipelineConfig(), [])


def test_build_report_rejects_metrics_of_other_model(tmp_path):
    run_dir = write_run(tmp_path / RUN_ID, DATASET, [LSTM_METRICS])
    (run_dir / "models" / "lstm" / "metrics.json").write_text(json.dumps(SIMPLE_RNN_METRICS))

    with pytest.raises(ReportError, match=r"describes model 'simple_rnn', not 'lstm'"):
        build_report(run_dir, PipelineConfig(), ["lstm"])


# --- summarize_run ----------------------------------------------------------------


def test_summary_winner_and_lead(summary):
    assert summary["winner"] == {
        "model": "lstm",
        "display_name": "LSTM",
        "runner_up": "simple_rnn",
        "runner_up_display_name": "SimpleRNN",
        "lead_points": 3.4,
    }
    assert summary["comparison_sentence"] == (
        "LSTM is ahead of SimpleRNN by 3.4 points of best validation accuracy."
    )


def test_summary_single_model_has_no_winner():
    summary = summarize_run(RUN_ID, DATASET, [LSTM_METRICS], HISTORIES, PipelineConfig())

    assert summary["winner"] is None
    assert summary["comparison_sentence"] is None
    assert "ahead of" not in render_markdown(summary)
    assert "ahead of" not in render_html(summary, PNG_SIGNATURE)


def test_summary_tie_has_no_winner():
    tied = dict(SIMPLE_RNN_METRICS, best_val_accuracy=0.8912)

    summary = summarize_run(RUN_ID, DATASET, [tied, LSTM_METRICS], HISTORIES, PipelineConfig())

    assert summary["winner"] is None
    assert summary["comparison_sentence"] == (
        "SimpleRNN and LSTM tie at 89.1 % best validation accuracy."
    )


def test_summary_model_fields(summary):
    simple_rnn, lstm = summary["models"]

    assert simple_rnn["display_name"] == "SimpleRNN"
    assert simple_rnn["params"] == {
        "embedding": 320000,
        "recurrent": 2080,
        "dense": 33,
        "total": 322113,
    }
    assert simple_rnn["best_val_accuracy"] == 0.8572
    assert simple_rnn["best_epoch"] == 6
    assert simple_rnn["final_val_accuracy"] == 0.841
    assert simple_rnn["train_seconds"] == 179.4
    assert simple_rnn["mean_epoch_seconds"] == 17.94
    assert simple_rnn["device"] == "CPU"
    assert lstm["device"] == "GPU:0"
    assert simple_rnn["val_accuracy_by_epoch"] == HISTORIES["simple_rnn"]["val_accuracy"]


def test_summary_book_difference_in_points(summary):
    simple_rnn, lstm = summary["models"]

    assert simple_rnn["book_val_accuracy"] == 0.85
    assert simple_rnn["difference_from_book_points"] == 0.72
    assert lstm["book_val_accuracy"] == 0.89
    assert lstm["difference_from_book_points"] == 0.12


def test_summary_dataset_facts(summary):
    dataset = summary["dataset"]

    assert dataset["rows"] == {"train": 20000, "validation": 5000, "test": 0}
    assert dataset["truncated_count"] == 2300
    assert dataset["truncated_share"] == 0.092
    assert dataset["oov_rate"] == 0.051
    assert dataset["empty_after_cleaning"] == 3


def test_summary_settings_match_book(summary):
    assert summary["settings"] == {
        "limit": None,
        "num_words": 10000,
        "maxlen": 500,
        "padding": "pre",
        "truncating": "pre",
        "embedding_dim": 32,
        "units": 32,
        "optimizer": "rmsprop",
        "batch_size": 128,
        "epochs": 10,
        "validation_fraction": 0.2,
    }
    assert summary["settings_differing_from_book"] == []
    assert "Every setting matches the book." in render_markdown(summary)


def test_summary_settings_differing_for_maxlen_100():
    config = build_config({"text": {"maxlen": 100}})
    dataset = dict(DATASET, maxlen=100)

    summary = summarize_run(RUN_ID, dataset, [LSTM_METRICS], HISTORIES, config)

    assert summary["settings"]["maxlen"] == 100
    assert summary["settings_differing_from_book"] == [
        {"setting": "maxlen", "value": 100, "book_value": 500}
    ]
    assert "Settings that differ from the book: maxlen (100 instead of 500)." in render_markdown(
        summary
    )


def test_summary_settings_differing_for_quick_preset():
    config = build_config(preset="quick")
    dataset = dict(DATASET, num_words=5000, maxlen=200)

    summary = summarize_run(RUN_ID, dataset, [LSTM_METRICS], HISTORIES, config)

    assert [item["setting"] for item in summary["settings_differing_from_book"]] == [
        "limit",
        "num_words",
        "maxlen",
        "batch_size",
        "epochs",
    ]
    assert "limit (5,000 instead of all reviews)" in render_markdown(summary)


def test_summary_is_json_serialisable(summary):
    assert json.loads(json.dumps(summary)) == summary


def test_summary_rejects_mismatched_dataset():
    config = build_config({"text": {"maxlen": 100}})

    with pytest.raises(
        ReportError,
        match=r"maxlen=500 in dataset\.json but maxlen=100 in the configuration",
    ):
        summarize_run(RUN_ID, DATASET, [LSTM_METRICS], HISTORIES, config)


def test_summary_rejects_incomplete_metrics():
    metrics = {key: value for key, value in LSTM_METRICS.items() if key != "best_epoch"}

    with pytest.raises(ReportError, match=r"metrics\.json of model 'lstm' is missing best_epoch\."):
        summarize_run(RUN_ID, DATASET, [metrics], HISTORIES, PipelineConfig())


def test_summary_rejects_incomplete_params():
    metrics = copy.deepcopy(LSTM_METRICS)
    del metrics["params"]["recurrent"]

    with pytest.raises(ReportError, match=r"metrics\.json of model 'lstm' is missing params\.recurrent\."):
        summarize_run(RUN_ID, DATASET, [metrics], HISTORIES, PipelineConfig())


def test_summary_rejects_incomplete_dataset():
    dataset = {key: value for key, value in DATASET.items() if key != "oov_rate"}

    with pytest.raises(ReportError, match=r"dataset\.json is missing oov_rate\."):
        summarize_run(RUN_ID, dataset, [LSTM_METRICS], HISTORIES, PipelineConfig())


def test_summary_rejects_missing_history():
    with pytest.raises(ReportError, match=r"No history for model 'lstm'\. Received histories for: simple_rnn\."):
        summarize_run(
            RUN_ID,
            DATASET,
            [LSTM_METRICS],
            {"simple_rnn": HISTORIES["simple_rnn"]},
            PipelineConfig(),
        )


def test_summary_rejects_history_of_uneven_length():
    history = dict(HISTORIES["lstm"], val_accuracy=[0.8, 0.9])

    with pytest.raises(ReportError, match=r"has 2 values of val_accuracy for 10 epochs"):
        summarize_run(RUN_ID, DATASET, [LSTM_METRICS], {"lstm": history}, PipelineConfig())


# --- truncation wording -------------------------------------------------------------


def test_truncation_pre_keeps_last_tokens(summary):
    sentence = truncation_sentence(500, "pre")

    assert "the last 500 tokens of each review are kept" in sentence
    assert sentence in render_markdown(summary)


def test_truncation_post_keeps_first_tokens():
    config = build_config({"text": {"maxlen": 200, "truncating": "post"}})
    dataset = dict(DATASET, maxlen=200, truncating="post")

    summary = summarize_run(RUN_ID, dataset, [LSTM_METRICS], HISTORIES, config)

    markdown = render_markdown(summary)
    assert "the first 200 tokens are kept" in markdown
    assert "the last 200 tokens" not in markdown


def test_truncation_rejects_unknown_end():
    with pytest.raises(ReportError, match=r"truncating must be 'pre' or 'post'\. Received: truncating='middle'"):
        truncation_sentence(500, "middle")


# --- Markdown ---------------------------------------------------------------------


def test_markdown_parameter_rows(summary):
    lines = render_markdown(summary).splitlines()

    assert "| SimpleRNN | 320,000 | 2,080 | 33 | 322,113 | 179 s | 17.9 s | CPU |" in lines
    assert "| LSTM | 320,000 | 8,320 | 33 | 328,353 | 301 s | 30.1 s | GPU:0 |" in lines


def test_markdown_accuracy_rows_with_book_values(summary):
    lines = render_markdown(summary).splitlines()

    assert "| SimpleRNN | 85.7 % | 6 of 10 | 85 % | +0.7 points | 84.1 % |" in lines
    assert "| LSTM | 89.1 % | 7 of 10 | 89 % | +0.1 points | 87.4 % |" in lines


def test_markdown_dataset_facts(summary):
    markdown = render_markdown(summary)

    assert "| train | 20,000 | 50.0 % |" in markdown
    assert "| test | 0 | – |" in markdown
    assert "2,300 reviews (9.2 %) were longer than 500 tokens and were truncated." in markdown
    assert "5.1 % of tokens are out of vocabulary" in markdown
    assert "3 reviews were empty after cleaning and were set aside." in markdown


def test_markdown_omits_test_accuracy_without_test_split(summary):
    assert "test accuracy" not in render_markdown(summary)


def test_markdown_shows_test_accuracy():
    lstm = dict(LSTM_METRICS, test_accuracy=0.8801)

    summary = summarize_run(
        RUN_ID, DATASET, [SIMPLE_RNN_METRICS, lstm], HISTORIES, PipelineConfig()
    )

    lines = render_markdown(summary).splitlines()
    assert "| LSTM | 89.1 % | 7 of 10 | 89 % | +0.1 points | 87.4 % | 88.0 % |" in lines
    assert "| SimpleRNN | 85.7 % | 6 of 10 | 85 % | +0.7 points | 84.1 % | – |" in lines


def test_markdown_escapes_pipes():
    lstm = dict(LSTM_METRICS, device="GPU|0")

    summary = summarize_run(RUN_ID, DATASET, [lstm], HISTORIES, PipelineConfig())

    assert "| GPU\\|0 |" in render_markdown(summary)


# --- HTML -------------------------------------------------------------------------


def test_html_is_self_contained(summary):
    page = render_html(summary, plot_learning_curves(HISTORIES))

    assert "data:image/png;base64,iVBORw0KGgo" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script src" not in page
    assert "<link" not in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'class="table-scroll"' in page


def test_html_contains_report_content(summary):
    page = render_html(summary, PNG_SIGNATURE)

    assert "LSTM is ahead of SimpleRNN by 3.4 points of best validation accuracy." in page
    assert "<td>322,113</td>" in page
    assert "<td>85 %</td>" in page
    assert "<td>89 %</td>" in page
    assert "the last 500 tokens of each review are kept" in page


def test_html_escapes_text():
    lstm = dict(LSTM_METRICS, worker="<b>host</b>")

    summary = summarize_run(RUN_ID, DATASET, [lstm], HISTORIES, PipelineConfig())

    page = render_html(summary, PNG_SIGNATURE)
    assert "&lt;b&gt;host&lt;/b&gt;" in page
    assert "<b>host</b>" not in page


# --- learning curves ----------------------------------------------------------------


def test_learning_curves_are_png():
    assert plot_learning_curves(HISTORIES).startswith(PNG_SIGNATURE)


def test_learning_curves_without_loss():
    history = {
        key: value for key, value in HISTORIES["lstm"].items() if key not in ("loss", "val_loss")
    }

    assert plot_learning_curves({"lstm": history}).startswith(PNG_SIGNATURE)


def test_learning_curves_reject_empty_histories():
    with pytest.raises(ReportError, match=r"histories must contain at least one model's history"):
        plot_learning_curves({})


# --- Prefect table ------------------------------------------------------------------


def test_comparison_rows(summary):
    rows = comparison_rows(summary)

    assert len(rows) == 2
    assert rows[1] == {
        "display_name": "LSTM",
        "model": "lstm",
        "best_val_accuracy": 0.8912,
        "best_epoch": 7,
        "book_val_accuracy": 0.89,
        "difference_from_book_points": 0.12,
        "final_val_accuracy": 0.874,
        "test_accuracy": None,
        "params_embedding": 320000,
        "params_recurrent": 8320,
        "params_dense": 33,
        "params_total": 328353,
        "epochs": 10,
        "train_seconds": 301.2,
        "mean_epoch_seconds": 30.1,
        "device": "GPU:0",
        "evaluation_split": None,
        "evaluation_accuracy": None,
        "evaluation_accuracy_low": None,
        "evaluation_accuracy_high": None,
    }


def test_comparison_rows_with_evaluation(run_dir):
    summary = build_report(run_dir, PipelineConfig(), ["simple_rnn", "lstm"])

    rows = comparison_rows(summary)

    assert rows[1]["evaluation_split"] == "validation"
    assert rows[1]["evaluation_accuracy"] == 0.9
    assert rows[1]["evaluation_accuracy_low"] < 0.9 < rows[1]["evaluation_accuracy_high"]


# --- import -------------------------------------------------------------------------


def test_import_loads_neither_prefect_nor_matplotlib():
    code = (
        "import sys, rnnpipe.report; "
        "print(sorted(name for name in ('prefect', 'matplotlib') if name in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
