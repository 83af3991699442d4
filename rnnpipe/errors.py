"""The base class of failures that a user fixes by changing an input or a setting."""


class RnnpipeError(Exception):
    """An expected failure whose message names the value and what to change.

    The ``rnnpipe`` command prints these without a traceback, because the
    traceback only shows where rnnpipe noticed the problem.
    """
