"""The champion: the model in use, and whether tonight's best model replaces it.

Files under the artifact root::

    champion.json            the current champion; moved only by promote_champion
    champion_history.json    every promotion, oldest first
    runs/<run-id>/champion_decision.json   one run's decision, figures and reason

``decide_champion`` scores the run's best model and the champion on the same rows of
this run: the champion's ``model.keras`` is loaded and predicts this run's reviews.
When the champion was trained with another vocabulary or other text settings, its
token ids mean other words, so this run's reviews are encoded again with the
champion run's ``vocabulary.json`` and its ``maxlen``, ``padding`` and
``truncating``. The challenger is promoted when it beats the champion by at least
``report.promotion_margin_points``, or when there is no champion.

``promote_champion`` applies a "promote" decision after the run has completed, so a
run that fails never moves the pointer. Paths in the pointer are relative to the
artifact root, so the root can be moved or mounted elsewhere, and for an fsspec URL
artifact root both pointer files are read and written at the URL.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from rnnpipe import runs, storage
from rnnpipe.config import MODEL_DISPLAY_NAMES, PipelineConfig
from rnnpipe.errors import RnnpipeError
from rnnpipe.statistics import choose_split, compare_pair, pair_outcomes

logger = logging.getLogger(__name__)

CHAMPION_POINTER = "champion.json"
CHAMPION_HISTORY = "champion_history.json"
DECISION_FILE = "champion_decision.json"
PROMOTE = "promote"
KEEP = "keep"
# Training writes a prediction of 1 for a probability of at least this value.
DECISION_THRESHOLD = 0.5


class ChampionError(RnnpipeError, ValueError):
    """A champion file or decision that is missing or inconsistent."""


class ChampionUnavailable(Exception):
    """The champion cannot be scored on this run's rows. The message gives the reason."""


# --- reading the pointer --------------------------------------------------------


def read_champion(artifact_root: str | Path) -> dict | None:
    """Return the contents of ``champion.json``, or None when there is no champion yet."""
    location = storage.join(artifact_root, CHAMPION_POINTER)
    return storage.read_json_at(location) if storage.exists_at(location) else None


def read_champion_history(artifact_root: str | Path) -> list[dict]:
    """Return every promotion recorded in ``champion_history.json``, oldest first."""
    location = storage.join(artifact_root, CHAMPION_HISTORY)
    return storage.read_json_at(location) if storage.exists_at(location) else []


def read_decision(run_dir: Path) -> dict | None:
    path = Path(run_dir) / DECISION_FILE
    return storage.read_json(path) if path.is_file() else None


# --- the decision ---------------------------------------------------------------


def decide_champion(run_dir: Path, artifact_root: str | Path, config: PipelineConfig, models: list[str]) -> dict:
    """Compare the run's best model with the champion on this run's rows and record the decision.

    The best model is the one with the highest accuracy on the evaluation split:
    test when every model has test rows, else validation. Writes
    ``champion_decision.json`` into ``run_dir``; the pointer does not move here.

    Returns:
        The decision: ``run_id``, ``decision`` ("promote" or "keep"), ``reason``,
        ``sentence`` (one line for the report), ``split``, ``rows``, ``margin_points``,
        ``challenger`` and ``champion`` (each ``run_id``, ``model``, ``display_name``,
        ``accuracy`` on these rows; ``champion`` is None without a champion),
        ``difference_points`` (challenger minus champion, or None),
        ``comparison`` (the paired statistics from ``compare_pair``, or None),
        ``champion_reencoded`` and ``decided_at``.

    Raises:
        ChampionError: when a model's ``predictions.parquet`` is missing.
    """
    run_dir = Path(run_dir)
    predictions = {name: _read_predictions(run_dir, name) for name in models}
    split = choose_split(predictions)
    challenger_name, challenger_accuracy, rows = _best_model(predictions, split)
    challenger = {
        "run_id": run_dir.name,
        "model": challenger_name,
        "display_name": MODEL_DISPLAY_NAMES.get(challenger_name, challenger_name),
        "accuracy": challenger_accuracy,
    }
    margin = config.report.promotion_margin_points
    decision = {
        "run_id": run_dir.name,
        "split": split,
        "rows": rows,
        "margin_points": margin,
        "challenger": challenger,
        "champion": None,
        "difference_points": None,
        "comparison": None,
        "champion_reencoded": None,
        "decided_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }

    current = read_champion(artifact_root)
    if current is None:
        decision.update(decision=PROMOTE, reason="There is no champion yet.")
    elif current["run_id"] == run_dir.name:
        decision["champion"] = _describe_champion(current, None)
        decision.update(decision=KEEP, reason="The champion is already a model of this run.")
    else:
        _compare_with_champion(decision, current, predictions[challenger_name], run_dir, artifact_root, config)

    decision["sentence"] = decision_sentence(decision)
    storage.write_json(run_dir / DECISION_FILE, decision)
    logger.info("champion decision for run %s: %s", run_dir.name, decision["sentence"])
    return decision


def _compare_with_champion(
    decision: dict,
    current: dict,
    challenger_predictions: pd.DataFrame,
    run_dir: Path,
    artifact_root: str | Path,
    config: PipelineConfig,
) -> None:
    split = decision["split"]
    try:
        champion_predictions, reencoded = score_champion(
            current, artifact_root, run_dir, split, config.training.batch_size
        )
    except ChampionUnavailable as error:
        logger.warning("kept champion %s of run %s unscored: %s", current["model"], current["run_id"], error)
        decision["champion"] = _describe_champion(current, None)
        decision.update(
            decision=KEEP,
            reason=f"The champion could not be scored on this run's rows: {error} "
            f"Delete {CHAMPION_POINTER} in the artifact root to let the next run's best model take over.",
        )
        return

    # Tonight's split can hold reviews that the champion trained on, when the
    # data, its sample or the seed changed since the champion's run. Scoring the
    # champion on them would flatter it, so both models are compared without them.
    seen = reviews_seen_in_training(_open_champion_run(current, artifact_root), Path(run_dir), challenger_predictions["review_id"])
    decision["excluded_rows"] = len(seen)
    decision["excluded_reason"] = "in the champion's training split" if seen else None
    if len(seen) == challenger_predictions["review_id"].nunique():
        decision["champion"] = _describe_champion(current, None)
        decision.update(
            decision=KEEP,
            reason=f"Every {split} review of this run was in the champion's training split, so the "
            "two cannot be compared fairly on this run's rows.",
        )
        return
    challenger_predictions = challenger_predictions[~challenger_predictions["review_id"].isin(seen)]
    champion_predictions = champion_predictions[~champion_predictions["review_id"].isin(seen)]

    outcomes = pair_outcomes(challenger_predictions, champion_predictions, split)
    challenger = decision["challenger"]
    champion_label = f"the champion ({MODEL_DISPLAY_NAMES.get(current['model'], current['model'])} of run {current['run_id']})"
    comparison = compare_pair(
        ("challenger", "champion"),
        (f"{challenger['display_name']} of this run", champion_label),
        outcomes,
        config.training.seed,
        config.report.bootstrap_resamples,
    )
    challenger_accuracy = float(np.mean(outcomes.first_correct))
    champion_accuracy = float(np.mean(outcomes.second_correct))
    difference = round((challenger_accuracy - champion_accuracy) * 100, 2)
    challenger["accuracy"] = round(challenger_accuracy, 6)
    decision.update(
        rows=outcomes.rows,
        champion=_describe_champion(current, round(champion_accuracy, 6)),
        difference_points=difference,
        comparison=comparison,
        champion_reencoded=reencoded,
    )

    margin = decision["margin_points"]
    if difference >= margin:
        reason = f"The challenger is {difference:.2f} points better, at least the margin of {margin:g} points."
        decision.update(decision=PROMOTE, reason=reason)
    elif difference > 0:
        reason = f"The challenger is {difference:.2f} points better, less than the margin of {margin:g} points."
        decision.update(decision=KEEP, reason=reason)
    elif difference < 0:
        decision.update(decision=KEEP, reason=f"The challenger is {-difference:.2f} points worse than the champion.")
    else:
        decision.update(decision=KEEP, reason="The challenger and the champion are equally accurate.")


def decision_sentence(decision: dict) -> str:
    """Describe a decision in one sentence with both figures, for the report and the UI."""
    challenger = decision["challenger"]
    champion = decision["champion"]
    name = f"{challenger['display_name']} of run {challenger['run_id']}"
    if champion is None:
        return f"Promote {name} to champion: there is no champion yet."

    champion_name = f"{champion['display_name']} of run {champion['run_id']}"
    if decision["difference_points"] is None:
        return f"Keep the champion, {champion_name}. {decision['reason']}"

    figures = (
        f"{_percent(challenger['accuracy'])} against {_percent(champion['accuracy'])} on the same "
        f"{decision['rows']:,} {decision['split']} reviews of this run, "
        f"{_better_or_worse(decision['difference_points'])}"
    )
    if decision.get("excluded_rows"):
        figures += f" ({decision['excluded_rows']:,} reviews that the champion trained on left out)"
    margin = f"the promotion margin is {decision['margin_points']:g} points"
    if decision["decision"] == PROMOTE:
        return f"Promote {name} to champion over {champion_name}: {figures}, and {margin}."
    return f"Keep the champion, {champion_name}: {name} scored {figures}, and {margin}."


# --- scoring the champion on this run's rows ----------------------------------


def score_champion(
    champion: dict, artifact_root: str | Path, run_dir: Path, split: str, batch_size: int
) -> tuple[pd.DataFrame, bool]:
    """Predict this run's ``split`` rows with the champion model.

    For a URL artifact root the champion run's ``padded/`` folder and model folder
    are downloaded into this machine's mirror first.

    Returns:
        ``(predictions, reencoded)``: a frame with ``review_id``, ``split``, ``label``,
        ``probability`` and ``prediction``, like ``predictions.parquet``, and whether
        the reviews were encoded again with the champion's vocabulary.

    Raises:
        ChampionUnavailable: when the champion's files are missing, or the reviews
            must be encoded again but this run has no review text.
    """
    champion_run = _open_champion_run(champion, artifact_root)
    model_path = champion_run / "models" / champion["model"] / "model.keras"
    champion_padded = champion_run / "padded"
    for path in (model_path, champion_padded / "vocabulary.json", champion_padded / "dataset.json"):
        if not path.is_file():
            raise ChampionUnavailable(f"{path} not found.")

    x, labels, review_ids, reencoded = _champion_inputs(champion_padded, Path(run_dir), split)

    from rnnpipe.training import configure_tensorflow

    configure_tensorflow()
    import keras

    network = keras.saving.load_model(model_path, compile=False)
    probability = network.predict(x, batch_size=batch_size, verbose=0).reshape(-1).astype(np.float32)
    logger.info(
        "scored champion %s of run %s on %d %s reviews of run %s%s",
        champion["model"],
        champion["run_id"],
        len(review_ids),
        split,
        Path(run_dir).name,
        " encoded with the champion's vocabulary" if reencoded else "",
    )
    frame = pd.DataFrame(
        {
            "review_id": review_ids,
            "split": split,
            "label": labels,
            "probability": probability,
            "prediction": (probability >= DECISION_THRESHOLD).astype(np.int8),
        }
    )
    return frame, reencoded


def reviews_seen_in_training(champion_run: Path, run_dir: Path, review_ids: pd.Series) -> set[str]:
    """Return the ids among ``review_ids`` of this run whose review the champion trained on.

    Reviews are matched by content, the cleaned tokens of the text or the word ids
    of an imdb.npz row, because ids such as ``row-12`` only number a file's rows.
    When either run's ``reviews.parquet`` is missing, ids are matched instead.
    """
    champion_train = champion_run / "padded" / "train.parquet"
    if not champion_train.is_file():
        raise ChampionUnavailable(f"{champion_train} not found.")
    champion_ids = set(pd.read_parquet(champion_train, columns=["review_id"])["review_id"])
    candidates = set(review_ids)

    champion_reviews = champion_run / "reviews.parquet"
    reviews = run_dir / "reviews.parquet"
    if not (champion_reviews.is_file() and reviews.is_file()):
        return candidates & champion_ids

    champion_keys = set(_content_keys(champion_reviews, champion_ids).values())
    keys = _content_keys(reviews, candidates)
    return {review_id for review_id, key in keys.items() if key in champion_keys}


def _content_keys(reviews_path: Path, review_ids: set[str]) -> dict[str, str]:
    from rnnpipe.text import tokenize

    columns = pq.read_schema(reviews_path).names
    wanted = [column for column in ("review_id", "text", "token_ids") if column in columns]
    reviews = pd.read_parquet(reviews_path, columns=wanted)
    reviews = reviews[reviews["review_id"].isin(review_ids)]
    keys = {}
    for row in reviews.itertuples(index=False):
        text = getattr(row, "text", None)
        if isinstance(text, str):
            keys[row.review_id] = "text:" + " ".join(tokenize(text))
        else:
            token_ids = getattr(row, "token_ids", None)
            keys[row.review_id] = "ids:" + ",".join(str(int(i)) for i in (token_ids if token_ids is not None else []))
    return keys


def _open_champion_run(champion: dict, artifact_root: str | Path) -> Path:
    location = runs.run_location(artifact_root, champion["run_id"])
    if not storage.is_url(artifact_root):
        return Path(location)
    try:
        runs.fetch_run(location, "padded")
        return runs.fetch_run(location, f"models/{champion['model']}").path
    except OSError as error:
        raise ChampionUnavailable(f"downloading the champion's files from {location} failed: {error}") from error


def _champion_inputs(champion_padded: Path, run_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str], bool]:
    """Return this run's ``split`` rows as the champion's token ids: ``(x, labels, review_ids, reencoded)``."""
    from rnnpipe.dataset import load_sequences

    padded = run_dir / "padded"
    x, labels, review_ids = load_sequences(padded / f"{split}.parquet")
    if _same_encoding(champion_padded, padded):
        return x, labels, review_ids, False

    from rnnpipe.padding import pad_sequences
    from rnnpipe.text import tokenize
    from rnnpipe.vocabulary import Vocabulary

    reviews_path = run_dir / "reviews.parquet"
    if not reviews_path.is_file():
        raise ChampionUnavailable(f"{reviews_path} not found, so this run's reviews cannot be encoded again.")
    reviews = pd.read_parquet(reviews_path, columns=["review_id", "text"]).set_index("review_id")
    texts = reviews["text"].reindex(review_ids)
    if texts.isna().any():
        missing = texts.index[texts.isna()][0]
        raise ChampionUnavailable(
            f"review {missing!r} has no text in {reviews_path} (a source of token ids gives none), "
            "so it cannot be encoded with the champion's vocabulary."
        )

    champion_vocabulary = storage.read_json(champion_padded / "vocabulary.json")
    if champion_vocabulary.get("ids_from") == "token_ids":
        raise ChampionUnavailable(
            "the champion was trained on the word ids of an imdb.npz, which cannot be rebuilt "
            "from this run's text."
        )
    vocabulary = Vocabulary.from_json(champion_vocabulary)
    text_settings = storage.read_json(champion_padded / "dataset.json")
    sequences = [vocabulary.encode(tokenize(text)) for text in texts]
    x = pad_sequences(sequences, text_settings["maxlen"], text_settings["padding"], text_settings["truncating"])
    return x, labels, review_ids, True


def _same_encoding(champion_padded: Path, padded: Path) -> bool:
    """Return whether both runs turn a review into the same ids: same vocabulary and text settings."""
    vocabulary_path = padded / "vocabulary.json"
    if not vocabulary_path.is_file():
        return False
    champion_settings = storage.read_json(champion_padded / "dataset.json")
    settings = storage.read_json(padded / "dataset.json")
    keys = ("num_words", "maxlen", "padding", "truncating")
    if any(champion_settings.get(key) != settings.get(key) for key in keys):
        return False
    champion_vocabulary = storage.read_json(champion_padded / "vocabulary.json")
    vocabulary = storage.read_json(vocabulary_path)
    # Runs on an imdb.npz store word ids, not words ("ids_from": "token_ids"). Their
    # ids follow the Keras IMDB word index, so two such runs agree when the settings do.
    if champion_vocabulary.get("ids_from", "text") != vocabulary.get("ids_from", "text"):
        return False
    return [(entry["word"], entry["id"]) for entry in champion_vocabulary["words"]] == [
        (entry["word"], entry["id"]) for entry in vocabulary["words"]
    ]


# --- moving the pointer ---------------------------------------------------------


def promote_champion(run_dir: Path, artifact_root: str | Path) -> dict:
    """Apply the run's decision: on "promote", move ``champion.json`` to the run's best model.

    Call only after every stage of the run has succeeded. The history is written before the
    pointer, and each file is replaced atomically, so a reader always finds a whole
    pointer. When another run changed the champion after this run's decision, the
    decision is stale and the pointer stays.

    Returns:
        ``promoted`` (bool), ``reason`` and ``champion`` (the pointer afterwards, or
        None).

    Raises:
        ChampionError: when the run has no ``champion_decision.json``.
    """
    run_dir = Path(run_dir)
    decision = read_decision(run_dir)
    if decision is None:
        raise ChampionError(
            f"{run_dir / DECISION_FILE} not found. Run the champion decision for run {run_dir.name} first."
        )

    current = read_champion(artifact_root)
    if decision["decision"] != PROMOTE:
        return {"promoted": False, "reason": decision["reason"], "champion": current}
    if _identity(current) != _identity(decision["champion"]):
        reason = (
            f"The champion changed to {_identity(current)} after this run compared itself with "
            f"{_identity(decision['champion'])}, so this run's decision no longer applies."
        )
        logger.warning("did not promote run %s: %s", run_dir.name, reason)
        return {"promoted": False, "reason": reason, "champion": current}

    challenger = decision["challenger"]
    pointer = {
        "run_id": challenger["run_id"],
        "model": challenger["model"],
        "display_name": challenger["display_name"],
        "model_path": f"runs/{challenger['run_id']}/models/{challenger['model']}/model.keras",
        "split": decision["split"],
        "rows": decision["rows"],
        "accuracy": challenger["accuracy"],
        "previous_champion": decision["champion"],
        "reason": decision["reason"],
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    history = read_champion_history(artifact_root) + [pointer]
    storage.write_json_at(storage.join(artifact_root, CHAMPION_HISTORY), history)
    storage.write_json_at(storage.join(artifact_root, CHAMPION_POINTER), pointer)
    logger.info(
        "promoted %s of run %s to champion (%d promotions so far)",
        pointer["display_name"],
        pointer["run_id"],
        len(history),
    )
    return {"promoted": True, "reason": decision["reason"], "champion": pointer}


# --- the champion command -------------------------------------------------------


def render_champion(artifact_root: str | Path) -> str:
    """Describe the champion and every earlier promotion as plain text for a terminal."""
    current = read_champion(artifact_root)
    history = read_champion_history(artifact_root)
    if current is None:
        return f"No champion yet in {artifact_root}. The first completed run's best model becomes the champion."

    lines = [
        f"Champion: {current['display_name']} of run {current['run_id']}",
        f"  accuracy {_percent(current['accuracy'])} on {current['rows']:,} {current['split']} reviews when promoted",
        f"  promoted {current['promoted_at']}: {current['reason']}",
        f"  model: {storage.join(artifact_root, current['model_path'])}",
        "",
        f"History ({len(history)} {'promotion' if len(history) == 1 else 'promotions'}, newest first):",
    ]
    for entry in reversed(history):
        marker = "*" if _identity(entry) == _identity(current) else " "
        lines.append(
            f" {marker} {entry['promoted_at']}  {entry['display_name']:<9}  run {entry['run_id']}  "
            f"{_percent(entry['accuracy'])} on {entry['rows']:,} {entry['split']} reviews"
        )
    return "\n".join(lines)


# --- helpers --------------------------------------------------------------------


def _read_predictions(run_dir: Path, name: str) -> pd.DataFrame:
    path = run_dir / "models" / name / "predictions.parquet"
    if not path.is_file():
        raise ChampionError(f"{path} not found. Run the train stage for {name!r} in this run first.")
    return pd.read_parquet(path)


def _best_model(predictions: dict[str, pd.DataFrame], split: str) -> tuple[str, float, int]:
    """Return ``(name, accuracy, rows)`` of the most accurate model; the first listed wins a tie."""
    best = None
    for name, frame in predictions.items():
        rows = frame[frame["split"] == split]
        accuracy = round(float((rows["prediction"] == rows["label"]).mean()), 6)
        if best is None or accuracy > best[1]:
            best = (name, accuracy, len(rows))
    return best


def _describe_champion(pointer: dict, accuracy: float | None) -> dict:
    return {
        "run_id": pointer["run_id"],
        "model": pointer["model"],
        "display_name": pointer.get("display_name") or MODEL_DISPLAY_NAMES.get(pointer["model"], pointer["model"]),
        "accuracy": accuracy,
        "accuracy_when_promoted": pointer.get("accuracy"),
    }


def _identity(champion: dict | None) -> str | None:
    return None if champion is None else f"{champion['model']} of run {champion['run_id']}"


def _better_or_worse(points: float) -> str:
    if points > 0:
        return f"{points:.2f} points better"
    if points < 0:
        return f"{-points:.2f} points worse"
    return "equally accurate"


def _percent(fraction: float | None) -> str:
    return "–" if fraction is None else f"{fraction * 100:.1f} %"
