"""Shared pytest setup: recipe modules forgotten after each test, and one torch thread for tests that ask for it."""
import sys

import pytest
import torch


@pytest.fixture(autouse=True)
def forget_recipe_modules():
    """Drop recipe-level ``prepare``/``train`` modules after each test so the next recipe imports its own."""
    yield
    for name in ("prepare", "train", "make_table", "make_tables", "svm_baselines", "cross_corpus",
                 "plot_embeddings", "egemaps_svm"):
        sys.modules.pop(name, None)


@pytest.fixture
def one_torch_thread():
    """Torch on one thread in the test process too, as ``OMP_NUM_THREADS=1`` makes it in the recipe subprocesses
    (two threads on a shared 2-core CPU are many times slower); the previous count is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
