"""The expectation suites of the validation gate and the helper columns they check.

Two suites run in each run:

- ``reviews`` checks the ingest stage's table before the pad stage.
- ``sequences`` checks the pad stage's Parquet files before training.

Some checks concern a relation between rows, such as a review that repeats an
earlier one. :func:`reviews_frame` and :func:`sequences_frame` compute such
relations as helper columns on a copy of the data, and the suites state every
check as a Great Expectations expectation over one column. So the unexpected
counts and examples in the results and the Data Docs come from Great Expectations.

Each expectation's ``meta`` contains its ``group`` (a field of
``rnnpipe.config.SeverityConfig``) and a ``hint`` that names the setting to
change. The group's severity becomes the expectation's own Great Expectations
``severity``: ``critical`` for "fail" and ``warning`` for "warn".
``meta["examples"] == "review_id"`` marks a check whose unexpected values mean
little alone, so its examples name the review.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rnnpipe.config import TextConfig, ValidationConfig
from rnnpipe.errors import RnnpipeError
from rnnpipe.text import tokenize
from rnnpipe.vocabulary import PADDING_ID, START_ID

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

REVIEW_COLUMNS = ("review_id", "text", "label", "split")
LABELS = (0, 1)
SPLITS = ("train", "test")
PADDED_SPLITS = ("train", "validation", "test")
PADDED_COLUMNS = ("review_id", "label", "tokens")

# Great Expectations' own failure severities for the gate's "fail" and "warn".
GX_SEVERITIES = {"fail": "critical", "warn": "warning"}

# Integer dtypes that pandas and Parquet give a label column without nulls.
_LABEL_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


class PaddedFileError(RnnpipeError, ValueError):
    """A padded split that is missing or lacks the columns the pad stage writes."""


def import_great_expectations() -> Any:
    """Import Great Expectations quietly and return the module."""
    # Great Expectations 1.24.1 has no usage-statistics module, but earlier 1.x
    # releases post events to PostHog unless this variable is false. setdefault
    # keeps a value the user has set.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

    # Importing Great Expectations 1.24.1 logs about 150 INFO lines from its docs
    # registry, which an application logging at INFO would print. A level that the
    # application has set on this logger is kept.
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)

    import great_expectations

    return great_expectations


# --- the reviews suite --------------------------------------------------------


def source_rows_frame(rows_read: int, rejected_rows: int) -> pd.DataFrame:
    """Build one row per source row with ``rejected`` 1 for a row that ingest rejected.

    The mean of ``rejected`` is the rejected share, which the ``rejected`` group checks.
    Row order carries no meaning here: ``rejected.parquet`` names the rows.
    """
    rejected = np.zeros(max(rows_read, rejected_rows), dtype=np.int8)
    rejected[:rejected_rows] = 1
    return pd.DataFrame({"rejected": rejected})


def source_rows_expectations(
    config: ValidationConfig, max_rejected_share: float, rejection_summary: str | None
) -> list[Expectation]:
    """Build the expectation that the rejected share stays within ``data.max_rejected_share``."""
    gxe = import_great_expectations().expectations
    hint = rejection_summary or "raise data.max_rejected_share or correct the rejected rows"
    return [
        gxe.ExpectColumnMeanToBeBetween(
            column="rejected",
            min_value=0.0,
            max_value=max_rejected_share,
            **_tags("rejected", config, hint=hint),
        )
    ]


def reviews_expectations(config: ValidationConfig, has_token_ids: bool = False) -> list[Expectation]:
    """Build the reviews suite's expectations, in the order reports list them.

    Args:
        config: thresholds and the severity of each group.
        has_token_ids: whether the table has a ``token_ids`` column. Rows with
            token ids (from a Keras ``imdb.npz``) have no text, so the check that
            text is not null skips them.
    """
    return [
        *_column_expectations(config),
        *_value_expectations(config),
        *_size_and_balance_expectations(config),
        *_empty_expectations(config, has_token_ids),
        *_duplicate_expectations(config),
        *_overlap_expectations(config),
    ]


def reviews_frame(reviews: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``reviews`` with the helper columns that the reviews suite checks.

    The helper columns, computed only when the columns they derive from exist:

    - ``normalized_text`` (str): the tokens of :func:`rnnpipe.text.tokenize`
      joined by spaces. For a row with ``token_ids`` and no text it is the ids
      without padding and start markers, joined by spaces.
    - ``token_count`` (int): the number of those tokens.
    - ``exact_duplicate_of`` (str or null): for a review whose text equals an
      earlier review's text in the same split, that earlier review's id.
    - ``normalized_duplicate_of`` (str or null): the same for ``normalized_text``,
      so it also covers exact duplicates.
    - ``same_text_in_train`` (str or null): for a test review, the id of a
      training review with the same ``normalized_text``.

    Reviews with no tokens take no part in the duplicate and overlap columns,
    because the ``empty`` expectations count them.
    """
    frame = reviews.copy()
    if "text" not in frame.columns:
        return frame

    token_lists = [_review_tokens(text, ids) for text, ids in zip(frame["text"], _token_ids_or_none(frame))]
    frame["normalized_text"] = pd.array([" ".join(tokens) for tokens in token_lists], dtype="str")
    frame["token_count"] = np.array([len(tokens) for tokens in token_lists], dtype=np.int64)
    if "split" not in frame.columns:
        return frame

    has_tokens = frame["token_count"] > 0
    names = _row_names(frame)
    frame["exact_duplicate_of"] = _earlier_copy(frame, "text", has_tokens & frame["text"].notna(), names)
    frame["normalized_duplicate_of"] = _earlier_copy(frame, "normalized_text", has_tokens, names)
    frame["same_text_in_train"] = _training_copy(frame, has_tokens, names)
    return frame


def _column_expectations(config: ValidationConfig) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    tags = _tags("columns", config)
    # exact_match=False lets extra columns such as rating and token_ids pass, so
    # only a missing column fails here. type_="str" accepts the object, string
    # and str dtypes of pandas 3 and checks each value of an object column.
    return [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(REVIEW_COLUMNS), exact_match=False, **tags),
        gxe.ExpectColumnValuesToBeOfType(column="review_id", type_="str", **tags),
        gxe.ExpectColumnValuesToBeOfType(column="text", type_="str", **tags),
        gxe.ExpectColumnValuesToBeInTypeList(column="label", type_list=_LABEL_DTYPES, **tags),
        gxe.ExpectColumnValuesToBeOfType(column="split", type_="str", **tags),
    ]


def _value_expectations(config: ValidationConfig) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    tags = _tags("values", config)
    return [
        gxe.ExpectColumnValuesToBeUnique(column="review_id", **tags),
        gxe.ExpectColumnValuesToNotBeNull(column="review_id", **tags),
        gxe.ExpectColumnValuesToNotBeNull(column="label", **tags),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(LABELS), **tags),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS), **tags),
    ]


def _size_and_balance_expectations(config: ValidationConfig) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=config.min_rows,
            **_tags("size", config, hint="set validation.min_rows to lower it"),
        ),
        gxe.ExpectColumnMeanToBeBetween(
            column="label",
            min_value=config.min_positive_share,
            max_value=config.max_positive_share,
            **_tags(
                "balance",
                config,
                hint="the mean of label is the share of positive reviews; set "
                "validation.min_positive_share and validation.max_positive_share to change the range",
            ),
        ),
    ]


def _empty_expectations(config: ValidationConfig, has_token_ids: bool) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    from great_expectations.expectations.row_conditions import Column

    mostly = 1.0 - config.max_empty_share
    hint = (
        "the pad stage sets these reviews aside; set validation.max_empty_share to allow "
        "more, or validation.severity.empty"
    )
    # A row_condition keeps the check a plain Great Expectations one, and the
    # Data Docs show the condition beside it.
    text_condition = {"row_condition": Column("token_ids").is_null()} if has_token_ids else {}
    return [
        gxe.ExpectColumnValuesToNotBeNull(
            column="text",
            mostly=mostly,
            **_tags("empty", config, hint=hint, examples="review_id"),
            **text_condition,
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="token_count",
            min_value=1,
            mostly=mostly,
            description="Every review has at least one token after cleaning (tags removed, "
            f"entities decoded, punctuation dropped){_share_clause(mostly, 'reviews')}.",
            **_tags("empty", config, hint=hint, examples="review_id"),
        ),
    ]


def _duplicate_expectations(config: ValidationConfig) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    mostly = 1.0 - config.max_duplicate_share
    hint = "set validation.max_duplicate_share to allow more, or validation.severity.duplicates"
    return [
        gxe.ExpectColumnValuesToBeNull(
            column="exact_duplicate_of",
            mostly=mostly,
            description="No review repeats the text of an earlier review in the same split"
            f"{_share_clause(mostly, 'reviews')}. exact_duplicate_of is the earlier review's id.",
            **_tags("duplicates", config, hint=hint, examples="review_id"),
        ),
        gxe.ExpectColumnValuesToBeNull(
            column="normalized_duplicate_of",
            mostly=mostly,
            description="No review repeats an earlier review of the same split after cleaning "
            f"and tokenizing{_share_clause(mostly, 'reviews')}. normalized_duplicate_of is the "
            "earlier review's id.",
            **_tags("duplicates", config, hint=hint, examples="review_id"),
        ),
    ]


def _overlap_expectations(config: ValidationConfig) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    from great_expectations.expectations.row_conditions import Column

    mostly = 1.0 - config.max_overlap_share
    return [
        gxe.ExpectColumnValuesToBeNull(
            column="same_text_in_train",
            mostly=mostly,
            row_condition=Column("split") == "test",
            description="No test review has the cleaned text of a training review"
            f"{_share_clause(mostly, 'test reviews')}. same_text_in_train is the training "
            "review's id.",
            **_tags(
                "overlap",
                config,
                hint="a test review that is also a training review makes test accuracy "
                "meaningless; remove it from one split, or set validation.max_overlap_share",
                examples="review_id",
            ),
        ),
    ]


def _review_tokens(text: Any, token_ids: Any) -> list[str]:
    if isinstance(text, str):
        return tokenize(text)
    if token_ids is None or (np.ndim(token_ids) == 0 and pd.isna(token_ids)):
        return []
    return [str(int(token_id)) for token_id in token_ids if token_id not in (PADDING_ID, START_ID)]


def _token_ids_or_none(frame: pd.DataFrame) -> list:
    if "token_ids" in frame.columns:
        return frame["token_ids"].tolist()
    return [None] * len(frame)


def _row_names(frame: pd.DataFrame) -> pd.Series:
    # A null review_id fails the values group. Naming such a row by its position
    # keeps it countable as a duplicate.
    positions = pd.Series(
        [f"row {position}" for position in range(len(frame))], index=frame.index, dtype="str"
    )
    if "review_id" not in frame.columns:
        return positions
    return frame["review_id"].astype("str").where(frame["review_id"].notna(), positions)


def _earlier_copy(frame: pd.DataFrame, column: str, eligible: pd.Series, names: pd.Series) -> pd.Series:
    """Name, for each eligible row, the first earlier row of its split with the same ``column``."""
    keys = frame.loc[eligible, ["split", column]]
    groups = names[eligible].groupby([keys["split"], keys[column]], sort=False, dropna=False)
    first_names = groups.transform("first")
    repeats = keys.duplicated(keep="first")

    result = pd.Series(None, index=frame.index, dtype="str")
    result[repeats.index[repeats]] = first_names[repeats]
    return result


def _training_copy(frame: pd.DataFrame, eligible: pd.Series, names: pd.Series) -> pd.Series:
    """Name, for each eligible test row, a training row with the same ``normalized_text``."""
    is_train = eligible & (frame["split"] == "train")
    is_test = eligible & (frame["split"] == "test")
    training_names = (
        pd.DataFrame({"key": frame.loc[is_train, "normalized_text"], "name": names[is_train]})
        .drop_duplicates("key", keep="first")
        .set_index("key")["name"]
    )

    result = pd.Series(None, index=frame.index, dtype="str")
    result[is_test] = frame.loc[is_test, "normalized_text"].map(training_names)
    return result


# --- the sequences suite ------------------------------------------------------


def sequences_expectations(
    text: TextConfig,
    validation_fraction: float,
    config: ValidationConfig,
    train_positive_share: float | None,
) -> list[Expectation]:
    """Build the sequences suite's expectations, in the order reports list them.

    Args:
        text: ``maxlen`` and ``num_words`` that every padded row must respect.
        validation_fraction: the share of the training reviews that the pad
            stage was asked to hold out for validation.
        config: the split share tolerance and the severity of each group.
        train_positive_share: the training split's share of positive labels,
            which the validation split's share must match. None when the
            training split has no rows, and then any validation share passes
            while the check that both splits have rows fails.
    """
    return [
        *_sequence_expectations(text, config),
        *_split_expectations(validation_fraction, config, train_positive_share),
    ]


def sequences_frame(padded_dir: Path) -> pd.DataFrame:
    """Read the padded splits into one frame with the helper columns that the sequences suite checks.

    The frame has one row per padded sequence and these columns:

    - ``review_id``, ``label`` and ``split`` (train, validation or test);
    - ``sequence_length``, ``min_token_id``, ``max_token_id`` and
      ``non_padding_tokens``; the smallest and largest id of an empty row are 0;
    - ``validation_label``: the label of a validation row, else null;
    - ``in_validation_split``: 1.0 for validation, 0.0 for training and null
      for test rows.

    A null id inside a sequence counts as -1, so the id range check reports it.

    Raises:
        PaddedFileError: when a split's file is missing or lacks one of the
            columns ``review_id``, ``label`` and ``tokens``, or ``tokens`` is not a
            list column.
    """
    parts = [_split_frame(Path(padded_dir) / f"{split}.parquet", split) for split in PADDED_SPLITS]
    frame = pd.concat(parts, ignore_index=True)

    is_validation = frame["split"] == "validation"
    is_train = frame["split"] == "train"
    frame["validation_label"] = frame["label"].astype("float64").where(is_validation)
    frame["in_validation_split"] = is_validation.astype("float64").where(is_validation | is_train)
    return frame


def _sequence_expectations(text: TextConfig, config: ValidationConfig) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    hint = "the padded files do not match text.maxlen and text.num_words; rerun the pad stage"
    tags = _tags("sequences", config, hint=hint, examples="review_id")
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="sequence_length",
            min_value=text.maxlen,
            max_value=text.maxlen,
            description=f"Every padded sequence has exactly maxlen={text.maxlen:,} ids.",
            **tags,
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="min_token_id",
            min_value=0,
            description="No padded sequence has an id below 0 (0 is padding) or a null id.",
            **tags,
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="max_token_id",
            max_value=text.num_words - 1,
            description=f"No padded sequence has an id of num_words={text.num_words:,} or "
            "more, which the Embedding layer cannot look up.",
            **tags,
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="non_padding_tokens",
            min_value=1,
            description="No padded sequence is all padding.",
            **tags,
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="label", **_tags("sequences", config)),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(LABELS), **_tags("sequences", config)),
    ]


def _split_expectations(
    validation_fraction: float, config: ValidationConfig, train_positive_share: float | None
) -> list[Expectation]:
    gxe = import_great_expectations().expectations
    tolerance = config.split_share_tolerance
    tolerance_hint = "set validation.split_share_tolerance to allow a larger difference"
    if train_positive_share is None:
        positive_bounds = (0.0, 1.0)
    else:
        positive_bounds = (
            max(0.0, train_positive_share - tolerance),
            min(1.0, train_positive_share + tolerance),
        )
    return [
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split",
            value_set=["train", "validation"],
            **_tags("splits", config, hint="the training or validation split has no rows"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column="review_id",
            description="No review_id is in two padded splits, so validation and test rows "
            "are never trained on.",
            **_tags("splits", config, hint="a review is in more than one split; rerun the pad stage"),
        ),
        gxe.ExpectColumnMeanToBeBetween(
            column="in_validation_split",
            min_value=max(0.0, validation_fraction - tolerance),
            max_value=min(1.0, validation_fraction + tolerance),
            description="The validation split contains validation_fraction="
            f"{validation_fraction:g} of the training reviews, within {tolerance:g}.",
            **_tags("splits", config, hint=tolerance_hint),
        ),
        gxe.ExpectColumnMeanToBeBetween(
            column="validation_label",
            min_value=positive_bounds[0],
            max_value=positive_bounds[1],
            description="The validation split is stratified: its share of positive labels is "
            f"within {tolerance:g} of the training split's"
            + ("." if train_positive_share is None else f" ({train_positive_share:.4g})."),
            **_tags("splits", config, hint=tolerance_hint),
        ),
    ]


def _split_frame(path: Path, split: str) -> pd.DataFrame:
    if not path.is_file():
        raise PaddedFileError(
            f"The padded split {path} was not found. The pad stage writes train.parquet, "
            "validation.parquet and test.parquet; rerun it before validating the sequences."
        )
    table = pq.read_table(path)
    missing = [column for column in PADDED_COLUMNS if column not in table.column_names]
    if missing:
        raise PaddedFileError(
            f"The padded split {path} has no column {', '.join(missing)}. Expected the columns "
            f"{', '.join(PADDED_COLUMNS)} that the pad stage writes; rerun it."
        )
    tokens = table.column("tokens")
    list_types = (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)
    if not any(is_list_type(tokens.type) for is_list_type in list_types):
        raise PaddedFileError(
            f"The column tokens of {path} has the type {tokens.type}, expected a list of "
            "integer ids as the pad stage writes it; rerun the pad stage."
        )

    frame = pd.DataFrame(
        {
            "review_id": table.column("review_id").to_pandas(),
            "label": table.column("label").to_pandas(),
            "split": pd.array([split] * table.num_rows, dtype="str"),
        }
    )
    for name, values in _token_statistics(tokens).items():
        frame[name] = values
    return frame


def _token_statistics(tokens: pa.ChunkedArray) -> dict[str, np.ndarray]:
    """Compute per-row length, smallest and largest id and non-padding count of a list column."""
    # A null list has length 0, and list_flatten skips it, so the offsets below
    # stay aligned with the flattened values.
    lengths = pc.fill_null(pc.list_value_length(tokens), 0).to_numpy().astype(np.int64)
    values = pc.fill_null(pc.list_flatten(tokens), -1).to_numpy().astype(np.int64)

    rows = len(lengths)
    statistics = {
        "sequence_length": lengths,
        "min_token_id": np.zeros(rows, dtype=np.int64),
        "max_token_id": np.zeros(rows, dtype=np.int64),
        "non_padding_tokens": np.zeros(rows, dtype=np.int64),
    }
    filled = lengths > 0
    if not filled.any():
        return statistics

    # reduceat reduces values[start_i:start_i+1] for each filled row, and the
    # starts of filled rows strictly increase because empty rows add no values.
    starts = (np.cumsum(lengths) - lengths)[filled]
    statistics["min_token_id"][filled] = np.minimum.reduceat(values, starts)
    statistics["max_token_id"][filled] = np.maximum.reduceat(values, starts)
    is_word = (values != PADDING_ID).astype(np.int64)
    statistics["non_padding_tokens"][filled] = np.add.reduceat(is_word, starts)
    return statistics


# --- shared helpers -----------------------------------------------------------


def _tags(group: str, config: ValidationConfig, hint: str | None = None, examples: str | None = None) -> dict:
    """Return the ``severity`` and ``meta`` keyword arguments of an expectation in ``group``."""
    meta = {"group": group}
    if hint:
        meta["hint"] = hint
    if examples:
        meta["examples"] = examples
    return {"severity": GX_SEVERITIES[getattr(config.severity, group)], "meta": meta}


def _share_clause(mostly: float, rows: str) -> str:
    """Return the clause that states a ``mostly`` below 1, or nothing."""
    if mostly >= 1.0:
        return ""
    return f", in at least {mostly * 100:.4g} % of the {rows}"
