"""One label rule for every source, and the table of rejected rows.

A label is accepted when it equals 0 or 1: the integers and floats 0 and 1,
``True`` and ``False``, and strings such as ``"1"``, ``"0.0"`` or ``" 1 "``
(whitespace is stripped). A word such as ``"pos"`` is accepted only when
``data.label_map`` maps it, compared without case and surrounding whitespace.
Every other value is rejected with one of the reasons below, row by row, and the
row goes to ``rejected.parquet`` instead of the reviews table.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

MISSING_LABEL = "missing label"
LABEL_OUT_OF_RANGE = "number other than 0 or 1"
UNMAPPED_LABEL_WORD = "word not in data.label_map"

# The strings that pandas reads as a missing value by default, except the empty
# string, which a strip already turns into "".
MISSING_WORDS = frozenset(
    {"nan", "-nan", "na", "n/a", "<na>", "#n/a", "#na", "null", "none", "-1.#ind", "1.#qnan"}
)

# One row per rejected field of a source row. ``source_row`` locates the row in
# the source ("row 7" of a file, "train/pos/1_8.txt" of an aclImdb folder), and
# ``text`` and ``token_ids`` keep the review itself, so nothing read is lost.
REJECTED_COLUMNS = ["review_id", "source_row", "field", "value", "reason", "text", "token_ids"]


class LabelError(ValueError):
    """A label value that is not 0 or 1; ``str(error)`` is the reason."""


def normalize_label_map(label_map: Mapping[str, int] | None) -> dict[str, int]:
    """Return ``label_map`` with keys stripped and lower-cased."""
    return {str(word).strip().lower(): int(label) for word, label in (label_map or {}).items()}


def normalize_label(value: object, label_map: Mapping[str, int] | None = None) -> int:
    """Return the 0/1 label that ``value`` spells.

    Args:
        value: a raw label as the source stores it: ``str``, ``int``, ``float``,
            ``bool``, a NumPy scalar or a missing value (``None``, NaN, ``pd.NA``).
        label_map: words to labels, with keys already passed through
            :func:`normalize_label_map`.

    Raises:
        LabelError: with ``MISSING_LABEL``, ``LABEL_OUT_OF_RANGE`` or
            ``UNMAPPED_LABEL_WORD`` as its message.
    """
    if value is None or value is pd.NA:
        raise LabelError(MISSING_LABEL)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Number):
        return _label_from_number(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise LabelError(UNMAPPED_LABEL_WORD)

    word = value.strip().lower()
    if word == "" or word in MISSING_WORDS:
        raise LabelError(MISSING_LABEL)
    if label_map and word in label_map:
        return label_map[word]
    try:
        number = float(word)
    except ValueError:
        raise LabelError(UNMAPPED_LABEL_WORD) from None
    return _label_from_number(number)


def _label_from_number(number: numbers.Number) -> int:
    if isinstance(number, numbers.Real) and math.isnan(number):
        raise LabelError(MISSING_LABEL)
    if number == 1:
        return 1
    if number == 0:
        return 0
    raise LabelError(LABEL_OUT_OF_RANGE)


def normalize_labels(
    values: pd.Series, label_map: Mapping[str, int] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Apply :func:`normalize_label` to every value.

    Returns:
        ``(labels, reasons)`` with the index of ``values``: ``labels`` is a
        nullable ``Int8`` series, null where the value was rejected, and
        ``reasons`` a nullable string series, null where it was accepted.
    """
    label_map = normalize_label_map(label_map)
    labels: list[int | None] = []
    reasons: list[str | None] = []
    for value in values.tolist():
        try:
            labels.append(normalize_label(value, label_map))
            reasons.append(None)
        except LabelError as error:
            labels.append(None)
            reasons.append(str(error))
    return (
        pd.Series(labels, index=values.index, dtype="Int8"),
        pd.Series(reasons, index=values.index, dtype="string"),
    )


def describe_value(value: object) -> str | None:
    """Return a raw value as the text ``rejected.parquet`` stores; ``None`` when missing."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value if isinstance(value, str) else repr(value)


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame(
        {column: pd.Series(dtype=object if column == "token_ids" else "string") for column in REJECTED_COLUMNS}
    )


def count_reasons(rejected: pd.DataFrame) -> dict[str, int]:
    """Count rejected rows per ``"field: reason"``, most frequent first."""
    keys = rejected["field"].astype(str) + ": " + rejected["reason"].astype(str)
    return {str(key): int(count) for key, count in keys.value_counts().items()}


def describe_rejections(
    rejected: pd.DataFrame,
    row_count: int,
    max_rejected_share: float,
    source_name: str,
    rejected_path: str,
    max_examples: int = 3,
) -> str:
    """Describe the rejected rows for the gate's message: the counts per reason, with examples.

    Args:
        rejected: the rejected rows, with the columns of ``REJECTED_COLUMNS``.
        row_count: rows read from the source, rejected ones included.
        max_rejected_share: the setting that was exceeded.
        source_name: the source and its path, as the message names them.
        rejected_path: where the rejected rows were written.
    """
    rejected_rows = rejected["review_id"].nunique()
    share = rejected_rows / row_count if row_count else 1.0
    lines = [
        f"{rejected_rows:,} of {row_count:,} rows ({share:.1%}) of {source_name} were "
        f"rejected, more than data.max_rejected_share={max_rejected_share} allows:"
    ]
    for (field, reason), group in rejected.groupby(["field", "reason"], sort=False):
        examples = ", ".join(
            f"{row} ({'null' if value is None or value is pd.NA else repr(value)})"
            for row, value in zip(group["source_row"].head(max_examples), group["value"].head(max_examples))
        )
        more = f" and {len(group) - max_examples:,} more" if len(group) > max_examples else ""
        lines.append(f"  - {field}: {reason}: {len(group):,} rows, e.g. {examples}{more}")
    lines.append(
        f"The rejected rows are kept in {rejected_path}. Correct those values, map label "
        "words to 0/1 with data.label_map, or raise data.max_rejected_share."
    )
    return "\n".join(lines)
