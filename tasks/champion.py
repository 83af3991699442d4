"""The champion tasks: decide whether the run's best model replaces the champion, then apply it."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from rnnpipe import runs
from rnnpipe.champion import decide_champion, promote_champion
from rnnpipe.config import PipelineConfig


@task(name="decide-champion")
def decide_champion_task(trained: list[dict], run_dir: str, config: PipelineConfig) -> dict:
    """Score the run's best model against the champion on this run's rows and record the decision."""
    decision = decide_champion(
        Path(run_dir), config.artifact_root, config, [metrics["model"] for metrics in trained]
    )
    get_run_logger().info("champion decision: %s", decision["sentence"])
    return {
        "decision": decision["decision"],
        "challenger": decision["challenger"],
        "champion": decision["champion"],
        "difference_points": decision["difference_points"],
        "reason": decision["reason"],
    }


@task(name="promote-champion")
def promote_champion_task(run_dir: str, config: PipelineConfig) -> dict:
    """Move the champion pointer when the completed run's decision is 'promote'."""
    result = promote_champion(Path(run_dir), config.artifact_root)
    logger = get_run_logger()
    if result["promoted"]:
        logger.info(
            "champion is now %s of run %s", result["champion"]["display_name"], result["champion"]["run_id"]
        )
    else:
        logger.info("champion pointer unchanged: %s", result["reason"])
    return {"promoted": result["promoted"], "reason": result["reason"]}
