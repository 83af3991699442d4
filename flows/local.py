"""Running the comparison flow in this process against a temporary Prefect server."""

from __future__ import annotations

import logging

from prefect.logging.configuration import setup_logging
from prefect.logging.handlers import PrefectConsoleHandler

from flows.compare import compare_recurrent_models
from rnnpipe.config import PipelineConfig
from rnnpipe.errors import RnnpipeError


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
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("prefect")
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.addFilter(_HideExpectedTracebacks())


def run_in_process(config: PipelineConfig) -> dict:
    """Run the comparison flow here, with expected failures logged without a traceback.

    Call ``rnnpipe.environment.apply_prefect_defaults`` before importing this
    module, because Prefect reads its settings on import.
    """
    setup_logging()
    hide_expected_tracebacks()
    return compare_recurrent_models(config)
