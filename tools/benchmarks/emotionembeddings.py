"""Benchmark entry of the EmotionEmbeddings recipe: epoch time with the frozen wav2vec2 cached vs recomputed.

Run: python tools/benchmark.py --recipes emotionembeddings [--quick]

Workload (fixed): synthetic EmoDB (seed 0) on the paper's split, the single-corpus recipe (GRU 1 x 64, batch 8)
over a randomly initialised wav2vec2 written to the work folder (hidden size 256, 4 layers, 256 feature-encoder
channels: a small stand-in for the paper's 24-layer XLSR, whose per-utterance cost is far higher, so the
speed-up measured here is a lower bound). Three epochs are profiled on CPU with one thread: with the cache
(the first fills it, the second reads it) and without (the front-end runs on every utterance, as a recipe
without a cache would). Target: the cached epoch is at least 5x faster than the recomputing one.
"""
import json
import os
import sys

import torch
from hyperpyyaml import load_hyperpyyaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from emo_lobes.lobes.ssl_frontend import write_tiny_wav2vec2  # noqa: E402
from emo_lobes.training.profiling import profile_training_epoch  # noqa: E402
from emo_lobes.data.synthetic import write_corpus  # noqa: E402
from tools.benchmarks._common import load_recipe_module  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "EmotionEmbeddings")
#: What the benchmark checks (tools/benchmark.py compares the result with these).
TARGETS = {"cache_speedup": (">=", 5.0)}
#: The quick run's 32-wide wav2vec2 costs less than the GRU: a cache speed-up there says nothing (full run: 5x is met).
QUICK_TARGETS = {}
#: The stand-in wav2vec2 (full workload) and the quick one (a smoke test of the entry).
MODEL_SIZES = {"full": {"hidden_size": 256, "num_layers": 4, "conv_channels": 256, "num_heads": 4},
               "quick": {"hidden_size": 32, "num_layers": 2, "conv_channels": 32, "num_heads": 2}}


def _brain(train, workdir, model_folder, cache, overrides):
    # A fresh Brain and training set of the single-corpus recipe, with or without the feature cache.
    overrides = dict(overrides, ssl_source=model_folder, cache_frontend=cache,
                     output_folder=os.path.join(workdir, "cached" if cache else "recomputed"))
    with open(os.path.join(RECIPE, "hparams", "single_corpus_w2v2.yaml"), encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    paths = train.prepare_emotion_embeddings(**train.prep_options(hparams))
    with open(paths["labels"], encoding="utf-8") as labels_file:
        labels = {c: sorted(table) for c, table in json.load(labels_file).items()}
    datasets = train.dataio_prep(hparams, paths, labels)
    brain = train.build_brain(hparams, {"device": "cpu"}, labels)
    return brain, datasets["train"], hparams


def run(workdir, quick=False):
    """Profile epochs of the recipe with the frozen front-end cached, and recomputed every epoch.

    Arguments
    ---------
    workdir : str
        Scratch folder (synthetic corpus, model, cache, prep and outputs go here).
    quick : bool
        Tiny wav2vec2 and 4 batches per epoch instead of the stand-in model and the whole training set.

    Returns
    -------
    dict
        The cached second epoch's :func:`emo_lobes.training.profiling.profile_training_epoch` numbers, plus
        ``epoch_s_cached_first``, ``epoch_s_cached``, ``epoch_s_recomputed``, ``cache_speedup``,
        ``frontend_calls`` and ``workload``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # steady timings on a shared machine
    try:
        train = load_recipe_module("EmotionEmbeddings", "train")
        data_root = os.path.dirname(write_corpus("emodb", os.path.join(workdir, "data"), seed=0))
        size = MODEL_SIZES["quick" if quick else "full"]
        model_folder = write_tiny_wav2vec2(os.path.join(workdir, "wav2vec2"), seed=0, **size)
        overrides = {"data_folder": os.path.join(data_root, "EmoDB"), "corpus": "emodb", "eval_corpora": ["emodb"],
                     "feature_cache_dir": os.path.join(workdir, "feature_cache")}
        max_batches = 4 if quick else None
        loader = {"batch_size": 8, "shuffle": False}
        torch.manual_seed(0)
        cached, train_set, hparams = _brain(train, workdir, model_folder, True, overrides)
        frontend = cached.modules.cached_frontend
        first = profile_training_epoch(cached, train_set, [frontend], loader, max_batches)
        calls_after_first = frontend.n_frontend_calls
        second = profile_training_epoch(cached, train_set, [frontend], loader, max_batches)
        torch.manual_seed(0)
        recomputing, train_set, _ = _brain(train, workdir, model_folder, False, overrides)
        recomputed = profile_training_epoch(recomputing, train_set, [recomputing.modules.cached_frontend], loader,
                                            max_batches)
    finally:
        torch.set_num_threads(threads)
    stats = dict(second)
    stats.update(
        epoch_s_cached_first=first["seconds"], epoch_s_cached=second["seconds"],
        epoch_s_recomputed=recomputed["seconds"],
        cache_speedup=round(recomputed["seconds"] / max(second["seconds"], 1e-9), 2),
        frontend_calls={"cached_first_epoch": calls_after_first,
                        "cached_second_epoch": frontend.n_frontend_calls - calls_after_first,
                        "recomputed_epoch": recomputing.modules.cached_frontend.n_frontend_calls},
        workload=(f"synthetic EmoDB, paper split, single-corpus GRU 1x64, batch 8, "
                  f"{'tiny' if quick else 'stand-in'} random wav2vec2 {size}, "
                  f"{second['utterances']} utterances per profiled epoch, 1 thread"),
        features="frozen wav2vec2: cached on disk vs recomputed per utterance",
    )
    return stats
