"""The report tasks: build the comparison and publish it to the Prefect UI."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from rnnpipe import runs, storage
from rnnpipe.config import PipelineConfig
from rnnpipe.report import build_report, comparison_rows, render_markdown
from rnnpipe.runs import RunFolder

REPORT_ARTIFACT_KEY = "rnnpipe-model-comparison"
TABLE_ARTIFACT_KEY = "rnnpipe-model-table"
LINK_ARTIFACT_KEY = "rnnpipe-report-link"


@task(name="publish-report")
def publish_report(trained: list[dict], run_dir: str, config: PipelineConfig) -> dict:
    """Write the run's report files and publish the report as a Markdown artifact."""
    started = time.perf_counter()
    run = RunFolder(Path(run_dir))
    summary = build_report(
        run.path,
        config,
        [metrics["model"] for metrics in trained],
        # TODO: for a URL artifact root the trend includes only the runs in this machine's mirror.
        artifact_root=runs.local_root(config.artifact_root),
    )

    create_markdown_artifact(
        markdown=render_markdown(summary),
        key=REPORT_ARTIFACT_KEY,
        description=f"Model comparison of run {run.run_id}",
    )
    report_path = run.report_dir / "report.html"
    get_run_logger().info("report of run %s written to %s", run.run_id, report_path)
    return {
        "path": str(report_path),
        "summary": str(run.report_dir / "summary.json"),
        "seconds": round(time.perf_counter() - started, 3),
    }


@task(name="publish-model-table")
def publish_model_table(report: dict) -> None:
    """Publish one row of headline figures per model as a table artifact."""
    rows = comparison_rows(storage.read_json(Path(report["summary"])))
    create_table_artifact(table=rows, key=TABLE_ARTIFACT_KEY, description="Headline figures per model")
    get_run_logger().info("published the figures of %d models as a table", len(rows))


@task(name="publish-report-link")
def publish_report_link(report: dict) -> None:
    """Publish a link to the run's self-contained HTML report."""
    uri = Path(report["path"]).resolve().as_uri()
    create_link_artifact(
        link=uri, link_text="HTML report", key=LINK_ARTIFACT_KEY, description="The run's report.html"
    )
    get_run_logger().info("published the link %s", uri)
