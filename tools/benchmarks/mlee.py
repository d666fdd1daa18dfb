"""Benchmark entry of the MLEE recipe: training utterances/s and the share of epoch time outside the model.

Run: python tools/benchmark.py --recipes mlee [--quick]

Workload (fixed): synthetic IEMOCAP (seed 0), fold 1 of mlee.yaml's declared split (leave-one-speaker-out, dev the
test speaker's session partner), MLEE on the ``all`` training set with the paper's 0.9 / 1.1
speed-perturbed copies, the Table 2 model, batch 16, on CPU. Features are computed on the fly: the audio
pipeline only reads (and speed-perturbs) waveforms; the STFT runs on the padded batch inside
``compute_forward``, so the spectrogram and normaliser are timed as "outside the model".
"""
import os
import sys

import torch
from hyperpyyaml import load_hyperpyyaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from emo_lobes.training.profiling import profile_training_epoch  # noqa: E402
from emo_lobes.data.synthetic import write_corpus  # noqa: E402
from tools.benchmarks._common import load_recipe_module  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "MLEE")
#: What the benchmark checks (tools/benchmark.py compares the result with these).
TARGETS = {"outside_model_share": ("<=", 0.20)}
#: The quick workload's tiny model (a smoke test of the entry, not a measurement of the paper's model).
QUICK_OVERRIDES = {"cnn_channels": [4, 4, 4], "lstm_size": 8, "attention_size": 8, "dense_size": 8}


def run(workdir, quick=False):
    """Profile training batches of the MLEE recipe on the fixed synthetic workload.

    Arguments
    ---------
    workdir : str
        Scratch folder (synthetic corpus, prep and output go here).
    quick : bool
        Tiny model, no speed copies and 3 batches instead of the paper's model and 10 batches.

    Returns
    -------
    dict
        :func:`emo_lobes.training.profiling.profile_training_epoch`'s numbers plus ``workload``, ``features`` and
        ``num_workers``.
    """
    train = load_recipe_module("MLEE", "train")
    corpus = write_corpus("iemocap", workdir, seed=0)
    overrides = {"data_folder": corpus, "output_folder": os.path.join(workdir, "mlee_benchmark"), "fold": 1,
                 "training_set": "all", "speed_factors": [] if quick else [0.9, 1.1]}
    if quick:
        overrides.update(QUICK_OVERRIDES)
    with open(os.path.join(RECIPE, "hparams", "mlee.yaml"), encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    options = train.prepare_options(hparams)  # the hparams' declaration: IEMOCAP improvised, LOSO fold 1
    train.prepare_mlee(**options)
    datasets = train.dataio_prep(hparams, options["declaration"].folder)
    brain = train.MLEEBrain(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
                            run_opts={"device": "cpu"})
    for name, value in train.training_weights(datasets["train"], hparams).items():
        setattr(brain, name, value)
    torch.manual_seed(0)
    loader_kwargs = dict(hparams["train_dataloader_opts"])
    stats = profile_training_epoch(
        brain, datasets["train"], feature_modules=[brain.modules.spectrogram, brain.modules.mlee_normalizer],
        loader_kwargs=loader_kwargs, max_batches=3 if quick else 10)
    stats.update(
        workload=("synthetic IEMOCAP fold 1, MLEE, training set all, "
                  + ("tiny model, no speed copies" if quick else "Table 2 model, speed copies 0.9/1.1")
                  + f", batch {hparams['batch_size']}, {len(datasets['train'])} training utterances"),
        features="on the fly: STFT of the padded batch in compute_forward (no cache)",
        num_workers=loader_kwargs.get("num_workers", 0),
        threads=torch.get_num_threads(),
    )
    return stats
