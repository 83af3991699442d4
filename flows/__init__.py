"""Prefect flows that chain the rnnpipe tasks."""
