"""Padding and truncating id sequences to one length, as Keras' ``pad_sequences`` does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from rnnpipe.vocabulary import PADDING_ID

End = Literal["pre", "post"]


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    maxlen: int,
    padding: End = "pre",
    truncating: End = "pre",
) -> np.ndarray:
    """Pad or truncate every sequence to exactly ``maxlen`` ids.

    Args:
        sequences: token id lists of any lengths.
        maxlen: length of every output row.
        padding: ``"pre"`` puts the padding id in front of a short sequence,
            ``"post"`` after it.
        truncating: ``"pre"`` drops ids from the front of a long sequence, so
            the last ``maxlen`` ids are kept; ``"post"`` keeps the first ``maxlen``.

    Returns:
        int32 array of shape ``(len(sequences), maxlen)``.
    """
    if maxlen < 1:
        raise ValueError(f"maxlen must be at least 1. Received: maxlen={maxlen}")
    for name, value in (("padding", padding), ("truncating", truncating)):
        if value not in ("pre", "post"):
            raise ValueError(f"{name} must be 'pre' or 'post'. Received: {name}={value!r}")

    padded = np.full((len(sequences), maxlen), PADDING_ID, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        kept = sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
        if len(kept) == 0:
            continue
        if padding == "pre":
            padded[row, maxlen - len(kept) :] = kept
        else:
            padded[row, : len(kept)] = kept
    return padded
