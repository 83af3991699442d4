"""Environment settings for Prefect, Great Expectations and TensorFlow in rnnpipe's processes."""

from __future__ import annotations

import os

# Prefect settings for a temporary server on a slow first start. The first
# SQLite migration takes longer than Prefect's 20 s start-up timeout on two busy
# cores, and the server's analytics service tries to reach the internet and
# logs a 'database is locked' traceback. Values the user set are kept.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "rnnpipe",
    # rnnpipe's warnings outside a flow run, as in 'rnnpipe report', go to the
    # console only instead of raising a UserWarning about the missing run id.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    "GX_ANALYTICS_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def apply_prefect_defaults() -> None:
    """Set each of ``PREFECT_DEFAULTS`` in ``os.environ`` unless the user set it."""
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
