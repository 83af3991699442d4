"""The word-to-id vocabulary, following the Keras IMDB id convention.

Reserved ids: 0 is padding, 1 is the start marker that Keras' ``imdb.npz``
sequences begin with, 2 is an out-of-vocabulary word. Words take ids
3 to ``num_words - 1`` by descending frequency in the training split, so an
Embedding layer over these ids needs ``input_dim=num_words``.

rnnpipe does not prepend the start marker to sequences built from text, so
``maxlen`` counts words only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rnnpipe import storage

logger = logging.getLogger(__name__)

PADDING_ID = 0
START_ID = 1
OOV_ID = 2
FIRST_WORD_ID = 3


@dataclass(frozen=True)
class Vocabulary:
    """Word ids by descending training frequency; ties are broken alphabetically."""

    num_words: int
    word_index: dict[str, int]
    word_counts: dict[str, int]

    @classmethod
    def fit(cls, token_lists: Iterable[list[str]], num_words: int) -> Vocabulary:
        """Count words over ``token_lists`` and keep the ``num_words - 3`` most frequent."""
        if num_words <= FIRST_WORD_ID:
            raise ValueError(
                f"num_words must be greater than {FIRST_WORD_ID} to leave room for a word "
                f"after the reserved ids 0, 1 and 2. Received: num_words={num_words}"
            )

        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)

        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = ranked[: num_words - FIRST_WORD_ID]
        word_index = {word: FIRST_WORD_ID + rank for rank, (word, _) in enumerate(kept)}
        logger.info(
            "fitted vocabulary: %d distinct training words, %d kept with num_words=%d",
            len(counts),
            len(word_index),
            num_words,
        )
        return cls(num_words=num_words, word_index=word_index, word_counts=dict(kept))

    def encode(self, tokens: list[str]) -> list[int]:
        """Map tokens to ids; a word outside the vocabulary becomes ``OOV_ID``."""
        return [self.word_index.get(token, OOV_ID) for token in tokens]

    def to_json(self) -> dict:
        return {
            "num_words": self.num_words,
            "reserved_ids": {"padding": PADDING_ID, "start": START_ID, "oov": OOV_ID},
            "embedding_input_dim": self.num_words,
            "words": [
                {"word": word, "id": index, "count": self.word_counts[word]}
                for word, index in self.word_index.items()
            ],
        }

    @classmethod
    def from_json(cls, document: dict) -> Vocabulary:
        words = document["words"]
        return cls(
            num_words=document["num_words"],
            word_index={entry["word"]: entry["id"] for entry in words},
            word_counts={entry["word"]: entry["count"] for entry in words},
        )

    def save(self, path: Path) -> Path:
        return storage.write_json(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls.from_json(storage.read_json(path))
