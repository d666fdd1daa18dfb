"""Benchmark entry of the Language-ID MTL recipe: one training epoch of the pooled multi-task LSTM on MFCC frames.

Run: python tools/benchmark.py --recipes languagemtl [--quick]

Workload: the five synthetic corpora (EMO-DB, SAVEE, EMOVO, MASC, IEMOCAP) pooled, hparams/multitask.yaml as it
is (its corpora declarations and split, 2 x 128 LSTM, emotion + language heads, batch 32, 1 CPU thread). Kaldi MFCCs
are computed once into the feature cache (timed apart: first pass and cache reload), so an epoch only reads them from
memory: the share of time outside the model should be small.
"""
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tools.benchmarks._common import load_recipe_module  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "LanguageMTL")
CORPORA = ("emodb", "savee", "emovo", "masc", "iemocap")
#: Features are cached, so little time should go outside the LSTM.
TARGETS = {"outside_model_share": ("<=", 0.2)}


def run(workdir, quick=False):
    """Write the synthetic corpora, prepare, cache the features, profile one training epoch.

    Arguments
    ---------
    workdir : str
        Where the corpora, the feature cache and the experiment go.
    quick : bool
        Profile 5 batches instead of the whole epoch.

    Returns
    -------
    dict
        :func:`emo_lobes.training.profiling.profile_training_epoch`'s numbers plus ``workload``, ``n_train``,
        ``feature_extraction_s`` (first pass: computes what the cache lacks, everything in a fresh workdir)
        and ``feature_reload_s`` (second pass, all from the cache).
    """
    import torch
    from hyperpyyaml import load_hyperpyyaml

    from emo_lobes.training.profiling import profile_training_epoch
    from emo_lobes.data.synthetic import write_corpus

    train = load_recipe_module("LanguageMTL", "train")
    for corpus in CORPORA:
        write_corpus(corpus, os.path.join(workdir, "data"))
    overrides = {"data_folder": os.path.join(workdir, "data"), "output_folder": os.path.join(workdir, "exp"),
                 "feature_cache_folder": os.path.join(workdir, "feature_cache")}
    with open(os.path.join(RECIPE, "hparams", "multitask.yaml"), encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    if hparams["cpu_threads"]:
        torch.set_num_threads(int(hparams["cpu_threads"]))  # as train.py does
    declarations = train.run_declarations(hparams)  # the hparams' corpora, as train.py reads them
    train.prepare_language_mtl(declarations, hparams["prep_folder"], fold=hparams["fold"], seed=hparams["seed"])
    manifests = {corpus: train.corpus_manifests(hparams["prep_folder"], corpus) for corpus in declarations}
    folders = {corpus: decl.folder for corpus, decl in declarations.items()}
    start = time.perf_counter()
    train.dataio_prep(hparams, manifests, folders)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    datasets = train.dataio_prep(hparams, manifests, folders)
    warm = time.perf_counter() - start
    hparams["stage_name"] = "benchmark"
    brain = train.LanguageMTLBrain(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
                                   run_opts={"device": "cuda" if torch.cuda.is_available() else "cpu"},
                                   checkpointer=None)
    stats = profile_training_epoch(brain, datasets["pooled_train"], feature_modules=[brain.modules.normalize],
                                   loader_kwargs=dict(hparams["dataloader_options"]),
                                   max_batches=5 if quick else None)
    stats.update(workload=f"LanguageMTL multitask LSTM, MFCC 120x13, {len(datasets['pooled_train'])} synthetic "
                          f"utterances of {len(CORPORA)} corpora, batch {hparams['batch_size']}",
                 n_train=len(datasets["pooled_train"]), feature_extraction_s=round(cold, 3),
                 feature_reload_s=round(warm, 3), device=str(brain.device))
    return stats
