"""The nightly service end to end: a real Prefect server, prefect.yaml applied, real process workers.

The module starts the service with `rnnpipe up` (what `make up` runs) on a free
loopback port with its database in a temporary folder, and stops it with
`rnnpipe down` at the end, checking that no process it started is left. Flow
runs are started the way the Prefect UI's Run button starts them and read back
through the REST API. The module took 141 s on a 2-core machine with no GPU.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import httpx
import pytest

from rnnpipe import deploy, service, storage
from rnnpipe.config import PipelineConfig

pytestmark = pytest.mark.integration

PROJECT_DIR = Path(__file__).resolve().parents[1]
RNNPIPE = Path(sys.executable).parent / "rnnpipe"
RUN_TIMEOUT_SECONDS = 300
REPORT_ARTIFACT_KEY = "rnnpipe-model-comparison"

# The changes a user makes in the Run form: a tiny model on a small slice.
TINY = {
    "data": {"limit": 300},
    "text": {"num_words": 300, "maxlen": 40},
    "model": {"embedding_dim": 4, "units": 4},
    "training": {"epochs": 2, "batch_size": 64},
    "validation": {"min_rows": 100},
}
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def merged(base: dict, overrides: dict) -> dict:
    result = json.loads(json.dumps(base))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


class Api:
    """The Prefect REST API, called the way the UI calls it."""

    def __init__(self, api_url: str) -> None:
        self.client = httpx.Client(base_url=api_url, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None) -> dict | list:
        # The server responds with 503 when its SQLite database is busy with
        # another write. Prefect's own client retries those, and so does this one.
        for attempt in range(6):
            response = self.client.request(method, path, json=body)
            if response.status_code != 503:
                break
            time.sleep(0.5 * 2**attempt)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict) -> dict | list:
        return self.request("POST", path, body)

    def deployment(self, name: str) -> dict:
        (found,) = self.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        return found

    def run_from_ui(self, deployment_name: str, config_changes: dict) -> dict:
        """Start a run as the UI's Run form does: the form's config with some fields changed."""
        deployment = self.deployment(deployment_name)
        form_defaults = deployment["parameter_openapi_schema"]["properties"]["config"]["default"]
        body = {
            "state": {"type": "SCHEDULED", "message": "Run from the Prefect UI"},
            "parameters": {"config": merged(form_defaults, config_changes)},
            "enforce_parameter_schema": deployment["enforce_parameter_schema"],
        }
        return self.post(f"/deployments/{deployment['id']}/create_flow_run", body)

    def flow_run(self, flow_run_id: str) -> dict:
        return self.request("GET", f"/flow_runs/{flow_run_id}")

    def wait(self, *flow_run_ids: str, timeout_seconds: float = RUN_TIMEOUT_SECONDS) -> list[dict]:
        deadline = time.monotonic() + timeout_seconds
        while True:
            flow_runs = [self.flow_run(flow_run_id) for flow_run_id in flow_run_ids]
            if all(flow_run["state_type"] in FINAL_STATES for flow_run in flow_runs):
                return flow_runs
            if time.monotonic() > deadline:
                states = {flow_run["name"]: flow_run["state_type"] for flow_run in flow_runs}
                raise AssertionError(f"flow runs not finished after {timeout_seconds} s: {states}")
            time.sleep(2)

    def artifact(self, flow_run_id: str, key: str) -> dict | None:
        found = self.post(
            "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}, "key": {"any_": [key]}}}
        )
        return found[0] if found else None

    def log_messages(self, flow_run_id: str) -> list[str]:
        logs = self.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})
        return [log["message"] for log in logs]

    def child_runs(self, flow_run_id: str) -> list[dict]:
        return self.post("/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [flow_run_id]}}})


@dataclass
class RunningService:
    target: service.Service
    api: Api
    environment: dict[str, str]
    up_output: str


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> RunningService:
    home = tmp_path_factory.mktemp("prefect-home")
    environment = {
        **os.environ,
        # Workers poll every 2 s and the scheduler runs every 2 s, so that the
        # tests wait seconds, not the defaults of 10 s and 60 s.
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        service.PROJECT_DIR_VARIABLE: str(PROJECT_DIR),
        storage.MIRROR_DIR_VARIABLE: str(tmp_path_factory.mktemp("mirror")),
    }
    environment.pop("PREFECT_API_URL", None)
    target = service.Service.for_project(PROJECT_DIR, free_port(), home)
    command = [str(RNNPIPE), "up", "--port", str(target.port), "--prefect-home", str(home)]
    try:
        started = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
        assert started.returncode == 0, f"rnnpipe up failed:\n{started.stdout}\n{started.stderr}"
        yield RunningService(target, Api(target.api_url), environment, started.stdout)
    finally:
        _stop_everything(target, environment)


def _stop_everything(target: service.Service, environment: dict[str, str]) -> None:
    started_pids = []
    for pid_file in target.pid_dir.glob("*.pid"):
        pid = service.running_pid(target, pid_file.stem)
        if pid is not None:
            started_pids += [pid, *service._descendants(pid)]
    command = [str(RNNPIPE), "down", "--port", str(target.port), "--prefect-home", str(target.prefect_home)]
    stopped = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=180)
    leftovers = [pid for pid in started_pids if service._is_alive(pid)]
    for pid in leftovers:
        service.stop_process_tree(pid, timeout_seconds=5)
    assert stopped.returncode == 0, stopped.stderr
    assert leftovers == [], f"rnnpipe down left processes running: {leftovers}"


@pytest.fixture
def gpu_worker(running: RunningService):
    """A worker polling the gpu pool; on a machine without a GPU it trains on the CPU."""
    name = f"gpu-test-{os.getpid()}"
    with mock.patch.dict(os.environ, running.environment):
        pid = service.start_worker(running.target, deploy.prefect_executable(), "gpu", name=name, limit=2)
    yield name
    service.stop_process_tree(pid)


def test_up_prints_the_ui_address(running):
    assert f"Prefect UI: {running.target.ui_url}" in running.up_output
    assert "deployment nightly: cron '30 3 * * *' in UTC" in running.up_output


def test_pools_set_flow_run_env(running):
    for name in ("cpu", "gpu"):
        pool = running.api.request("GET", f"/work_pools/{name}")
        properties = pool["base_job_template"]["variables"]["properties"]

        assert pool["type"] == "process"
        assert properties["env"]["default"]["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_run_form_describes_every_setting(running):
    schema = running.api.deployment("on-demand")["parameter_openapi_schema"]
    form_defaults = schema["properties"]["config"]["default"]

    assert form_defaults == PipelineConfig().model_dump(mode="json")
    for section_name, section in schema["definitions"].items():
        for field, spec in section["properties"].items():
            if "$ref" in spec:
                continue
            assert spec.get("description"), f"{section_name}.{field} has no description"
            assert "default" in spec, f"{section_name}.{field} has no default"


def test_ui_run_ends_with_a_report_artifact(running, tmp_path):
    flow_run = running.api.run_from_ui("on-demand", {**TINY, "artifact_root": str(tmp_path)})

    (finished,) = running.api.wait(flow_run["id"])

    assert finished["state_type"] == "COMPLETED", finished["state"]["message"]
    assert finished["parameters"]["config"]["model"]["units"] == 4
    artifact = running.api.artifact(flow_run["id"], REPORT_ARTIFACT_KEY)
    assert artifact is not None
    assert artifact["type"] == "markdown"
    assert "SimpleRNN" in artifact["data"]
    assert "LSTM" in artifact["data"]
    latest = json.loads((tmp_path / "latest.json").read_text())
    metrics = json.loads((Path(latest["run_dir"]) / "models" / "lstm" / "metrics.json").read_text())
    assert metrics["placement"] == "local"
    assert metrics["prefect_worker"].startswith("cpu-")
    assert metrics["flow_run_id"] == flow_run["id"]


def test_missing_gpu_worker_fallback(running, tmp_path):
    wait_briefly = {"placement": "gpu-pool", "gpu_wait_seconds": 3}
    fallback = running.api.run_from_ui(
        "on-demand", merged(TINY, {"artifact_root": str(tmp_path / "fallback"), "training": wait_briefly})
    )
    required = running.api.run_from_ui(
        "on-demand",
        merged(TINY, {"artifact_root": str(tmp_path / "required"), "training": {**wait_briefly, "require_gpu": True}}),
    )

    fell_back, failed = running.api.wait(fallback["id"], required["id"])

    assert fell_back["state_type"] == "COMPLETED", fell_back["state"]["message"]
    warnings = [message for message in running.api.log_messages(fallback["id"]) if "no GPU worker picked up" in message]
    assert len(warnings) == 1
    assert "within training.gpu_wait_seconds=3; cancelled them and training SimpleRNN, LSTM locally instead" in warnings[0]
    children = running.api.child_runs(fallback["id"])
    assert sorted(child["parameters"]["name"] for child in children) == ["lstm", "simple_rnn"]
    assert {child["state_type"] for child in children} == {"CANCELLED"}
    assert running.api.artifact(fallback["id"], REPORT_ARTIFACT_KEY) is not None
    report = (tmp_path / "fallback" / "runs").glob("*/report/report.md")
    assert len(list(report)) == 1

    assert failed["state_type"] == "FAILED"
    assert "no GPU worker picked up flow runs" in failed["state"]["message"]
    assert "training.require_gpu is set, so the run fails" in failed["state"]["message"]
    assert {child["state_type"] for child in running.api.child_runs(required["id"])} == {"CANCELLED"}
    assert not list((tmp_path / "required" / "runs").glob("*/report/report.md"))


def test_gpu_pool_one_run_per_model(running, gpu_worker, tmp_path):
    shared_root = f"file://{tmp_path / 'shared'}"
    changes = merged(TINY, {"artifact_root": shared_root, "training": {"placement": "gpu-pool", "gpu_wait_seconds": 120}})
    flow_run = running.api.run_from_ui("on-demand", changes)

    (finished,) = running.api.wait(flow_run["id"])

    assert finished["state_type"] == "COMPLETED", finished["state"]["message"]
    train_deployment = running.api.deployment("train-model")
    children = {child["parameters"]["name"]: child for child in running.api.child_runs(flow_run["id"])}
    assert sorted(children) == ["lstm", "simple_rnn"]
    for child in children.values():
        assert child["state_type"] == "COMPLETED"
        assert child["deployment_id"] == train_deployment["id"]
        assert child["work_pool_name"] == "gpu"
    first, second = (
        (datetime.fromisoformat(child["start_time"]), datetime.fromisoformat(child["end_time"]))
        for child in children.values()
    )
    # The two runs trained at the same time: each started before the other ended.
    assert first[0] < second[1], f"{first} ended before {second}"
    assert second[0] < first[1], f"{second} ended before {first}"

    latest = json.loads((tmp_path / "shared" / "latest.json").read_text())
    assert latest["run_dir"].startswith(shared_root)
    run_dir = tmp_path / "shared" / "runs" / latest["run_id"]
    for name, child in children.items():
        metrics = json.loads((run_dir / "models" / name / "metrics.json").read_text())
        assert metrics["placement"] == "gpu-pool"
        assert metrics["prefect_worker"] == gpu_worker
        assert metrics["flow_run_id"] == child["id"]
        assert metrics["device"] == "CPU"
    assert (run_dir / "report" / "report.html").is_file()
    assert running.api.artifact(flow_run["id"], REPORT_ARTIFACT_KEY) is not None


def test_failed_gpu_run_fails_the_comparison(running, gpu_worker, tmp_path):
    # The worker finds no GPU here, so require_gpu makes each train-model run fail.
    training = {"placement": "gpu-pool", "gpu_wait_seconds": 120, "require_gpu": True}
    flow_run = running.api.run_from_ui("on-demand", merged(TINY, {"artifact_root": str(tmp_path), "training": training}))

    (finished,) = running.api.wait(flow_run["id"])

    assert finished["state_type"] == "FAILED"
    assert "on work pool 'gpu' ended Failed" in finished["state"]["message"]
    assert "TensorFlow finds no GPU" in finished["state"]["message"]
    assert {child["state_type"] for child in running.api.child_runs(flow_run["id"])} == {"FAILED"}
    assert running.api.artifact(flow_run["id"], REPORT_ARTIFACT_KEY) is None


def test_overlapping_nightly_run_cancelled(running):
    nightly = running.api.deployment("nightly")
    # Scheduled a year ahead, so that no worker picks them up; the test moves them.
    later = (datetime.now(timezone.utc) + timedelta(days=365)).isoformat()
    scheduled = {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": later}}}
    first = running.api.post(f"/deployments/{nightly['id']}/create_flow_run", scheduled)
    second = running.api.post(f"/deployments/{nightly['id']}/create_flow_run", scheduled)

    try:
        holds = running.api.post(f"/flow_runs/{first['id']}/set_state", {"state": {"type": "PENDING"}})
        collides = running.api.post(f"/flow_runs/{second['id']}/set_state", {"state": {"type": "PENDING"}})
    finally:
        # An orchestrated (not forced) transition, so that the slot is released.
        running.api.post(f"/flow_runs/{first['id']}/set_state", {"state": {"type": "CANCELLED"}})

    assert nightly["concurrency_options"] == {"collision_strategy": "CANCEL_NEW", "grace_period_seconds": None}
    assert nightly["global_concurrency_limit"]["limit"] == 1
    assert holds["status"] == "ACCEPT"
    assert collides["status"] == "REJECT"
    assert running.api.flow_run(second["id"])["state_type"] == "CANCELLED"


def _scheduled_starts(api: Api, deployment_id: str, after: datetime, before: datetime) -> list[datetime]:
    flow_runs = api.post(
        "/flow_runs/filter",
        {
            "flow_runs": {
                "deployment_id": {"any_": [deployment_id]},
                "state": {"type": {"any_": ["SCHEDULED"]}},
                "expected_start_time": {"after_": after.isoformat(), "before_": before.isoformat()},
            },
            "sort": "EXPECTED_START_TIME_ASC",
        },
    )
    return [datetime.fromisoformat(flow_run["expected_start_time"]) for flow_run in flow_runs]


def _clock_changes(zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    """Return the next ``count`` days on which ``zone`` changes its UTC offset, at local noon."""
    changes = []
    day = start.astimezone(zone).replace(hour=12, minute=0, second=0, microsecond=0)
    while len(changes) < count:
        # Adding a day to a zoneinfo datetime keeps the wall time; the offset follows the date.
        following = day + timedelta(days=1)
        if following.utcoffset() != day.utcoffset():
            changes.append(following)
        day = following
    return changes


def test_nightly_schedule_across_clock_changes(running, tmp_path):
    project_file = PROJECT_DIR / deploy.PREFECT_FILE
    (schedule,) = deploy.load_project(project_file)["deployments"][0]["schedules"]
    minute, hour = (int(part) for part in schedule["cron"].split()[:2])
    nightly = running.api.deployment("nightly")
    now = datetime.now(timezone.utc)

    starts: list[datetime] = []
    for _ in range(30):
        starts = _scheduled_starts(running.api, nightly["id"], now, now + timedelta(days=5))
        if len(starts) >= 3:
            break
        time.sleep(1)
    assert len(starts) >= 3, f"the scheduler created {len(starts)} nightly runs"
    assert {(start.hour, start.minute, start.utcoffset()) for start in starts} == {(hour, minute, timedelta(0))}
    assert {later - earlier for earlier, later in zip(starts, starts[1:])} == {timedelta(days=1)}

    # The same file with its one time zone changed, as a user in Berlin would.
    text = project_file.read_text()
    berlin_file = tmp_path / deploy.PREFECT_FILE
    berlin_file.write_text(text.replace("timezone: UTC", "timezone: Europe/Berlin"))
    with mock.patch.dict(os.environ, running.environment):
        deploy.deploy_project(
            running.target.api_url,
            PROJECT_DIR,
            deploy.prefect_executable(),
            running.target.environment(),
            tmp_path / "deploy.log",
            prefect_file=berlin_file,
        )
    nightly = running.api.deployment("nightly")
    assert nightly["schedules"][0]["schedule"]["timezone"] == "Europe/Berlin"

    berlin = ZoneInfo("Europe/Berlin")
    for clock_change in _clock_changes(berlin, now, 2):
        window_start, window_end = clock_change - timedelta(days=3), clock_change + timedelta(days=3)
        window = {
            "start_time": window_start.isoformat(),
            "end_time": window_end.isoformat(),
            "min_time": (window_end - window_start).total_seconds(),
            "max_runs": 10,
        }
        running.api.post(f"/deployments/{nightly['id']}/schedule", window)
        starts = _scheduled_starts(running.api, nightly["id"], window_start, window_end)
        local_starts = [start.astimezone(berlin) for start in starts]

        assert len(local_starts) == 6, local_starts
        assert {(start.hour, start.minute) for start in local_starts} == {(hour, minute)}
        dates = [start.date() for start in local_starts]
        assert [later - earlier for earlier, later in zip(dates, dates[1:])] == [timedelta(days=1)] * 5
        assert len({start.utcoffset() for start in local_starts}) == 2, "no clock change in the window"


def test_unknown_job_variable_is_rejected_before_deploying(running, tmp_path):
    text = (PROJECT_DIR / deploy.PREFECT_FILE).read_text()
    marker = "      name: gpu\n      job_variables:\n"
    assert text.count(marker) == 1
    broken = tmp_path / deploy.PREFECT_FILE
    broken.write_text(text.replace(marker, marker + "        gpu_count: 1\n"))

    with pytest.raises(
        deploy.DeployError,
        match=r"Deployment 'train-model' in prefect\.yaml sets job variable 'gpu_count', which the base "
        r"job template of work pool 'gpu' does not define",
    ):
        deploy.deploy_project(
            running.target.api_url,
            PROJECT_DIR,
            deploy.prefect_executable(),
            running.target.environment(),
            tmp_path / "deploy.log",
            prefect_file=broken,
        )
    assert not (tmp_path / "deploy.log").exists()
