"""The report's Prefect artifacts of real flow runs, read back through the Prefect API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.testing.utilities import prefect_test_harness

from flows.compare import compare_recurrent_models
from rnnpipe.config import build_config
from tasks.report import LINK_ARTIFACT_KEY, REPORT_ARTIFACT_KEY, TABLE_ARTIFACT_KEY

TINY = {
    "data": {"limit": 300},
    "text": {"num_words": 300, "maxlen": 40},
    "model": {"embedding_dim": 4, "units": 4},
    "training": {"epochs": 2, "batch_size": 64},
    "validation": {"min_rows": 100},
    "report": {"bootstrap_resamples": 1_000},
}


@pytest.fixture(scope="module")
def two_flow_runs(tmp_path_factory):
    """Run the flow twice on the same slice; return the artifacts and run folder of each run."""
    root = tmp_path_factory.mktemp("artifact-root")
    config = build_config({**TINY, "artifact_root": str(root)})
    with prefect_test_harness(server_startup_timeout=300):
        results = []
        for _ in range(2):
            state = compare_recurrent_models(config, return_state=True)
            run_dir = Path(state.result()["run_dir"])
            artifacts = asyncio.run(read_artifacts(state.state_details.flow_run_id))
            results.append((artifacts, run_dir))
    return results


async def read_artifacts(flow_run_id: UUID) -> dict[str, object]:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {artifact.key: artifact for artifact in artifacts}


def test_markdown_artifact_has_comparison_and_decision(two_flow_runs):
    for artifacts, run_dir in two_flow_runs:
        summary = json.loads((run_dir / "report" / "summary.json").read_text())
        decision = json.loads((run_dir / "champion_decision.json").read_text())

        markdown = artifacts[REPORT_ARTIFACT_KEY].data
        assert artifacts[REPORT_ARTIFACT_KEY].type == "markdown"
        assert summary["comparison_sentence"] in markdown
        assert "McNemar p" in summary["comparison_sentence"]
        assert f"Champion: {decision['sentence']}" in markdown


def test_first_flow_run_promotes_second_compares(two_flow_runs):
    (first_artifacts, first_dir), (second_artifacts, second_dir) = two_flow_runs
    first = json.loads((first_dir / "champion_decision.json").read_text())
    second = json.loads((second_dir / "champion_decision.json").read_text())

    assert "there is no champion yet" in first_artifacts[REPORT_ARTIFACT_KEY].data
    assert first["decision"] == "promote"
    assert second["champion"]["run_id"] == first_dir.name
    # The same settings and seed give the same vocabulary, so the champion reads
    # the second run's padded rows as they are.
    assert second["champion_reencoded"] is False
    assert second["comparison"]["rows"] == second["rows"]
    champion = json.loads((first_dir.parent.parent / "champion.json").read_text())
    expected_run = second_dir.name if second["decision"] == "promote" else first_dir.name
    assert champion["run_id"] == expected_run


def test_table_and_link_artifacts(two_flow_runs):
    artifacts, run_dir = two_flow_runs[-1]

    assert artifacts[TABLE_ARTIFACT_KEY].type == "table"
    # Prefect 3 stores a link artifact as Markdown of the form [text](link).
    uri = (run_dir / "report" / "report.html").resolve().as_uri()
    assert artifacts[LINK_ARTIFACT_KEY].data == f"[HTML report]({uri})"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["champion"]["decision"] in ("promote", "keep")
