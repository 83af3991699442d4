"""The pad stage: reviews to fixed-length integer sequences stored as Parquet.

Files written into the output folder:

- ``vocabulary.json``: the vocabulary fitted on the training rows only. When the
  reviews carry word ids (``token_ids``, from a Keras ``imdb.npz``) instead of
  text, no vocabulary is fitted: the file lists no words and records
  ``"ids_from": "token_ids"``.
- ``train.parquet``, ``validation.parquet``, ``test.parquet``: ``review_id``,
  ``label`` (int8) and ``tokens``, a fixed-size list of ``maxlen`` int32 ids.
  The text settings are stored in the Parquet schema metadata.
- ``set_aside.parquet``: reviews with no tokens left after cleaning, or with no
  word id after the start id, with the reason.
- ``dataset.json``: counts, the truncated share, the out-of-vocabulary rate and
  ``text_available`` (False for word ids).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rnnpipe import storage
from rnnpipe.config import TextConfig
from rnnpipe.padding import pad_sequences
from rnnpipe.text import tokenize
from rnnpipe.vocabulary import OOV_ID, PADDING_ID, START_ID, Vocabulary

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
EMPTY_AFTER_CLEANING = "empty after cleaning"


def stratified_split(
    labels: np.ndarray, validation_fraction: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split row positions into training and validation sets, stratified by label.

    Rows with the same ``groups`` key, such as copies of one review, always land
    on the same side, so a review never reaches validation after training on its
    copy. Each class, taken from a group's first row, gives
    ``round(groups * validation_fraction)`` groups to validation. Keras'
    ``validation_split`` is not used because it takes the unshuffled tail, which
    contains a single class when the input is sorted by label.

    When rounding leaves validation empty but there are at least two groups, one
    seeded group of the largest class moves to validation, because training needs
    a validation row to choose its best epoch. Such a tiny split cannot be
    stratified, and the sequences gate reports that.

    Returns:
        ``(train_positions, validation_positions)``, each shuffled with ``seed``.
    """
    if groups is None:
        groups = np.arange(len(labels))
    _, first_rows, row_group = np.unique(groups, return_index=True, return_inverse=True)
    group_labels = np.asarray(labels)[first_rows]

    rng = np.random.default_rng(seed)
    validation_parts = []
    for label in np.unique(group_labels):
        members = np.flatnonzero(group_labels == label)
        rng.shuffle(members)
        validation_parts.append(members[: int(round(len(members) * validation_fraction))])

    validation_groups = np.concatenate(validation_parts) if validation_parts else np.array([], dtype=int)
    if len(validation_groups) == 0 and len(group_labels) >= 2:
        values, counts = np.unique(group_labels, return_counts=True)
        largest_class = np.flatnonzero(group_labels == values[np.argmax(counts)])
        validation_groups = rng.choice(largest_class, size=1)

    in_validation = np.isin(row_group.reshape(-1), validation_groups)
    train = np.flatnonzero(~in_validation)
    validation = np.flatnonzero(in_validation)
    rng.shuffle(train)
    rng.shuffle(validation)
    return train, validation


def sequences_table(
    review_ids: pd.Series, labels: np.ndarray, tokens: np.ndarray, text: TextConfig
) -> pa.Table:
    """Build the Parquet table of one split; ``tokens`` has shape ``(rows, maxlen)``."""
    flat = pa.array(tokens.reshape(-1), type=pa.int32())
    table = pa.table(
        {
            "review_id": pa.array(review_ids.to_numpy(dtype=object), type=pa.string()),
            "label": pa.array(labels, type=pa.int8()),
            "tokens": pa.FixedSizeListArray.from_arrays(flat, text.maxlen),
        }
    )
    metadata = {b"rnnpipe.text": json.dumps(text.model_dump()).encode()}
    return table.replace_schema_metadata(metadata)


def load_sequences(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read one split written by :func:`pad_reviews`.

    Returns:
        ``(x, y, review_ids)``: ``x`` int32 of shape ``(rows, maxlen)``, ``y`` int8
        of shape ``(rows,)``.
    """
    table = pq.read_table(path)
    tokens = table.column("tokens").combine_chunks()
    maxlen = tokens.type.list_size
    x = tokens.flatten().to_numpy(zero_copy_only=False).astype(np.int32).reshape(-1, maxlen)
    y = table.column("label").to_numpy().astype(np.int8)
    return x, y, table.column("review_id").to_pylist()


def pad_reviews(
    reviews: pd.DataFrame,
    text: TextConfig,
    validation_fraction: float,
    seed: int,
    output_dir: Path,
) -> dict:
    """Tokenize, split, fit the vocabulary, pad and write every split as Parquet.

    When ``reviews`` has a ``token_ids`` column with values (the ``npz`` source),
    those ids are padded as they are, ids of ``num_words`` or more becoming the
    out-of-vocabulary id, and the text is not tokenized.

    Returns:
        The ``dataset.json`` document, which also serves as the stage's descriptor.
    """
    reviews = reviews.reset_index(drop=True)
    uses_token_ids = "token_ids" in reviews and bool(reviews["token_ids"].notna().any())
    if uses_token_ids:
        units = [_capped_ids(ids, text.num_words) for ids in reviews["token_ids"]]
        empty = np.array([all(i in (PADDING_ID, START_ID) for i in ids) for ids in units], dtype=bool)
    else:
        units = [tokenize(review) for review in reviews["text"].fillna("")]
        empty = np.array([len(tokens) == 0 for tokens in units], dtype=bool)
    set_aside = reviews.loc[empty, ["review_id", "split"]].assign(reason=EMPTY_AFTER_CLEANING)

    kept = reviews.loc[~empty].reset_index(drop=True)
    kept_units = [unit for unit, is_empty in zip(units, empty) if not is_empty]
    # Copies of one review, equal after cleaning, stay on one side of the split.
    duplicate_keys = np.array([" ".join(map(str, unit)) for unit in kept_units], dtype=object)
    split_rows = _assign_splits(kept, validation_fraction, seed, duplicate_keys)

    if uses_token_ids:
        vocabulary = Vocabulary(num_words=text.num_words, word_index={}, word_counts={})
        storage.write_json(output_dir / "vocabulary.json", {**vocabulary.to_json(), "ids_from": "token_ids"})
        kept_sequences = kept_units
    else:
        vocabulary = Vocabulary.fit((kept_units[i] for i in split_rows["train"]), text.num_words)
        storage.write_json(output_dir / "vocabulary.json", {**vocabulary.to_json(), "ids_from": "text"})
        kept_sequences = [vocabulary.encode(tokens) for tokens in kept_units]

    rows: dict[str, int] = {}
    positive_share: dict[str, float | None] = {}
    truncated_count = 0
    token_count = 0
    oov_count = 0
    for split, positions in split_rows.items():
        sequences = [kept_sequences[i] for i in positions]
        labels = kept["label"].to_numpy()[positions].astype(np.int8)
        padded = pad_sequences(sequences, text.maxlen, text.padding, text.truncating)
        table = sequences_table(kept["review_id"].iloc[positions], labels, padded, text)
        storage.write_parquet(output_dir / f"{split}.parquet", table)

        rows[split] = len(positions)
        positive_share[split] = round(float(labels.mean()), 6) if len(labels) else None
        truncated_count += sum(len(sequence) > text.maxlen for sequence in sequences)
        # The start id of an imdb.npz row is not a word, so it does not count.
        token_count += sum(len(sequence) - sequence[:1].count(START_ID) for sequence in sequences)
        oov_count += sum(sequence.count(OOV_ID) for sequence in sequences)

    storage.write_parquet(
        output_dir / "set_aside.parquet", pa.Table.from_pandas(set_aside, preserve_index=False)
    )
    total = sum(rows.values())
    dataset = {
        **text.model_dump(),
        "text_available": not uses_token_ids,
        # Word ids from an imdb.npz may use every id below num_words.
        "vocabulary_size": text.num_words if uses_token_ids else len(vocabulary.word_index) + 3,
        "rows": rows,
        "positive_share": positive_share,
        "empty_after_cleaning": int(empty.sum()),
        "truncated_count": int(truncated_count),
        "truncated_share": round(truncated_count / total, 6) if total else 0.0,
        "oov_rate": round(oov_count / token_count, 6) if token_count else 0.0,
        "validation_fraction": validation_fraction,
        "seed": seed,
    }
    storage.write_json(output_dir / "dataset.json", dataset)
    logger.info(
        "padded %d sequences to maxlen=%d (train %d, validation %d, test %d); %d truncated, "
        "%d set aside as empty after cleaning, out-of-vocabulary rate %.3f",
        total,
        text.maxlen,
        rows["train"],
        rows["validation"],
        rows["test"],
        truncated_count,
        dataset["empty_after_cleaning"],
        dataset["oov_rate"],
    )
    return dataset


def _capped_ids(ids: object, num_words: int) -> list[int]:
    if ids is None or (isinstance(ids, float) and np.isnan(ids)):
        return []
    return [int(i) if 0 <= i < num_words else OOV_ID for i in ids]


def _assign_splits(
    reviews: pd.DataFrame, validation_fraction: float, seed: int, groups: np.ndarray
) -> dict[str, np.ndarray]:
    is_train = (reviews["split"] == "train").to_numpy()
    train_positions = np.flatnonzero(is_train)
    test_positions = np.flatnonzero(~is_train)

    labels = reviews["label"].to_numpy()[train_positions]
    train, validation = stratified_split(labels, validation_fraction, seed, groups[train_positions])
    return {
        "train": train_positions[train],
        "validation": train_positions[validation],
        "test": test_positions,
    }
