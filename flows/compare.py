"""The nightly comparison flow: ingest, validate, pad, train each model, report."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from rnnpipe import runs
from rnnpipe.config import PipelineConfig
from tasks.ingest import ingest_reviews
from tasks.pad import pad_to_parquet
from tasks.report import publish_model_table, publish_report
from tasks.run_folder import create_run_folder, finish_run
from tasks.train import train_model_task
from tasks.validate import validate_reviews_task


@flow(name="rnn-comparison", log_prints=False)
def compare_recurrent_models(config: PipelineConfig = PipelineConfig()) -> dict:
    """Retrain the configured recurrent classifiers on the reviews and compare them.

    Returns the path of the run folder and of its HTML report.
    """
    run_dir = create_run_folder(config)
    stages: dict[str, dict] = {}
    try:
        stages["ingest"] = ingest_reviews(run_dir, config)

        stages["validate"] = validate_reviews_task(stages["ingest"], run_dir, config)

        stages["pad"] = pad_to_parquet(stages["ingest"], run_dir, config)

        trained = [train_model_task(name, stages["pad"], run_dir, config) for name in config.model.names]
        stages.update({f"train-{metrics['model']}": metrics for metrics in trained})

        stages["report"] = publish_report(trained, run_dir, config)
        publish_model_table(stages["report"])
    except BaseException as error:
        # The failed run's own manifest records why; nothing outside its folder changes.
        runs.write_manifest(runs.RunFolder(Path(run_dir)), config, "failed", stages, error=str(error))
        get_run_logger().error("run %s failed; earlier runs and the latest report are unchanged", Path(run_dir).name)
        raise

    finish_run(run_dir, config, stages)
    return {"run_dir": run_dir, "report": stages["report"]["path"]}
