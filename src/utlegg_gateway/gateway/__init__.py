"""Orchestration: the run lifecycle, one file's pipeline, one case's work."""
