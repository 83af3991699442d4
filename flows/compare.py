"""The nightly comparison flow: ingest, validate, pad, train each model, report."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.placement import train_models
from rnnpipe import runs
from rnnpipe.config import PipelineConfig
from tasks.champion import decide_champion_task, promote_champion_task
from tasks.ingest import ingest_reviews
from tasks.pad import pad_to_parquet
from tasks.report import publish_model_table, publish_report, publish_report_link
from tasks.run_folder import create_run_folder, finish_run, publish_run_files
from tasks.validate import validate_reviews_task, validate_sequences_task


@flow(name="rnn-comparison", log_prints=False)
def compare_recurrent_models(config: PipelineConfig = PipelineConfig()) -> dict:
    """Retrain the configured recurrent classifiers on the reviews and compare them.

    Args:
        config: Every setting of the run. The defaults reproduce the IMDB experiment of
            Chollet, Deep Learning with Python (1st ed., section 6.2).

    Returns the path of the run folder and of its HTML report. For an fsspec URL
    artifact root these are in this machine's mirror of the run folder.
    """
    run_dir = create_run_folder(config)
    stages: dict[str, dict] = {}
    try:
        stages["ingest"] = ingest_reviews(run_dir, config)

        stages["validate"] = validate_reviews_task(stages["ingest"], run_dir, config)

        stages["pad"] = pad_to_parquet(stages["ingest"], run_dir, config)

        stages["validate-sequences"] = validate_sequences_task(stages["pad"], run_dir, config)

        trained = train_models(stages["pad"], run_dir, config)
        stages.update({f"train-{metrics['model']}": metrics for metrics in trained})

        stages["champion"] = decide_champion_task(trained, run_dir, config)

        stages["report"] = publish_report(trained, run_dir, config)
        publish_model_table(stages["report"])
        publish_report_link(stages["report"])

        # The champion moves only after every stage of the run succeeded, and the
        # manifest marks the run completed last, so a failure in either step is
        # recorded as a failed run. For a URL artifact root the run's files are
        # copied there first, so other machines find the champion's model.
        publish_run_files(run_dir, config)
        promote_champion_task(run_dir, config)

        finish_run(run_dir, config, stages)
    except BaseException as error:
        # The failed run's own manifest records why; nothing outside its folder changes.
        run = runs.RunFolder(Path(run_dir))
        runs.write_manifest(run, config, "failed", stages, error=str(error))
        try:
            runs.publish_run(run, config.artifact_root)
        except OSError as publish_error:
            get_run_logger().error("could not copy failed run %s to %s: %s", run.run_id, config.artifact_root, publish_error)
        get_run_logger().error("run %s failed; earlier runs and the latest report are unchanged", Path(run_dir).name)
        raise

    return {"run_dir": run_dir, "report": stages["report"]["path"]}
