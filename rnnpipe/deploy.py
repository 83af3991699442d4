"""Create the work pools and apply ``prefect.yaml`` after checking it against the server.

``prefect deploy`` stores a job variable that the work pool's base job template
does not define, and the worker then silently ignores it. So before it runs,
every job variable in ``prefect.yaml`` is checked against the template of its
pool. A server that cannot be reached is reported with the address that was
tried. This module talks to the Prefect REST API with the standard library
and runs the ``prefect`` command for the rest, so that ``rnnpipe`` itself never
imports Prefect.
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rnnpipe.errors import RnnpipeError

logger = logging.getLogger(__name__)

PREFECT_FILE = "prefect.yaml"
REQUEST_TIMEOUT_SECONDS = 10.0
# The server responds with 503 when its SQLite database is busy with another
# write. Prefect's own client retries 503 with an exponential back-off, and so
# does this module.
RETRIES_ON_BUSY = 5


class DeployError(RnnpipeError):
    """A prefect.yaml, a work pool or a server that a deployment cannot use."""


class ServerUnreachableError(DeployError):
    """No Prefect server responds at the configured API address."""


# --- the project file ---------------------------------------------------------------


def load_project(prefect_file: Path) -> dict:
    """Read ``prefect.yaml`` with its anchors resolved."""
    prefect_file = Path(prefect_file)
    if not prefect_file.is_file():
        raise DeployError(f"{prefect_file} not found. Run the command from the rnnpipe checkout.")
    document = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not document.get("deployments"):
        raise DeployError(f"{prefect_file} defines no deployments: expected a 'deployments:' list.")
    return document


def pool_definitions(project: dict) -> list[dict]:
    """Return the ``work_pools`` entries of ``prefect.yaml``: name, type, description, job_variables."""
    pools = project.get("work_pools") or []
    for pool in pools:
        if not pool.get("name") or not pool.get("type"):
            raise DeployError(f"Every entry of work_pools in {PREFECT_FILE} needs a name and a type. Received: {pool}")
    return pools


def unknown_job_variables(job_variables: Mapping[str, Any], base_job_template: Mapping[str, Any]) -> list[str]:
    """Return the names in ``job_variables`` that the template's ``variables.properties`` lacks, sorted."""
    defined = base_job_template.get("variables", {}).get("properties", {})
    return sorted(name for name in job_variables if name not in defined)


def base_job_template(default_template: dict, job_variables: Mapping[str, Any], pool_name: str) -> dict:
    """Copy Prefect's default template for the pool type and set ``job_variables`` as its defaults.

    Raises:
        DeployError: naming each job variable that the template does not define.
    """
    unknown = unknown_job_variables(job_variables, default_template)
    if unknown:
        raise DeployError(_unknown_variables_message(f"Work pool '{pool_name}' in {PREFECT_FILE}", unknown, pool_name, default_template))
    template = copy.deepcopy(default_template)
    properties = template["variables"]["properties"]
    for name, value in job_variables.items():
        properties[name]["default"] = value
    return template


def _unknown_variables_message(owner: str, unknown: list[str], pool_name: str, template: Mapping[str, Any]) -> str:
    defined = ", ".join(sorted(template.get("variables", {}).get("properties", {})))
    names = ", ".join(repr(name) for name in unknown)
    return (
        f"{owner} sets job variable{'s' if len(unknown) > 1 else ''} {names}, which the base job "
        f"template of work pool '{pool_name}' does not define, so the worker would ignore "
        f"{'them' if len(unknown) > 1 else 'it'}. The template defines: {defined}. Remove the "
        f"variable from {PREFECT_FILE}, or add it to the pool's base job template."
    )


# --- the server ----------------------------------------------------------------------


def check_server(api_url: str) -> None:
    """Raise ServerUnreachableError unless the Prefect API at ``api_url`` passes its health check."""
    try:
        request_json("GET", api_url, "/health")
    except ServerUnreachableError:
        raise
    except DeployError as error:
        raise ServerUnreachableError(
            f"The Prefect server at PREFECT_API_URL={api_url} is not healthy: {error}. "
            "Start it with 'make up', or set PREFECT_API_URL to the API address of a running server."
        ) from None


def request_json(method: str, api_url: str, path: str, body: Any = None) -> Any:
    """Send one request to the Prefect REST API and return the decoded JSON response, or None.

    Raises:
        ServerUnreachableError: when no server responds at ``api_url``.
        DeployError: when the server responds with an error status.
    """
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        api_url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    for attempt in range(RETRIES_ON_BUSY + 1):
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                payload = response.read()
            return json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            if error.code == 503 and attempt < RETRIES_ON_BUSY:
                logger.info("%s %s: the server is busy (HTTP 503); retry %d/%d", method, path, attempt + 1, RETRIES_ON_BUSY)
                time.sleep(0.5 * 2**attempt)
                continue
            detail = error.read().decode("utf-8", "replace")[:500]
            raise DeployError(f"{method} {path} failed with HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ServerUnreachableError(
                f"Cannot reach the Prefect server at PREFECT_API_URL={api_url} ({reason}). Start it "
                "with 'make up', or set PREFECT_API_URL to the API address of a running server."
            ) from None
    raise AssertionError("unreachable: the last attempt returns or raises")


def read_work_pool(api_url: str, name: str) -> dict | None:
    """Return the work pool ``name`` from the server, or None when it does not exist."""
    try:
        return request_json("GET", api_url, f"/work_pools/{urllib.parse.quote(name)}")
    except ServerUnreachableError:
        raise
    except DeployError as error:
        if "HTTP 404" in str(error):
            return None
        raise


# --- the steps of `rnnpipe deploy` -------------------------------------------------


def default_base_job_template(prefect_executable: Path, worker_type: str, env: Mapping[str, str]) -> dict:
    """Ask the installed Prefect for the default base job template of ``worker_type``."""
    completed = subprocess.run(
        [str(prefect_executable), "work-pool", "get-default-base-job-template", "--type", worker_type],
        capture_output=True,
        text=True,
        env=dict(env),
        check=False,
    )
    if completed.returncode != 0:
        raise DeployError(
            f"'prefect work-pool get-default-base-job-template --type {worker_type}' failed "
            f"with exit status {completed.returncode}: {completed.stderr.strip()[-500:]}"
        )
    return json.loads(completed.stdout)


def apply_work_pools(api_url: str, project: dict, prefect_executable: Path, env: Mapping[str, str]) -> list[str]:
    """Create each pool of ``work_pools`` in ``prefect.yaml``, or update its template and description.

    Returns:
        The names of the pools.
    """
    templates: dict[str, dict] = {}
    names = []
    for pool in pool_definitions(project):
        worker_type = pool["type"]
        if worker_type not in templates:
            templates[worker_type] = default_base_job_template(prefect_executable, worker_type, env)
        template = base_job_template(templates[worker_type], pool.get("job_variables") or {}, pool["name"])
        description = pool.get("description")

        if read_work_pool(api_url, pool["name"]) is None:
            body = {"name": pool["name"], "type": worker_type, "base_job_template": template, "description": description}
            request_json("POST", api_url, "/work_pools/", body)
            logger.info("created work pool '%s' (type %s)", pool["name"], worker_type)
        else:
            body = {"base_job_template": template, "description": description}
            request_json("PATCH", api_url, f"/work_pools/{urllib.parse.quote(pool['name'])}", body)
            logger.info("updated the base job template of work pool '%s' (type %s)", pool["name"], worker_type)
        names.append(pool["name"])
    return names


def check_job_variables(api_url: str, project: dict) -> None:
    """Check every deployment's job variables against the base job template of its pool on the server.

    Raises:
        DeployError: naming the deployment, the unknown job variables and the pool,
            or a work pool that does not exist.
    """
    for deployment in project["deployments"]:
        work_pool = deployment.get("work_pool") or {}
        pool_name = work_pool.get("name")
        if not pool_name:
            continue
        pool = read_work_pool(api_url, pool_name)
        if pool is None:
            raise DeployError(
                f"Deployment '{deployment.get('name')}' runs on work pool '{pool_name}', which does "
                f"not exist on the server at {api_url}. Add it to work_pools in {PREFECT_FILE}, or "
                f"create it with 'prefect work-pool create {pool_name} --type process'."
            )
        unknown = unknown_job_variables(work_pool.get("job_variables") or {}, pool["base_job_template"])
        if unknown:
            raise DeployError(
                _unknown_variables_message(
                    f"Deployment '{deployment.get('name')}' in {PREFECT_FILE}", unknown, pool_name, pool["base_job_template"]
                )
            )


def run_prefect_deploy(
    prefect_executable: Path, project_dir: Path, prefect_file: Path, env: Mapping[str, str], log_path: Path
) -> None:
    """Run ``prefect deploy --all`` without prompts and keep its output in ``log_path``."""
    command = [str(prefect_executable), "deploy", "--all", "--no-prompt", "--prefect-file", str(prefect_file)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        completed = subprocess.run(command, cwd=project_dir, env=dict(env), stdout=log, stderr=subprocess.STDOUT, check=False)
    if completed.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise DeployError(f"'prefect deploy --all' failed with exit status {completed.returncode}. End of {log_path}:\n{tail}")


def check_deployments_exist(api_url: str, project: dict) -> list[dict]:
    """Read back each deployment of ``prefect.yaml`` from the server.

    ``prefect deploy`` skips a deployment whose entry it cannot validate with only
    a warning, so a missing one is reported here.

    Returns:
        The deployments as the server returns them.
    """
    names = [deployment["name"] for deployment in project["deployments"]]
    found = request_json("POST", api_url, "/deployments/filter", {"deployments": {"name": {"any_": names}}}) or []
    missing = sorted(set(names) - {deployment["name"] for deployment in found})
    if missing:
        raise DeployError(
            f"prefect deploy did not create the deployment(s) {', '.join(missing)} from {PREFECT_FILE}. "
            "Its output, in the deploy log, says why."
        )
    return found


def deploy_project(
    api_url: str,
    project_dir: Path,
    prefect_executable: Path,
    env: Mapping[str, str],
    log_path: Path,
    prefect_file: Path | None = None,
) -> list[dict]:
    """Create the work pools, check the job variables, apply ``prefect.yaml`` and read it back.

    Args:
        prefect_file: The file to apply instead of ``prefect.yaml`` in ``project_dir``.
            Its entrypoints are still relative to ``project_dir``.

    Returns:
        The deployments as the server returns them.
    """
    prefect_file = Path(prefect_file or Path(project_dir) / PREFECT_FILE)
    project = load_project(prefect_file)
    check_server(api_url)

    apply_work_pools(api_url, project, prefect_executable, env)
    check_job_variables(api_url, project)

    deploy_env = {**env, "PREFECT_API_URL": api_url}
    run_prefect_deploy(prefect_executable, Path(project_dir), prefect_file, deploy_env, log_path)
    deployments = check_deployments_exist(api_url, project)
    logger.info("applied %s: deployments %s", prefect_file, ", ".join(sorted(d["name"] for d in deployments)))
    return deployments


def prefect_executable() -> Path:
    """Return the ``prefect`` command beside the running Python, as installed in its environment."""
    candidate = Path(sys.executable).parent / "prefect"
    if not candidate.exists():
        raise DeployError(f"The prefect command was not found beside {sys.executable}. Run 'make install'.")
    return candidate

