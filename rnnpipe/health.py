"""The data's health in one run: rows in and out, the validation gate, truncation and OOV.

Sources of each figure, all in the run folder:

- ``reviews.parquet``: the rows that ingest wrote.
- ``rejected.parquet`` beside it, when the ingest stage wrote one: rows that
  ingest turned away, with a ``reason`` column.
- ``padded/set_aside.parquet``: rows with no tokens left after cleaning.
- ``padded/dataset.json``: truncated share and out-of-vocabulary rate.
- ``validation/*.json``: the validation gate's results, either a Great Expectations
  result document or a summary with ``success``, ``evaluated`` and ``failed``.
- ``validation/data_docs/<suite>/index.html``, or ``validation/data_docs/index.html``
  in runs made before the gate had more than one suite: the gate's Data Docs.

A missing optional file gives None for its figures instead of an error, because a
run made before that file existed must still get a report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.parquet as pq

from rnnpipe.storage import read_json
from rnnpipe.validation_results import entry_severity

logger = logging.getLogger(__name__)

REJECTED_FILE = "rejected.parquet"
SET_ASIDE_FILE = "set_aside.parquet"
VALIDATION_FOLDER = "validation"
DATA_DOCS_FOLDER = "data_docs"
REASON_COLUMN = "reason"


def summarize_health(run_dir: Path, dataset: dict) -> dict:
    """Collect the health figures of the run in ``run_dir``.

    Args:
        run_dir: the run folder.
        dataset: contents of its ``padded/dataset.json``.

    Returns:
        A JSON-serialisable dict: ``rows_in`` (rows of ``reviews.parquet`` or None),
        ``rejected`` and ``set_aside`` (each None when its file is missing, else
        ``rows`` and ``reasons``, a count per reason), ``rows_padded``,
        ``truncated_count``, ``truncated_share``, ``oov_rate``, ``validation`` (None
        when no result was found, else ``success``, ``evaluated``, ``failed``,
        ``warned``, ``failed_expectations`` and ``warned_expectations`` over every
        suite, and ``suites``) and ``data_docs`` (per suite with Data Docs, ``suite``
        and ``path`` of its index relative to the run folder).
    """
    run_dir = Path(run_dir)
    reviews_path = run_dir / "reviews.parquet"
    validation = _validation_outcome(run_dir / VALIDATION_FOLDER)
    return {
        "rows_in": _row_count(reviews_path),
        "rejected": _reason_counts(reviews_path.with_name(REJECTED_FILE)),
        "set_aside": _reason_counts(run_dir / "padded" / SET_ASIDE_FILE),
        "rows_padded": sum(dataset.get("rows", {}).values()),
        "truncated_count": dataset.get("truncated_count"),
        "truncated_share": dataset.get("truncated_share"),
        "oov_rate": dataset.get("oov_rate"),
        "validation": validation,
        "data_docs": _data_docs(run_dir, validation),
    }


def _data_docs(run_dir: Path, validation: dict | None) -> list[dict]:
    suites = [suite["suite"] for suite in validation["suites"]] if validation else []
    candidates = [(suite, f"{VALIDATION_FOLDER}/{DATA_DOCS_FOLDER}/{suite}/index.html") for suite in suites]
    candidates.append(("validation", f"{VALIDATION_FOLDER}/{DATA_DOCS_FOLDER}/index.html"))
    return [{"suite": suite, "path": path} for suite, path in candidates if (run_dir / path).is_file()]


def _row_count(path: Path) -> int | None:
    if not path.is_file():
        return None
    return pq.ParquetFile(path).metadata.num_rows


def _reason_counts(path: Path) -> dict | None:
    if not path.is_file():
        return None
    table = pq.read_table(path)
    reasons: dict[str, int] = {}
    if REASON_COLUMN in table.column_names:
        for reason in table.column(REASON_COLUMN).to_pylist():
            key = str(reason) if reason is not None else "no reason given"
            reasons[key] = reasons.get(key, 0) + 1
    elif table.num_rows:
        reasons["no reason given"] = table.num_rows
    ordered = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    # rejected.parquet has one row per rejected field, so a review with a bad label
    # and a bad split appears twice but is one rejected review.
    rows = table.num_rows
    if "review_id" in table.column_names:
        rows = len(set(table.column("review_id").to_pylist()))
    return {"rows": rows, "reasons": ordered}


def _validation_outcome(validation_dir: Path) -> dict | None:
    suites = []
    for path in sorted(validation_dir.glob("*.json")):
        try:
            suite = _read_suite(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("could not read the validation result %s: %s", path, error)
            continue
        # A gate may write a result document and a summary of the same suite; the
        # suite is counted once.
        if suite is not None and suite["suite"] not in {seen["suite"] for seen in suites}:
            suites.append(suite)
    if not suites:
        return None

    return {
        "success": all(suite["success"] for suite in suites),
        "evaluated": sum(suite["evaluated"] for suite in suites),
        "failed": sum(suite["failed"] for suite in suites),
        "warned": sum(suite["warned"] for suite in suites),
        "failed_expectations": [name for suite in suites for name in suite["failed_expectations"]],
        "warned_expectations": [name for suite in suites for name in suite["warned_expectations"]],
        "suites": suites,
    }


def _read_suite(path: Path) -> dict | None:
    document = read_json(path)
    if not isinstance(document, dict):
        return None
    name = path.stem.removesuffix("_result")

    if "statistics" in document:
        # A Great Expectations 1.x validation result, as written by to_json_dict().
        # A failed expectation of severity warning or info only warns.
        unsuccessful = [result for result in document.get("results", []) if not result.get("success", False)]
        failed = [result["expectation_config"]["type"] for result in unsuccessful if entry_severity(result) == "fail"]
        warned = [result["expectation_config"]["type"] for result in unsuccessful if entry_severity(result) == "warn"]
        return {
            "suite": document.get("suite_name") or name,
            "success": not failed,
            "evaluated": int(document["statistics"]["evaluated_expectations"]),
            "failed": len(failed),
            "warned": len(warned),
            "failed_expectations": failed,
            "warned_expectations": warned,
        }

    if {"success", "evaluated", "failed"} <= document.keys():
        items = document.get("expectations", [])
        return {
            "suite": document.get("suite", name),
            "success": bool(document["success"]),
            "evaluated": int(document["evaluated"]),
            "failed": int(document["failed"]),
            "warned": int(document.get("warned", 0)),
            "failed_expectations": [item["expectation"] for item in items if item.get("outcome") == "fail"],
            "warned_expectations": [item["expectation"] for item in items if item.get("outcome") == "warn"],
        }
    return None
