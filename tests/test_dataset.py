import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from rnnpipe.config import TextConfig
from rnnpipe.dataset import load_sequences, pad_reviews, stratified_split
from rnnpipe.vocabulary import Vocabulary


def reviews_from_csv(path) -> pd.DataFrame:
    # keep_default_na=False keeps blank and whitespace-only texts as written.
    frame = pd.read_csv(path, keep_default_na=False, dtype={"text": "string"})
    return pd.DataFrame(
        {
            "review_id": [f"row-{index}" for index in range(len(frame))],
            "text": frame["text"],
            "label": frame["label"].astype("int8"),
            "split": "train",
        }
    )


def decoded_rows(output_dir) -> dict[str, list[str]]:
    vocabulary = Vocabulary.load(output_dir / "vocabulary.json")
    words = {index: word for word, index in vocabulary.word_index.items()}
    rows = {}
    for split in ("train", "validation"):
        x, _, review_ids = load_sequences(output_dir / f"{split}.parquet")
        rows.update({review_id: [words.get(int(i), f"<{int(i)}>") for i in row] for review_id, row in zip(review_ids, x)})
    return rows


def test_long_review_keeps_last_maxlen_words_by_default(cases, tmp_path):
    reviews = reviews_from_csv(cases / "long_review.csv")

    pad_reviews(reviews, TextConfig(num_words=1_000), 0.2, 0, tmp_path)
    rows = decoded_rows(tmp_path)

    assert rows["row-0"] == [f"word{n:04d}" for n in range(121, 621)]
    assert rows["row-1"] == ["<0>"] * 497 + ["word0001", "word0002", "word0003"]


def test_long_review_keeps_first_maxlen_words_with_post(cases, tmp_path):
    reviews = reviews_from_csv(cases / "long_review.csv")

    pad_reviews(reviews, TextConfig(num_words=1_000, truncating="post"), 0.2, 0, tmp_path)
    rows = decoded_rows(tmp_path)

    assert rows["row-0"] == [f"word{n:04d}" for n in range(1, 501)]
    assert rows["row-1"] == ["<0>"] * 497 + ["word0001", "word0002", "word0003"]


def test_long_review_counts_one_truncated(cases, tmp_path):
    dataset = pad_reviews(reviews_from_csv(cases / "long_review.csv"), TextConfig(), 0.2, 0, tmp_path)

    assert dataset["truncated_count"] == 1
    assert dataset["truncated_share"] == 0.5


def test_tokens_column_is_fixed_size_list(cases, tmp_path):
    pad_reviews(reviews_from_csv(cases / "long_review.csv"), TextConfig(maxlen=7), 0.2, 0, tmp_path)

    schema = pq.read_schema(tmp_path / "train.parquet")

    assert str(schema.field("tokens").type) == "fixed_size_list<element: int32>[7]"
    assert str(schema.field("label").type) == "int8"
    assert json.loads(schema.metadata[b"rnnpipe.text"])["maxlen"] == 7


def test_empty_reviews_are_set_aside_and_counted(cases, tmp_path):
    reviews = reviews_from_csv(cases / "empty_after_cleaning.csv")

    dataset = pad_reviews(reviews, TextConfig(num_words=100, maxlen=5), 0.2, 0, tmp_path)
    set_aside = pd.read_parquet(tmp_path / "set_aside.parquet")
    x, _, review_ids = load_sequences(tmp_path / "train.parquet")
    x_val, _, _ = load_sequences(tmp_path / "validation.parquet")

    assert dataset["empty_after_cleaning"] == 5
    assert sorted(set_aside["review_id"]) == ["row-0", "row-1", "row-2", "row-3", "row-4"]
    assert set(set_aside["reason"]) == {"empty after cleaning"}
    assert sorted(review_ids + load_sequences(tmp_path / "validation.parquet")[2]) == ["row-5", "row-6", "row-7"]
    assert not np.any(np.all(np.concatenate([x, x_val]) == 0, axis=1))


def test_review_of_unknown_words_is_not_empty(tmp_path):
    reviews = pd.DataFrame(
        {"review_id": ["a", "b"], "text": ["good film", "qzxv vxzq"], "label": [1, 0], "split": ["train", "test"]}
    )

    dataset = pad_reviews(reviews, TextConfig(num_words=100, maxlen=3), 0.2, 0, tmp_path)
    x_test, _, _ = load_sequences(tmp_path / "test.parquet")

    assert dataset["empty_after_cleaning"] == 0
    assert x_test.tolist() == [[0, 2, 2]]


def test_label_sorted_validation_split_is_stratified(cases, tmp_path):
    reviews = reviews_from_csv(cases / "label_sorted.csv")

    dataset = pad_reviews(reviews, TextConfig(num_words=100, maxlen=10), 0.2, 7, tmp_path)
    _, y_val, val_ids = load_sequences(tmp_path / "validation.parquet")
    _, y_train, train_ids = load_sequences(tmp_path / "train.parquet")

    assert int((y_val == 1).sum()) == 12
    assert int((y_val == 0).sum()) == 12
    assert set(val_ids).isdisjoint(train_ids)
    assert len(val_ids) + len(train_ids) == 120
    assert dataset["rows"] == {"train": 96, "validation": 24, "test": 0}


def test_copies_of_a_review_share_one_side(tmp_path):
    texts = [f"review number {index}" for index in range(40)]
    # Rows 0-9 repeat as rows 40-49, once with other markup and case.
    texts += [f"<i>Review</i> number {index}!" for index in range(10)]
    reviews = pd.DataFrame(
        {
            "review_id": [f"r{index}" for index in range(50)],
            "text": texts,
            "label": [index % 2 for index in range(40)] + [index % 2 for index in range(10)],
            "split": "train",
        }
    )

    pad_reviews(reviews, TextConfig(num_words=100, maxlen=4), 0.5, 0, tmp_path)
    _, _, train_ids = load_sequences(tmp_path / "train.parquet")
    _, _, validation_ids = load_sequences(tmp_path / "validation.parquet")

    for index in range(10):
        pair = {f"r{index}", f"r{index + 40}"}
        assert pair <= set(train_ids) or pair <= set(validation_ids), pair
    assert len(train_ids) + len(validation_ids) == 50


def test_split_groups_count_once():
    labels = np.array([1, 1, 1, 0, 0, 0])
    groups = np.array(["a", "a", "b", "c", "d", "e"])

    train, validation = stratified_split(labels, 0.5, seed=1, groups=groups)

    assert sorted(train.tolist() + validation.tolist()) == [0, 1, 2, 3, 4, 5]
    assert ({0, 1} <= set(train.tolist())) or ({0, 1} <= set(validation.tolist()))


def test_tiny_split_keeps_one_validation_row():
    train, validation = stratified_split(np.array([1, 0]), 0.2, seed=0)

    assert len(validation) == 1
    assert len(train) == 1
    assert set(train.tolist()) | set(validation.tolist()) == {0, 1}


def test_single_row_stays_in_training():
    train, validation = stratified_split(np.array([1]), 0.2, seed=0)

    assert train.tolist() == [0]
    assert validation.tolist() == []


def test_stratified_split_depends_only_on_seed():
    labels = np.array([1] * 60 + [0] * 60)

    first = stratified_split(labels, 0.2, seed=3)
    second = stratified_split(labels, 0.2, seed=3)
    other = stratified_split(labels, 0.2, seed=4)

    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(np.sort(first[1]), np.sort(other[1]))


def test_vocabulary_is_fitted_on_training_rows_only(tmp_path):
    reviews = pd.DataFrame(
        {
            "review_id": ["a", "b", "c", "d", "e"],
            "text": ["good film", "bad film", "great film", "poor film", "unseen words only"],
            "label": [1, 0, 1, 0, 1],
            "split": ["train", "train", "train", "train", "test"],
        }
    )

    pad_reviews(reviews, TextConfig(num_words=100, maxlen=3), 0.5, 0, tmp_path)
    vocabulary = Vocabulary.load(tmp_path / "vocabulary.json")
    _, _, train_ids = load_sequences(tmp_path / "train.parquet")
    texts = dict(zip(reviews["review_id"], reviews["text"]))

    assert len(train_ids) == 2
    assert set(vocabulary.word_index) == {word for review_id in train_ids for word in texts[review_id].split()}
    assert vocabulary.word_index["film"] == 3
