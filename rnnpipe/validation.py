"""Data validation gate for the reviews table, built on Great Expectations 1.x.

``validate_reviews`` runs the ``reviews`` expectation suite over the ingest stage's
table in an in-memory Great Expectations context. It writes the validation result
as JSON and as Data Docs HTML into the output folder. When any expectation fails it
raises ``DataValidationError``, so the run stops before training.

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
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnpipe.errors import RnnpipeError
from rnnpipe.config import ValidationConfig
from rnnpipe.storage import write_json

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.expectations import Expectation

logger = logging.getLogger(__name__)

SUITE_NAME = "reviews"
REVIEW_COLUMNS = ("review_id", "text", "label", "split")
LABELS = (0, 1)
SPLITS = ("train", "test")

RESULT_FILE_NAME = "reviews_result.json"
DATA_DOCS_FOLDER = "data_docs"

MAX_EXAMPLES = 3
MAX_EXAMPLE_CHARS = 60

# Great Expectations keeps this many unexpected values per expectation. It is more
# than MAX_EXAMPLES so that distinct examples remain when one duplicated review_id
# fills the first slots.
_PARTIAL_UNEXPECTED_COUNT = 20

_DATA_DOCS_SITE_NAME = "local_site"


class DataValidationError(RnnpipeError, RuntimeError):
    """A failed expectation in the reviews suite.

    ``str(error)`` names each failing expectation with its unexpected count and a
    few example values, and ``summary`` is the dict that ``validate_reviews``
    returns on success.
    """

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary

    def __reduce__(self) -> tuple:
        # Prefect pickles a failed task's exception when it persists results. The
        # default reduce would call the class with the message alone and fail.
        return (type(self), (str(self), self.summary))


def reviews_expectations(config: ValidationConfig) -> list[Expectation]:
    """Build the reviews suite's expectations, in the order reports list them.

    Each group is one function, so a new group of checks is one more function
    whose list is added here.
    """
    return [
        *_schema_expectations(),
        *_value_expectations(),
        *_size_and_balance_expectations(config),
    ]


def validate_reviews(reviews: pd.DataFrame, config: ValidationConfig, output_dir: Path) -> dict:
    """Validate the reviews table and write the result JSON and Data Docs.

    Args:
        reviews: the ingest stage's table with columns ``review_id`` (str), ``text``
            (str), ``label`` (int8, 0 or 1) and ``split`` ("train" or "test").
        config: thresholds for the row count and the share of positive labels.
        output_dir: folder that receives ``reviews_result.json`` (the Great
            Expectations ``ExpectationSuiteValidationResult``) and
            ``data_docs/index.html``. Both are replaced if they exist.

    Returns:
        A JSON-serialisable summary with the keys ``suite``, ``success``,
        ``evaluated``, ``failed``, ``row_count``, ``data_docs`` (``index.html``
        relative to ``output_dir``) and ``expectations``. Each item of
        ``expectations`` has ``expectation``, ``column``, ``success``,
        ``unexpected_count``, ``examples`` (at most 3 distinct values, texts cut
        to 60 characters) and ``observed_value``, in suite order.

    Raises:
        DataValidationError: when any expectation fails, after both files are
            written.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    data_docs_dir = output_dir / DATA_DOCS_FOLDER
    staging_dir = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{DATA_DOCS_FOLDER}.", suffix=".tmp"))

    try:
        context = _create_context(staging_dir)
        expectations = reviews_expectations(config)
        result_document, expectation_ids = _run_suite(context, reviews, expectations)
        context.build_data_docs(site_names=[_DATA_DOCS_SITE_NAME])

        write_json(output_dir / RESULT_FILE_NAME, result_document)
        # mkdtemp creates the folder for its owner only, but Data Docs are pages
        # that other users and a web server read.
        staging_dir.chmod(0o755)
        _replace_folder(staging_dir, data_docs_dir)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)

    summary = summarize_result(result_document, expectation_ids, row_count=len(reviews))
    logger.info(
        "validated %s reviews: %d of %d expectations passed. Data Docs: %s",
        f"{summary['row_count']:,}",
        summary["evaluated"] - summary["failed"],
        summary["evaluated"],
        data_docs_dir / "index.html",
    )

    if not summary["success"]:
        message = describe_failures(result_document, expectation_ids, summary, output_dir)
        raise DataValidationError(message, summary)
    return summary


def summarize_result(result_document: dict, expectation_ids: list[str], row_count: int) -> dict:
    """Reduce a validation result (as JSON) to the summary ``validate_reviews`` returns."""
    statistics = result_document["statistics"]
    return {
        "suite": SUITE_NAME,
        "success": bool(result_document["success"]),
        "evaluated": int(statistics["evaluated_expectations"]),
        "failed": int(statistics["unsuccessful_expectations"]),
        "row_count": int(row_count),
        "data_docs": f"{DATA_DOCS_FOLDER}/index.html",
        "expectations": [
            _summarize_entry(entry) for entry in _entries_in_suite_order(result_document, expectation_ids)
        ],
    }


def describe_failures(
    result_document: dict, expectation_ids: list[str], summary: dict, output_dir: Path
) -> str:
    """Write the ``DataValidationError`` message: one line per failed expectation."""
    lines = [
        f"Data validation failed for {summary['failed']} of {summary['evaluated']} "
        f"expectations on {_count_noun(summary['row_count'], 'review')}:"
    ]
    for entry in _entries_in_suite_order(result_document, expectation_ids):
        if not entry["success"]:
            lines.append(f"  - {_describe_failure(entry)}")

    data_docs_index = (Path(output_dir) / summary["data_docs"]).resolve()
    lines.append(
        "The run stopped before training, and earlier runs are unchanged. "
        f"Data Docs: {data_docs_index}"
    )
    return "\n".join(lines)


def render_validation_markdown(summary: dict) -> str:
    """Render the summary as a Markdown table for a Prefect artifact.

    The table has one row per expectation with its outcome, unexpected count, up to
    3 example values (texts cut to 60 characters) and observed value.
    """
    passed = summary["evaluated"] - summary["failed"]
    outcome = "passed" if summary["success"] else "failed"
    lines = [
        f"## Data validation {outcome}: {summary['suite']} suite",
        "",
        f"{passed} of {summary['evaluated']} expectations passed on "
        f"{_count_noun(summary['row_count'], 'review')}. "
        f"Data Docs: `{summary['data_docs']}` in the validation folder.",
        "",
        "| Expectation | Column | Result | Unexpected | Examples | Observed |",
        "| --- | --- | --- | ---: | --- | --- |",
    ]
    for item in summary["expectations"]:
        cells = [
            f"`{item['expectation']}`",
            item["column"] or "",
            "pass" if item["success"] else "**fail**",
            "" if item["unexpected_count"] is None else f"{item['unexpected_count']:,}",
            ", ".join(_format_example(value) for value in item["examples"][:MAX_EXAMPLES]),
            "" if item["observed_value"] is None else _format_observed(item["observed_value"]),
        ]
        lines.append("| " + " | ".join(_escape_markdown_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


# --- the expectation groups -------------------------------------------------


def _schema_expectations() -> list[Expectation]:
    gxe = _import_great_expectations().expectations
    # exact_match=False lets extra columns pass, so only a missing column fails here.
    return [gxe.ExpectTableColumnsToMatchSet(column_set=list(REVIEW_COLUMNS), exact_match=False)]


def _value_expectations() -> list[Expectation]:
    gxe = _import_great_expectations().expectations
    return [
        gxe.ExpectColumnValuesToBeUnique(column="review_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="review_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        # A text of only whitespace has no words to tokenize.
        gxe.ExpectColumnValuesToMatchRegex(column="text", regex=r"\S"),
        gxe.ExpectColumnValuesToNotBeNull(column="label"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(LABELS)),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
    ]


def _size_and_balance_expectations(config: ValidationConfig) -> list[Expectation]:
    gxe = _import_great_expectations().expectations
    # The hint in meta names the setting that moves the threshold, for the error message.
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=config.min_rows,
            meta={"hint": "set validation.min_rows to lower it"},
        ),
        gxe.ExpectColumnMeanToBeBetween(
            column="label",
            min_value=config.min_positive_share,
            max_value=config.max_positive_share,
            meta={
                "hint": "the mean of label is the share of positive reviews; set "
                "validation.min_positive_share and validation.max_positive_share to change the range"
            },
        ),
    ]


# --- running Great Expectations ---------------------------------------------


def _import_great_expectations() -> Any:
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


def _create_context(data_docs_dir: Path) -> AbstractDataContext:
    """Create an in-memory context whose only Data Docs site is ``data_docs_dir``."""
    gx = _import_great_expectations()
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
                    "base_directory": str(data_docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=project_config)


def _run_suite(
    context: AbstractDataContext, reviews: pd.DataFrame, expectations: list[Expectation]
) -> tuple[dict, list[str]]:
    """Validate ``reviews`` and return the result as JSON and the expectation ids in suite order."""
    gx = _import_great_expectations()
    batch_definition = (
        context.data_sources.add_pandas(SUITE_NAME)
        .add_dataframe_asset(SUITE_NAME)
        .add_batch_definition_whole_dataframe(SUITE_NAME)
    )
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=SUITE_NAME, data=batch_definition, suite=suite)
    )

    # Running the definition also stores the result in the context, which is
    # what build_data_docs renders.
    result = definition.run(
        batch_parameters={"dataframe": reviews},
        result_format={
            "result_format": "SUMMARY",
            "partial_unexpected_count": _PARTIAL_UNEXPECTED_COUNT,
        },
    )
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


# --- summaries and messages -------------------------------------------------


def _entries_in_suite_order(result_document: dict, expectation_ids: list[str]) -> list[dict]:
    # Great Expectations returns table-level results first, not in suite order.
    position = {expectation_id: index for index, expectation_id in enumerate(expectation_ids)}
    return sorted(
        result_document["results"],
        key=lambda entry: position.get(entry["expectation_config"].get("id"), len(position)),
    )


def _summarize_entry(entry: dict) -> dict:
    expectation = entry["expectation_config"]
    result = entry["result"]
    return {
        "expectation": expectation["type"],
        "column": expectation["kwargs"].get("column"),
        "success": bool(entry["success"]),
        "unexpected_count": result.get("unexpected_count"),
        "examples": _distinct_examples(result.get("partial_unexpected_list") or []),
        "observed_value": result.get("observed_value"),
    }


def _distinct_examples(values: list) -> list:
    examples: list = []
    for value in values:
        value = _shorten(value)
        if value not in examples:
            examples.append(value)
        if len(examples) == MAX_EXAMPLES:
            break
    return examples


def _describe_failure(entry: dict) -> str:
    expectation = entry["expectation_config"]
    kwargs = expectation["kwargs"]
    result = entry["result"]
    subject = expectation["type"]
    if kwargs.get("column") is not None:
        subject += f" on {kwargs['column']}"

    error_message = _exception_message(entry.get("exception_info") or {})
    if error_message:
        return f"{subject}: could not be evaluated: {error_message}"

    missing_columns = ((result.get("details") or {}).get("mismatched") or {}).get("missing")
    if result.get("unexpected_count") is not None:
        detail = _describe_unexpected(result)
    elif missing_columns:
        detail = (
            f"missing {_noun(len(missing_columns), 'column')} {', '.join(missing_columns)}, "
            f"expected {', '.join(kwargs['column_set'])}"
        )
    else:
        detail = _describe_observed(result.get("observed_value"), kwargs)

    hint = (expectation.get("meta") or {}).get("hint")
    return f"{subject}: {detail} ({hint})" if hint else f"{subject}: {detail}"


def _describe_unexpected(result: dict) -> str:
    count = result["unexpected_count"]
    text = _count_noun(count, "unexpected value")
    examples = _distinct_examples(result.get("partial_unexpected_list") or [])
    if examples:
        text += ", e.g. " + ", ".join(_format_example(value) for value in examples)
    return text


def _describe_observed(observed: Any, kwargs: dict) -> str:
    observed_text = "no value" if observed is None else _format_observed(observed)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        expected = f"between {_format_observed(low)} and {_format_observed(high)}"
    elif low is not None:
        expected = f"at least {_format_observed(low)}"
    elif high is not None:
        expected = f"at most {_format_observed(high)}"
    else:
        return f"observed {observed_text}"
    return f"observed {observed_text}, expected {expected}"


def _exception_message(exception_info: dict) -> str | None:
    # A single failure is stored flat. When several metrics fail, as for a missing
    # column, Great Expectations keys one such dict by each metric's id.
    if "raised_exception" in exception_info:
        return exception_info.get("exception_message") if exception_info["raised_exception"] else None
    for info in exception_info.values():
        if isinstance(info, dict) and info.get("raised_exception"):
            return info.get("exception_message")
    return None


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_EXAMPLE_CHARS:
        return value[: MAX_EXAMPLE_CHARS - 1] + "…"
    return value


def _format_example(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        # repr makes empty and whitespace-only texts visible in a message.
        return repr(_shorten(value))
    return str(value)


def _format_observed(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _count_noun(count: int, noun: str) -> str:
    return f"{count:,} {_noun(count, noun)}"


def _noun(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def _escape_markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
