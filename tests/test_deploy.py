"""prefect.yaml, the deploy preflight and the process handling of `rnnpipe up` and `rnnpipe down`."""

import json
import socket
import sys
import time
from pathlib import Path

import pytest
from prefect.workers.process import ProcessWorker

from rnnpipe import deploy, service

PROJECT_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def process_template() -> dict:
    return ProcessWorker.get_default_base_job_template()


@pytest.fixture(scope="module")
def project() -> dict:
    return deploy.load_project(PROJECT_DIR / deploy.PREFECT_FILE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_prefect_yaml_defines_the_deployments(project):
    deployments = {deployment["name"]: deployment for deployment in project["deployments"]}

    assert set(deployments) == {"nightly", "on-demand", "train-model"}
    assert deployments["nightly"]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert deployments["nightly"]["schedules"] == [{"cron": "30 3 * * *", "timezone": "UTC"}]
    assert "schedules" not in deployments["on-demand"]
    assert deployments["train-model"]["work_pool"]["name"] == "gpu"
    assert deployments["train-model"]["work_pool"]["job_variables"]["env"]["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_time_zone_set_once():
    text = (PROJECT_DIR / deploy.PREFECT_FILE).read_text()

    assert text.count("timezone:") == 1
    assert text.count("*nightly_schedule") == 1


def test_prefect_yaml_pull_step_reaches_no_network(project):
    assert project["pull"] == [{"rnnpipe.service.set_project_directory": {}}]
    assert project["build"] is None
    assert project["push"] is None


def test_prefect_yaml_defines_cpu_and_gpu_process_pools(project):
    pools = {pool["name"]: pool for pool in deploy.pool_definitions(project)}

    assert {name: pool["type"] for name, pool in pools.items()} == {"cpu": "process", "gpu": "process"}


def test_every_job_variable_is_in_the_process_template(project, process_template):
    for entry in [*project["deployments"], *[{"work_pool": pool} for pool in project["work_pools"]]]:
        job_variables = entry["work_pool"].get("job_variables", {})

        assert deploy.unknown_job_variables(job_variables, process_template) == []


def test_unknown_job_variable_is_rejected_with_its_name(process_template):
    with pytest.raises(
        deploy.DeployError,
        match=r"Work pool 'gpu' in prefect\.yaml sets job variable 'gpu_count', which the base job "
        r"template of work pool 'gpu' does not define, so the worker would ignore it\. The template "
        r"defines: command, env, labels, name, stream_output, working_dir\.",
    ):
        deploy.base_job_template(process_template, {"env": {}, "gpu_count": 1}, "gpu")


def test_pool_job_variables_become_template_defaults(process_template):
    template = deploy.base_job_template(process_template, {"env": {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}}, "gpu")

    assert template["variables"]["properties"]["env"]["default"] == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert "default" not in process_template["variables"]["properties"]["env"]


def test_unreachable_server_message(tmp_path):
    api_url = f"http://127.0.0.1:{free_port()}/api"

    with pytest.raises(
        deploy.ServerUnreachableError,
        match=rf"Cannot reach the Prefect server at PREFECT_API_URL={api_url} \(.*\)\. Start it with 'make up'",
    ):
        deploy.deploy_project(api_url, PROJECT_DIR, deploy.prefect_executable(), {}, tmp_path / "deploy.log")


def test_missing_prefect_yaml_is_reported(tmp_path):
    with pytest.raises(deploy.DeployError, match=r"prefect\.yaml not found\. Run the command from the rnnpipe checkout\."):
        deploy.load_project(tmp_path / "prefect.yaml")


def test_project_directory_is_the_checkout(monkeypatch):
    monkeypatch.delenv(service.PROJECT_DIR_VARIABLE, raising=False)

    assert service.project_directory() == PROJECT_DIR


def test_project_directory_without_prefect_yaml_is_rejected(monkeypatch, tmp_path):
    monkeypatch.setenv(service.PROJECT_DIR_VARIABLE, str(tmp_path))

    with pytest.raises(service.ServiceError, match=rf"RNNPIPE_PROJECT_DIR={tmp_path} has no prefect\.yaml"):
        service.project_directory()


def test_busy_port_is_reported_before_the_server_starts(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        target = service.Service.for_project(PROJECT_DIR, port, tmp_path)

        with pytest.raises(service.ServiceError, match=rf"Port {port} on 127\.0\.0\.1 is already in use"):
            service.start_server(target, deploy.prefect_executable())


def test_stale_pid_file_is_not_a_running_process(tmp_path):
    target = service.Service.for_project(PROJECT_DIR, 4200, tmp_path)
    target.pid_dir.mkdir(parents=True)
    # Linux never hands out a process id above 2**22.
    record = {"pid": 2**22 + 1, "command": ["prefect", "server", "start"]}
    (target.pid_dir / "server.pid").write_text(json.dumps(record))

    assert service.running_pid(target, "server") is None
    assert service.down(target) == []
    assert not (target.pid_dir / "server.pid").exists()


def test_down_stops_a_process_and_its_children(tmp_path):
    target = service.Service.for_project(PROJECT_DIR, 4200, tmp_path)
    target.pid_dir.mkdir(parents=True)
    target.log_dir.mkdir(parents=True)
    # A parent that starts a child in a session of its own, as a worker starts a flow run.
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True); "
        "time.sleep(60)"
    )
    parent = service._start_background(target, "worker-cpu", [sys.executable, "-c", script])
    for _ in range(50):
        if service._descendants(parent):
            break
        time.sleep(0.1)
    children = service._descendants(parent)

    stopped = service.down(target)

    assert stopped == [f"stopped worker-cpu (pid {parent})"]
    assert len(children) == 1
    assert not service._is_alive(parent)
    assert not service._is_alive(children[0])
