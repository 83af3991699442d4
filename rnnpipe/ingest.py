"""The ingest stage: read the configured source and write ``reviews.parquet``."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa

from rnnpipe import storage
from rnnpipe.config import DataConfig
from rnnpipe.sources import REVIEW_COLUMNS, read_movie_reviews

logger = logging.getLogger(__name__)

REVIEWS_SCHEMA = pa.schema(
    [
        pa.field("review_id", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("label", pa.int8()),
        pa.field("split", pa.string(), nullable=False),
    ]
)


def read_source(config: DataConfig) -> pd.DataFrame:
    """Read the reviews of the configured source into the reviews table."""
    # Only one source kind exists so far; the Literal type of `source` rejects others.
    return read_movie_reviews()


def sample_reviews(reviews: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """Keep a seeded random sample of ``limit`` reviews, in their original order."""
    if limit is None or limit >= len(reviews):
        return reviews
    return reviews.sample(n=limit, random_state=seed).sort_index().reset_index(drop=True)


def ingest(config: DataConfig, seed: int, output_path: Path) -> dict:
    """Write the reviews of the configured source to ``output_path`` as Parquet.

    Returns:
        A descriptor with the path, the row count per split and the positive count.
    """
    reviews = sample_reviews(read_source(config), config.limit, seed)
    table = pa.Table.from_pandas(reviews[REVIEW_COLUMNS], schema=REVIEWS_SCHEMA, preserve_index=False)
    storage.write_parquet(output_path, table)

    rows = reviews["split"].value_counts().to_dict()
    descriptor = {
        "path": str(output_path),
        "source": config.source,
        "rows": int(len(reviews)),
        "rows_per_split": {str(split): int(count) for split, count in rows.items()},
        "positive": int(reviews["label"].sum()),
    }
    logger.info(
        "ingested %d reviews from %s (%s)",
        descriptor["rows"],
        config.source,
        ", ".join(f"{split}: {count}" for split, count in descriptor["rows_per_split"].items()),
    )
    return descriptor


def read_reviews(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)
