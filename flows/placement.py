"""Training placement: in the flow's own process, or one flow run per model on the gpu work pool.

With ``training.placement="gpu-pool"`` the comparison flow starts one run of the
``train-model`` deployment per model, all at once, so that each model trains in
its own process on whichever GPU worker picks it up. A run that no worker picks
up within ``training.gpu_wait_seconds`` is cancelled and its model trains
locally, or the flow fails when ``training.require_gpu`` is set. The results
are read back from ``models/<name>/`` of the run folder.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling, State

from rnnpipe import runs, storage
from rnnpipe.config import MODEL_DISPLAY_NAMES, PipelineConfig
from rnnpipe.errors import RnnpipeError
from rnnpipe.training import GpuUnavailableError
from tasks.run_folder import fetch_run_files, publish_run_files
from tasks.train import train_model_task

TRAIN_DEPLOYMENT = "train-model/train-model"
GPU_POOL = "gpu"
POLL_SECONDS = 2.0


class TrainRunError(RnnpipeError):
    """A model's flow run on the gpu work pool that did not complete."""


def train_models(dataset: dict, run_dir: str, config: PipelineConfig) -> list[dict]:
    """Train every configured model where ``training.placement`` puts it.

    Returns:
        The metrics of each model, in the order of ``model.names``.
    """
    if config.training.placement == "local":
        return [train_model_task(name, dataset, run_dir, config) for name in config.model.names]
    return train_on_gpu_pool(dataset, run_dir, config)


def train_on_gpu_pool(dataset: dict, run_dir: str, config: PipelineConfig) -> list[dict]:
    """Start one ``train-model`` flow run per model on the gpu pool and collect the results."""
    logger = get_run_logger()
    run = runs.RunFolder(Path(run_dir))
    location = _shared_location(run, config)
    publish_run_files(run_dir, config, "padded")

    started = {name: _start_training_run(name, location, run.run_id, config) for name in config.model.names}
    logger.info(
        "started flow runs %s of deployment %s on work pool '%s'; waiting up to %.0f s for GPU "
        "workers to pick them up",
        ", ".join(flow_run.name for flow_run in started.values()),
        TRAIN_DEPLOYMENT,
        GPU_POOL,
        config.training.gpu_wait_seconds,
    )

    with get_client(sync_client=True) as client:
        try:
            return _train_on_pool(client, started, run, location, dataset, run_dir, config)
        except BaseException:
            # A failed comparison must not leave training runs busy on the GPUs.
            for flow_run in started.values():
                _cancel(client, flow_run, "the comparison flow that started this run failed")
            raise


def _train_on_pool(
    client: SyncPrefectClient,
    started: dict[str, FlowRun],
    run: runs.RunFolder,
    location: str,
    dataset: dict,
    run_dir: str,
    config: PipelineConfig,
) -> list[dict]:
    """Wait for workers, train the unclaimed models locally and read back the others' metrics."""
    logger = get_run_logger()
    unclaimed = _wait_for_pickup(client, started, config.training.gpu_wait_seconds)
    # A worker can pick a run up between the last poll and the cancel. Such a run
    # is only asked to stop, so local training waits until it has ended, or
    # both would write into the same model folder.
    picked_up_meanwhile = [
        name for name in unclaimed if _cancel(client, started[name], "no GPU worker picked the run up in time")
    ]
    _wait_for_completion(client, {name: started[name] for name in picked_up_meanwhile})
    if unclaimed and config.training.require_gpu:
        for name in set(started) - set(unclaimed):
            _cancel(client, started[name], "another model of this comparison found no GPU worker")
        raise GpuUnavailableError(
            _no_worker_message(unclaimed, started, config)
            + ". training.require_gpu is set, so the run fails. Start a worker with "
            f"'prefect worker start --pool {GPU_POOL}' (see the README, 'GPU workers'), or "
            "set training.require_gpu=false to train on the CPU instead."
        )
    if unclaimed:
        logger.warning(
            "%s; cancelled %s and training %s locally instead",
            _no_worker_message(unclaimed, started, config),
            "it" if len(unclaimed) == 1 else "them",
            ", ".join(MODEL_DISPLAY_NAMES[name] for name in unclaimed),
        )

    local_metrics = {name: train_model_task(name, dataset, run_dir, config) for name in unclaimed}

    claimed = [name for name in config.model.names if name not in unclaimed]
    finished = _wait_for_completion(client, {name: started[name] for name in claimed})

    for name in claimed:
        _check_completed(name, finished[name])
        fetch_run_files(location, f"models/{name}")
    remote_metrics = {name: _read_metrics(run, name) for name in claimed}

    metrics = {**local_metrics, **remote_metrics}
    return [metrics[name] for name in config.model.names]


def _shared_location(run: runs.RunFolder, config: PipelineConfig) -> str:
    # Workers open the run folder by this location. A relative local path would
    # resolve against each worker's own working directory.
    if storage.is_url(config.artifact_root):
        return runs.run_location(config.artifact_root, run.run_id)
    return str(run.path.resolve())


def _start_training_run(name: str, location: str, run_id: str, config: PipelineConfig) -> FlowRun:
    try:
        return run_deployment(
            TRAIN_DEPLOYMENT,
            parameters={"name": name, "run_dir": location, "config": config.model_dump(mode="json")},
            flow_run_name=f"train-{name}-{run_id}",
            timeout=0,
        )
    except ObjectNotFound:
        raise TrainRunError(
            f"Deployment {TRAIN_DEPLOYMENT} was not found on the Prefect server, so the models "
            "cannot train on the gpu work pool. Apply prefect.yaml with 'make deploy' (or start "
            "everything with 'make up'), or set training.placement='local'."
        ) from None


def _wait_for_pickup(client: SyncPrefectClient, started: dict[str, FlowRun], wait_seconds: float) -> list[str]:
    """Poll until a worker has picked up every run or the wait is over; return the names still waiting."""
    deadline = time.monotonic() + wait_seconds
    waiting = list(started)
    while True:
        waiting = [name for name in waiting if _is_waiting(client.read_flow_run(started[name].id))]
        if not waiting or time.monotonic() >= deadline:
            return waiting
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))


def _is_waiting(flow_run: FlowRun) -> bool:
    # A worker that picks a run up moves it from Scheduled (or Late, which is also
    # of type SCHEDULED) to Pending.
    return flow_run.state is None or flow_run.state.type == StateType.SCHEDULED


def _cancel(client: SyncPrefectClient, flow_run: FlowRun, reason: str) -> bool:
    """Cancel a run that has not ended; return True when it had started and is only asked to stop."""
    current = client.read_flow_run(flow_run.id)
    if current.state is not None and current.state.is_final():
        return False
    # A run that has not started is cancelled at once. A running one is asked to
    # stop, and its worker ends the process.
    waiting = _is_waiting(current)
    state = Cancelled(message=reason) if waiting else Cancelling(message=reason)
    client.set_flow_run_state(flow_run.id, state, force=True)
    _close_parent_task_run(client, current, state)
    return not waiting


def _wait_for_completion(client: SyncPrefectClient, started: dict[str, FlowRun]) -> dict[str, FlowRun]:
    # NOTE: there is no time limit. A run whose worker machine dies without
    # reporting stays Running until someone cancels it in the UI, and this waits with it.
    finished: dict[str, FlowRun] = {}
    while len(finished) < len(started):
        for name, flow_run in started.items():
            if name in finished:
                continue
            current = client.read_flow_run(flow_run.id)
            if current.state is not None and current.state.is_final():
                finished[name] = current
                _close_parent_task_run(client, current, current.state)
        if len(finished) < len(started):
            time.sleep(POLL_SECONDS)
    return finished


def _close_parent_task_run(client: SyncPrefectClient, flow_run: FlowRun, state: State) -> None:
    # run_deployment links each run to the comparison flow through a placeholder
    # task run, which it leaves Pending. It gets the child's final state, so that
    # the parent's graph in the UI does not show a task waiting forever.
    if flow_run.parent_task_run_id is None:
        return
    if state.is_final():
        final = State(type=state.type, name=state.name, message=state.message)
    else:
        final = Cancelled(message=state.message)
    client.set_task_run_state(flow_run.parent_task_run_id, final, force=True)


def _check_completed(name: str, flow_run: FlowRun) -> None:
    state = flow_run.state
    if state is not None and state.is_completed():
        return
    state_name = state.name if state is not None else "without a state"
    message = f": {state.message}" if state is not None and state.message else ""
    raise TrainRunError(
        f"Flow run {flow_run.name} ({flow_run.id}) that trains {MODEL_DISPLAY_NAMES[name]} on "
        f"work pool '{GPU_POOL}' ended {state_name}{message}. Its logs are on the flow run's page "
        "in the Prefect UI."
    )


def _read_metrics(run: runs.RunFolder, name: str) -> dict:
    metrics = storage.read_json(run.model_dir(name) / "metrics.json")
    metrics["seconds"] = metrics["train_seconds"]
    return metrics


def _no_worker_message(unclaimed: list[str], started: dict[str, FlowRun], config: PipelineConfig) -> str:
    runs_named = ", ".join(f"{started[name].name} ({MODEL_DISPLAY_NAMES[name]})" for name in unclaimed)
    noun = "flow run" if len(unclaimed) == 1 else "flow runs"
    return (
        f"no GPU worker picked up {noun} {runs_named} of deployment {TRAIN_DEPLOYMENT} on "
        f"work pool '{GPU_POOL}' within training.gpu_wait_seconds={config.training.gpu_wait_seconds:g}"
    )
