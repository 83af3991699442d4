"""The data validation gate, built on Great Expectations 1.x.

``validate_reviews`` runs the ``reviews`` suite over the ingest stage's table, and
``validate_sequences`` runs the ``sequences`` suite over the pad stage's Parquet
files. ``rnnpipe.suites`` defines both suites. Each call validates in an in-memory
Great Expectations context and writes the validation result as JSON and as Data
Docs HTML into the output folder. A failed expectation whose group has the
severity ``warn`` is logged as a warning. Any other failed expectation raises
``DataValidationError``, so the run stops before training.

Great Expectations is imported on the first call, not with this module, because
importing it takes about 3 seconds.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from rnnpipe.config import TextConfig, ValidationConfig
from rnnpipe.errors import RnnpipeError
from rnnpipe.storage import write_json
from rnnpipe.suites import (
    PaddedFileError,
    import_great_expectations,
    reviews_expectations,
    reviews_frame,
    sequences_expectations,
    sequences_frame,
    source_rows_expectations,
    source_rows_frame,
)
from rnnpipe.validation_results import (
    describe_failure,
    describe_failures,
    entries_in_suite_order,
    entry_severity,
    render_validation_markdown,
    summarize_result,
)

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.expectations import Expectation

__all__ = [
    "DataValidationError",
    "PaddedFileError",
    "render_validation_markdown",
    "result_file_name",
    "reviews_expectations",
    "sequences_expectations",
    "validate_reviews",
    "validate_sequences",
]

logger = logging.getLogger(__name__)

DATA_DOCS_FOLDER = "data_docs"

# Great Expectations keeps this many unexpected values per expectation. It is more
# than the 3 examples a summary shows, so that distinct examples remain when one
# duplicated review_id fills the first slots.
_PARTIAL_UNEXPECTED_COUNT = 20

_DATA_DOCS_SITE_NAME = "local_site"


class DataValidationError(RnnpipeError, RuntimeError):
    """A failed expectation of the validation gate whose group has the severity ``fail``.

    ``str(error)`` names each failing expectation with its unexpected count and a
    few examples, and ``summary`` is the dict that the validate functions return
    on success.
    """

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary

    def __reduce__(self) -> tuple:
        # Prefect pickles a failed task's exception when it persists results. The
        # default reduce would call the class with the message alone and fail.
        return (type(self), (str(self), self.summary))


def result_file_name(suite_name: str) -> str:
    return f"{suite_name}_result.json"


def validate_reviews(reviews: pd.DataFrame, config: ValidationConfig, output_dir: Path) -> dict:
    """Validate the reviews table and write the result JSON and Data Docs.

    Args:
        reviews: the ingest stage's table with columns ``review_id`` (str), ``text``
            (str), ``label`` (int8, 0 or 1) and ``split`` ("train" or "test"), and
            optionally ``token_ids`` (lists of int) for rows without text.
        config: thresholds and the severity of each expectation group.
        output_dir: folder that receives ``reviews_result.json`` (the Great
            Expectations ``ExpectationSuiteValidationResult``) and
            ``data_docs/reviews/index.html``. Both are replaced if they exist.

    Returns:
        A JSON-serialisable summary with the keys ``suite``, ``success``,
        ``evaluated``, ``failed``, ``warned``, ``row_count``, ``data_docs``
        (``index.html`` relative to ``output_dir``) and ``expectations``. Each
        item of ``expectations`` has ``expectation``, ``column``, ``group``,
        ``severity``, ``outcome`` (pass, fail or warn), ``success``,
        ``unexpected_count``, ``examples`` (at most 3 distinct values, texts cut
        to 60 characters) and ``observed_value``, in suite order.

    Raises:
        DataValidationError: when an expectation of a ``fail`` group fails, after
            both files are written.
    """
    frame = reviews_frame(reviews)
    expectations = reviews_expectations(config, has_token_ids="token_ids" in reviews.columns)
    return _validate(frame, "reviews", expectations, Path(output_dir))


def validate_source_rows(
    rows_read: int,
    rejected_rows: int,
    max_rejected_share: float,
    rejection_summary: str | None,
    config: ValidationConfig,
    output_dir: Path,
) -> dict:
    """Check the share of source rows that ingest rejected, and write its result and Data Docs.

    Args:
        rows_read: rows read from the source, rejected ones included.
        rejected_rows: rows rejected for an invalid label or split.
        max_rejected_share: the highest accepted share, ``data.max_rejected_share``.
        rejection_summary: the counts per reason with examples, shown in the error.
        config: the severity of the ``rejected`` group.
        output_dir: folder that receives ``source_rows_result.json`` and
            ``data_docs/source_rows/index.html``.

    Raises:
        DataValidationError: when the share is higher and the group's severity is
            ``fail``, after both files are written.
    """
    frame = source_rows_frame(rows_read, rejected_rows)
    expectations = source_rows_expectations(config, max_rejected_share, rejection_summary)
    return _validate(frame, "source_rows", expectations, Path(output_dir))


def validate_sequences(
    padded_dir: Path,
    text: TextConfig,
    validation_fraction: float,
    config: ValidationConfig,
    output_dir: Path,
) -> dict:
    """Validate the padded splits and write the result JSON and Data Docs.

    Args:
        padded_dir: the pad stage's folder with ``train.parquet``,
            ``validation.parquet`` and ``test.parquet``.
        text: the ``maxlen`` and ``num_words`` the sequences must respect.
        validation_fraction: the share of training reviews the pad stage held out.
        config: the split share tolerance and the severity of each group.
        output_dir: folder that receives ``sequences_result.json`` and
            ``data_docs/sequences/index.html``. Both are replaced if they exist.

    Returns:
        The summary described in :func:`validate_reviews`, with ``suite`` set to
        ``"sequences"`` and ``row_count`` counting padded sequences.

    Raises:
        PaddedFileError: when a split's file is missing or lacks a column.
        DataValidationError: when an expectation of a ``fail`` group fails, after
            both files are written.
    """
    frame = sequences_frame(Path(padded_dir))
    train_labels = pd.to_numeric(frame.loc[frame["split"] == "train", "label"], errors="coerce")
    train_positive_share = float(train_labels.mean()) if train_labels.notna().any() else None
    expectations = sequences_expectations(text, validation_fraction, config, train_positive_share)
    return _validate(frame, "sequences", expectations, Path(output_dir))


def _validate(
    frame: pd.DataFrame, suite_name: str, expectations: list[Expectation], output_dir: Path
) -> dict:
    """Run one suite over ``frame``, write its files, log warnings and raise on a failure."""
    output_dir.mkdir(parents=True, exist_ok=True)
    data_docs_dir = output_dir / DATA_DOCS_FOLDER / suite_name
    staging_dir = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{DATA_DOCS_FOLDER}.", suffix=".tmp"))

    try:
        context = _create_context(staging_dir)
        result_document, expectation_ids = _run_suite(context, frame, suite_name, expectations)
        context.build_data_docs(site_names=[_DATA_DOCS_SITE_NAME])

        write_json(output_dir / result_file_name(suite_name), result_document)
        # mkdtemp creates the folder for its owner only, but Data Docs are pages
        # that other users and a web server read.
        staging_dir.chmod(0o755)
        data_docs_dir.parent.mkdir(exist_ok=True)
        _replace_folder(staging_dir, data_docs_dir)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)

    data_docs_index = f"{DATA_DOCS_FOLDER}/{suite_name}/index.html"
    summary = summarize_result(result_document, expectation_ids, len(frame), data_docs_index)
    for entry in entries_in_suite_order(result_document, expectation_ids):
        if not entry["success"] and entry_severity(entry) == "warn":
            logger.warning(
                "data validation warning in the %s suite, the run goes on: %s",
                suite_name,
                describe_failure(entry),
            )
    logger.info(
        "validated %s %s: %d of %d expectations passed, %d failed, %d warned. Data Docs: %s",
        f"{summary['row_count']:,}",
        {"reviews": "reviews", "sequences": "padded sequences"}.get(suite_name, "source rows"),
        summary["evaluated"] - summary["failed"] - summary["warned"],
        summary["evaluated"],
        summary["failed"],
        summary["warned"],
        data_docs_dir / "index.html",
    )

    if not summary["success"]:
        message = describe_failures(result_document, expectation_ids, summary, output_dir)
        raise DataValidationError(message, summary)
    return summary


# --- running Great Expectations ---------------------------------------------


def _create_context(data_docs_dir: Path) -> AbstractDataContext:
    """Create an in-memory context whose only Data Docs site is ``data_docs_dir``."""
    gx = import_great_expectations()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    project_config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        # The metric progress bars would print to stderr on every run.
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            _DATA_DOCS_SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    # Great Expectations rejects a relative base_directory, and the
                    # default artifact root 'data' is relative.
                    "base_directory": str(Path(data_docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=project_config)


def _run_suite(
    context: AbstractDataContext, frame: pd.DataFrame, suite_name: str, expectations: list[Expectation]
) -> tuple[dict, list[str]]:
    """Validate ``frame`` and return the result as JSON and the expectation ids in suite order."""
    gx = import_great_expectations()
    batch_definition = (
        context.data_sources.add_pandas(suite_name)
        .add_dataframe_asset(suite_name)
        .add_batch_definition_whole_dataframe(suite_name)
    )
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
    )

    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": _PARTIAL_UNEXPECTED_COUNT}
    if "review_id" in frame.columns:
        # The result then names the review of each unexpected value, which the
        # examples of checks over helper columns show.
        result_format["unexpected_index_column_names"] = ["review_id"]

    # Running the definition also stores the result in the context, which is
    # what build_data_docs renders.
    result = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    # to_json_dict turns NumPy scalars into Python numbers and NaN into None.
    return result.to_json_dict(), [str(expectation.id) for expectation in suite.expectations]


def _replace_folder(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` so that readers never see a half-built folder."""
    if not target.exists():
        os.replace(source, target)
        return

    # NOTE: between the two renames target is missing for a moment. A reader sees
    # the old folder, no folder or the new one, never a mix of files.
    retired = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    os.replace(target, retired)
    try:
        os.replace(source, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)

