"""Prefect tasks: thin wrappers that call one rnnpipe function each.

A task takes small descriptors, logs one summary line, publishes at most one
artifact and returns a small JSON-serialisable descriptor. Arrays, frames and
models stay in the run folder.
"""
