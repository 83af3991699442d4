"""Summaries, error messages and Markdown for the validation gate's results.

Every function here reads a Great Expectations validation result in its JSON
form, so a result file written by an earlier run can be summarised again.
Each expectation's outcome is ``pass``, ``fail`` or ``warn``: a failed
expectation whose Great Expectations ``severity`` is ``warning`` is a warning,
which does not stop the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAX_EXAMPLES = 3
MAX_EXAMPLE_CHARS = 60

ROW_NOUNS = {"reviews": "review", "sequences": "sequence"}


def summarize_result(
    result_document: dict, expectation_ids: list[str], row_count: int, data_docs: str
) -> dict:
    """Reduce a validation result (as JSON) to the summary that the validate functions return.

    Returns:
        A JSON-serialisable dict with the keys ``suite``, ``success`` (no
        fail-level expectation failed), ``evaluated``, ``failed`` (fail-level
        failures), ``warned`` (warn-level failures), ``row_count``, ``data_docs``
        and ``expectations``, one item per expectation in suite order.
    """
    entries = entries_in_suite_order(result_document, expectation_ids)
    expectations = [_summarize_entry(entry) for entry in entries]
    failed = sum(item["outcome"] == "fail" for item in expectations)
    return {
        "suite": result_document["suite_name"],
        "success": failed == 0,
        "evaluated": int(result_document["statistics"]["evaluated_expectations"]),
        "failed": failed,
        "warned": sum(item["outcome"] == "warn" for item in expectations),
        "row_count": int(row_count),
        "data_docs": data_docs,
        "expectations": expectations,
    }


def describe_failures(
    result_document: dict, expectation_ids: list[str], summary: dict, output_dir: Path
) -> str:
    """Write the ``DataValidationError`` message: one line per failed expectation, warnings after."""
    row_noun = ROW_NOUNS.get(summary["suite"], "row")
    lines = [
        f"Data validation failed for {summary['failed']} of {summary['evaluated']} "
        f"expectations on {_count_noun(summary['row_count'], row_noun)}:"
    ]
    warnings = []
    for entry in entries_in_suite_order(result_document, expectation_ids):
        if entry["success"]:
            continue
        if entry_severity(entry) == "warn":
            warnings.append(f"  - {describe_failure(entry)}")
        else:
            lines.append(f"  - {describe_failure(entry)}")
    if warnings:
        lines.append(f"{_count_noun(len(warnings), 'warning')}, which alone would not stop the run:")
        lines.extend(warnings)

    data_docs_index = (Path(output_dir) / summary["data_docs"]).resolve()
    lines.append(
        "The run stopped before training, and earlier runs are unchanged. "
        f"Data Docs: {data_docs_index}"
    )
    return "\n".join(lines)


def render_validation_markdown(summary: dict) -> str:
    """Render the summary as a Markdown table for a Prefect artifact.

    The table has one row per expectation with its group and severity, its outcome
    (pass, fail or warn), unexpected count, up to 3 examples (texts cut to 60
    characters) and observed value.
    """
    row_noun = ROW_NOUNS.get(summary["suite"], "row")
    passed = summary["evaluated"] - summary["failed"] - summary["warned"]
    outcome = "passed" if summary["success"] else "failed"
    if summary["warned"]:
        outcome += f" with {_count_noun(summary['warned'], 'warning')}"
    lines = [
        f"## Data validation {outcome}: {summary['suite']} suite",
        "",
        f"{passed} of {summary['evaluated']} expectations passed on "
        f"{_count_noun(summary['row_count'], row_noun)}. "
        f"Data Docs: `{summary['data_docs']}` in the validation folder.",
        "",
        "| Expectation | Column | Group | Result | Unexpected | Examples | Observed |",
        "| --- | --- | --- | --- | ---: | --- | --- |",
    ]
    for item in summary["expectations"]:
        cells = [
            f"`{item['expectation']}`",
            item["column"] or "",
            f"{item['group']} ({item['severity']})" if item["group"] else "",
            {"pass": "pass", "fail": "**fail**", "warn": "warn"}[item["outcome"]],
            "" if item["unexpected_count"] is None else f"{item['unexpected_count']:,}",
            ", ".join(_format_example(value) for value in item["examples"][:MAX_EXAMPLES]),
            "" if item["observed_value"] is None else _format_observed(item["observed_value"]),
        ]
        lines.append("| " + " | ".join(_escape_markdown_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def entries_in_suite_order(result_document: dict, expectation_ids: list[str]) -> list[dict]:
    # Great Expectations returns table-level results first, not in suite order.
    position = {expectation_id: index for index, expectation_id in enumerate(expectation_ids)}
    return sorted(
        result_document["results"],
        key=lambda entry: position.get(entry["expectation_config"].get("id"), len(position)),
    )


def entry_severity(entry: dict) -> str:
    """Return ``warn`` for an expectation of severity ``warning`` or ``info``, else ``fail``."""
    return "warn" if entry["expectation_config"].get("severity") in ("warning", "info") else "fail"


def describe_failure(entry: dict) -> str:
    """Describe one failed expectation: what it checks, the count or observed value, examples, hint."""
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
        detail = _describe_unexpected(entry)
    elif missing_columns:
        detail = (
            f"missing {_noun(len(missing_columns), 'column')} {', '.join(missing_columns)}, "
            f"expected {', '.join(kwargs['column_set'])}"
        )
    elif result.get("partial_missing_list"):
        missing_values = result["partial_missing_list"]
        detail = (
            f"missing {_noun(len(missing_values), 'value')} {', '.join(map(str, missing_values))}, "
            f"expected {', '.join(map(str, kwargs['value_set']))}"
        )
    else:
        detail = _describe_observed(result.get("observed_value"), kwargs)

    hint = (expectation.get("meta") or {}).get("hint")
    return f"{subject}: {detail} ({hint})" if hint else f"{subject}: {detail}"


def _summarize_entry(entry: dict) -> dict:
    expectation = entry["expectation_config"]
    meta = expectation.get("meta") or {}
    result = entry["result"]
    success = bool(entry["success"])
    return {
        "expectation": expectation["type"],
        "column": expectation["kwargs"].get("column"),
        "group": meta.get("group"),
        "severity": entry_severity(entry),
        "outcome": "pass" if success else entry_severity(entry),
        "success": success,
        "unexpected_count": result.get("unexpected_count"),
        "examples": _examples(entry),
        "observed_value": result.get("observed_value"),
    }


def _examples(entry: dict) -> list:
    """Pick up to 3 distinct examples.

    An example is an unexpected value. For an expectation with
    ``meta["examples"] == "review_id"`` it is a dict with the row's ``review_id``
    and its ``value`` in the column.
    """
    result = entry["result"]
    meta = entry["expectation_config"].get("meta") or {}
    rows = result.get("partial_unexpected_index_list") or []
    if meta.get("examples") == "review_id" and rows and "review_id" in rows[0]:
        column = entry["expectation_config"]["kwargs"].get("column")
        return _distinct([{"review_id": row["review_id"], "value": row.get(column)} for row in rows])
    return _distinct(result.get("partial_unexpected_list") or [])


def _distinct(values: list) -> list:
    examples: list = []
    for value in values:
        value = _shorten(value)
        if value not in examples:
            examples.append(value)
        if len(examples) == MAX_EXAMPLES:
            break
    return examples


def _describe_unexpected(entry: dict) -> str:
    result = entry["result"]
    count = result["unexpected_count"]
    text = _count_noun(count, "unexpected value")
    percent = result.get("unexpected_percent")
    mostly = entry["expectation_config"]["kwargs"].get("mostly")
    if mostly is not None and mostly < 1 and percent is not None:
        text += f" ({percent:.3g} %, at most {(1 - mostly) * 100:.3g} % allowed)"

    examples = _examples(entry)
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
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    if isinstance(value, str) and len(value) > MAX_EXAMPLE_CHARS:
        return value[: MAX_EXAMPLE_CHARS - 1] + "…"
    return value


def _format_example(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict) and "review_id" in value:
        return f"{value['review_id']}: {_format_example(value.get('value'))}"
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
