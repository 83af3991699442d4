"""Unit tests of rnnpipe.champion: the decision, the pointer and its history.

The champion here is a real Keras model with fixed weights that calls every review
positive, so its accuracy on any rows is their share of positive labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from rnnpipe import storage
from rnnpipe.champion import (
    CHAMPION_HISTORY,
    CHAMPION_POINTER,
    ChampionError,
    decide_champion,
    promote_champion,
    read_champion,
    read_champion_history,
    render_champion,
)
from rnnpipe.config import build_config
from rnnpipe.dataset import load_sequences, pad_reviews

CHAMPION_RUN = "20260101T020000Z-cccccc"
RUN = "20260102T020000Z-dddddd"
TEXT = {"num_words": 20, "maxlen": 6}


def reviews(positive_share: float, rows: int = 40, train_parity: int = 1) -> pd.DataFrame:
    """Build reviews whose odd rows (or even rows, with ``train_parity=0``) are training rows."""
    positives = int(rows * positive_share)
    return pd.DataFrame(
        {
            "review_id": [f"r{index:03d}" for index in range(rows)],
            "text": [
                f"good fine film {index}" if index < positives else f"bad poor film {index}" for index in range(rows)
            ],
            "label": pd.array([1] * positives + [0] * (rows - positives), dtype="int8"),
            "split": ["train" if index % 2 == train_parity else "test" for index in range(rows)],
        }
    )


def write_padded_run(root: Path, run_id: str, frame: pd.DataFrame, text: dict = TEXT) -> Path:
    run_dir = root / "runs" / run_id
    config = build_config({"text": text})
    storage.write_parquet(run_dir / "reviews.parquet", pa.Table.from_pandas(frame, preserve_index=False))
    pad_reviews(frame, config.text, 0.25, 0, run_dir / "padded")
    return run_dir


def write_perfect_predictions(run_dir: Path, names: list[str]) -> None:
    """Write predictions that are right on every test row, as a trained model's would be."""
    x, labels, review_ids = load_sequences(run_dir / "padded" / "test.parquet")
    for name in names:
        frame = pd.DataFrame(
            {
                "review_id": review_ids,
                "split": "test",
                "label": labels,
                "probability": labels.astype(np.float32),
                "prediction": labels,
            }
        )
        (run_dir / "models" / name).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(run_dir / "models" / name / "predictions.parquet")


def save_always_positive_model(run_dir: Path, name: str, text: dict = TEXT) -> None:
    from rnnpipe.training import configure_tensorflow

    configure_tensorflow()
    from rnnpipe.models import build_model

    config = build_config({"text": text, "model": {"embedding_dim": 2, "units": 2}})
    network = build_model(name, config.text, config.model)
    kernel, _ = network.get_layer("classifier").get_weights()
    network.get_layer("classifier").set_weights([np.zeros_like(kernel), np.array([10.0], dtype=np.float32)])
    path = run_dir / "models" / name / "model.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    network.save(path)


def promote_decision(run_id: str, champion: dict | None = None) -> dict:
    return {
        "decision": "promote",
        "reason": "There is no champion yet.",
        "champion": champion,
        "split": "test",
        "rows": 20,
        "challenger": {"run_id": run_id, "model": "lstm", "display_name": "LSTM", "accuracy": 0.5},
    }


def make_champion(root: Path, text: dict = TEXT) -> None:
    champion_dir = write_padded_run(root, CHAMPION_RUN, reviews(0.5), text)
    save_always_positive_model(champion_dir, "lstm", text)
    write_perfect_predictions(champion_dir, ["lstm"])
    storage.write_json(champion_dir / "champion_decision.json", promote_decision(CHAMPION_RUN))
    promote_champion(champion_dir, root)


# --- the decision ---------------------------------------------------------------------


def test_decide_without_champion_promotes(tmp_path):
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.5))
    write_perfect_predictions(run_dir, ["simple_rnn", "lstm"])

    decision = decide_champion(run_dir, tmp_path, build_config(), ["simple_rnn", "lstm"])

    assert decision["decision"] == "promote"
    assert decision["challenger"] == {"run_id": RUN, "model": "simple_rnn", "display_name": "SimpleRNN", "accuracy": 1.0}
    assert decision["sentence"] == f"Promote SimpleRNN of run {RUN} to champion: there is no champion yet."
    assert json.loads((run_dir / "champion_decision.json").read_text()) == decision


def test_decide_promotes_better_challenger(tmp_path):
    make_champion(tmp_path)
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.75))
    write_perfect_predictions(run_dir, ["lstm"])

    decision = decide_champion(run_dir, tmp_path, build_config({"text": TEXT}), ["lstm"])

    assert decision["decision"] == "promote"
    assert decision["champion"]["run_id"] == CHAMPION_RUN
    assert decision["champion"]["accuracy"] == 0.75
    assert decision["challenger"]["accuracy"] == 1.0
    assert decision["difference_points"] == 25.0
    assert decision["reason"] == "The challenger is 25.00 points better, at least the margin of 0.5 points."
    assert decision["sentence"] == (
        f"Promote LSTM of run {RUN} to champion over LSTM of run {CHAMPION_RUN}: 100.0 % against "
        "75.0 % on the same 20 test reviews of this run, 25.00 points better, and the promotion "
        "margin is 0.5 points."
    )


def test_decide_keeps_champion_below_margin(tmp_path):
    make_champion(tmp_path)
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.75))
    write_perfect_predictions(run_dir, ["lstm"])
    config = build_config({"text": TEXT, "report": {"promotion_margin_points": 30}})

    decision = decide_champion(run_dir, tmp_path, config, ["lstm"])

    assert decision["decision"] == "keep"
    assert decision["reason"] == "The challenger is 25.00 points better, less than the margin of 30 points."


def test_decide_reads_padded_rows_for_same_vocabulary(tmp_path):
    make_champion(tmp_path)
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.5))
    write_perfect_predictions(run_dir, ["lstm"])

    decision = decide_champion(run_dir, tmp_path, build_config({"text": TEXT}), ["lstm"])

    assert decision["champion_reencoded"] is False
    assert decision["champion"]["accuracy"] == 0.5


def test_decide_encodes_again_for_other_vocabulary(tmp_path):
    make_champion(tmp_path)
    other_text = {"num_words": 12, "maxlen": 4}
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.75), other_text)
    write_perfect_predictions(run_dir, ["lstm"])

    decision = decide_champion(run_dir, tmp_path, build_config({"text": other_text}), ["lstm"])

    assert decision["champion_reencoded"] is True
    assert decision["champion"]["accuracy"] == 0.75


def test_decide_leaves_out_reviews_champion_trained_on(tmp_path):
    make_champion(tmp_path)
    # Tonight's test rows are the champion run's training and validation rows.
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.5, train_parity=0))
    write_perfect_predictions(run_dir, ["lstm"])
    champion_train_ids = set(pd.read_parquet(tmp_path / "runs" / CHAMPION_RUN / "padded" / "train.parquet")["review_id"])

    decision = decide_champion(run_dir, tmp_path, build_config({"text": TEXT}), ["lstm"])

    assert len(champion_train_ids) == 16
    assert decision["excluded_rows"] == 16
    assert decision["rows"] == 4
    assert "(16 reviews that the champion trained on left out)" in decision["sentence"]


def test_decide_keeps_champion_when_every_review_was_seen(tmp_path):
    make_champion(tmp_path)
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.5, train_parity=0))
    champion_train_ids = pd.read_parquet(tmp_path / "runs" / CHAMPION_RUN / "padded" / "train.parquet")["review_id"]
    frame = pd.DataFrame(
        {"review_id": champion_train_ids, "split": "test", "label": np.int8(1), "probability": np.float32(1.0), "prediction": np.int8(1)}
    )
    (run_dir / "models" / "lstm").mkdir(parents=True)
    frame.to_parquet(run_dir / "models" / "lstm" / "predictions.parquet")

    decision = decide_champion(run_dir, tmp_path, build_config({"text": TEXT}), ["lstm"])

    assert decision["decision"] == "keep"
    assert decision["reason"] == (
        "Every test review of this run was in the champion's training split, so the two cannot be "
        "compared fairly on this run's rows."
    )


def test_decide_keeps_champion_whose_model_is_missing(tmp_path):
    make_champion(tmp_path)
    (tmp_path / "runs" / CHAMPION_RUN / "models" / "lstm" / "model.keras").unlink()
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.5))
    write_perfect_predictions(run_dir, ["lstm"])

    decision = decide_champion(run_dir, tmp_path, build_config({"text": TEXT}), ["lstm"])

    assert decision["decision"] == "keep"
    assert decision["reason"].startswith("The champion could not be scored on this run's rows: ")
    assert "model.keras not found." in decision["reason"]
    assert decision["sentence"].startswith(f"Keep the champion, LSTM of run {CHAMPION_RUN}. The champion could not")


def test_decide_rejects_missing_predictions(tmp_path):
    run_dir = write_padded_run(tmp_path, RUN, reviews(0.5))

    with pytest.raises(ChampionError, match=r"lstm/predictions\.parquet not found\. Run the train stage"):
        decide_champion(run_dir, tmp_path, build_config(), ["lstm"])


# --- the pointer ----------------------------------------------------------------------


def test_promote_writes_pointer_and_history(tmp_path):
    make_champion(tmp_path)

    champion = read_champion(tmp_path)
    assert champion["run_id"] == CHAMPION_RUN
    assert champion["model_path"] == f"runs/{CHAMPION_RUN}/models/lstm/model.keras"
    assert champion["previous_champion"] is None
    assert read_champion_history(tmp_path) == [champion]


def test_keep_decision_leaves_pointer(tmp_path):
    make_champion(tmp_path)
    before = (tmp_path / CHAMPION_POINTER).read_bytes()
    run_dir = tmp_path / "runs" / RUN
    storage.write_json(run_dir / "champion_decision.json", {"decision": "keep", "reason": "worse"})

    result = promote_champion(run_dir, tmp_path)

    assert result == {"promoted": False, "reason": "worse", "champion": read_champion(tmp_path)}
    assert (tmp_path / CHAMPION_POINTER).read_bytes() == before


def test_stale_decision_leaves_pointer(tmp_path):
    make_champion(tmp_path)
    run_dir = tmp_path / "runs" / RUN
    # This run decided while there was no champion; the champion appeared since.
    storage.write_json(run_dir / "champion_decision.json", promote_decision(RUN))

    result = promote_champion(run_dir, tmp_path)

    assert result["promoted"] is False
    assert "this run's decision no longer applies" in result["reason"]
    assert read_champion(tmp_path)["run_id"] == CHAMPION_RUN
    assert len(read_champion_history(tmp_path)) == 1


def test_promote_rejects_missing_decision(tmp_path):
    with pytest.raises(ChampionError, match=r"champion_decision\.json not found\. Run the champion decision"):
        promote_champion(tmp_path / "runs" / RUN, tmp_path)


def test_render_champion_lists_history(tmp_path):
    make_champion(tmp_path)

    text = render_champion(tmp_path)

    assert text.startswith(f"Champion: LSTM of run {CHAMPION_RUN}")
    assert "History (1 promotion, newest first):" in text
    assert (tmp_path / CHAMPION_HISTORY).is_file()


def test_render_champion_without_champion(tmp_path):
    assert render_champion(tmp_path).startswith("No champion yet in ")
