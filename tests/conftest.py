"""Shared pytest setup: recipe scripts import their sibling ``prepare``/``train`` modules by bare name."""
import sys

import pytest


@pytest.fixture(autouse=True)
def forget_recipe_modules():
    """Drop recipe-level ``prepare``/``train`` modules after each test so the next recipe imports its own."""
    yield
    for name in ("prepare", "train", "make_table", "make_tables", "svm_baselines", "cross_corpus",
                 "plot_embeddings", "egemaps_svm"):
        sys.modules.pop(name, None)
