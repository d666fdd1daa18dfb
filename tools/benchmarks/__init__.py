"""Benchmark entries, one module per recipe, each with ``run(workdir, quick=False) -> dict``."""
