#!/usr/bin/env python3
"""The Section IV-A grid search: emotion model x size x learning rate x feature, each trained per corpus, picked on dev.

Run (the paper searched on GEMEP and RAVDESS, each on its own, 50 epochs per setup; --dry_run prints the commands):
python recipes/EmotionEmbeddings/grid_search.py --data_folder /data --corpus gemep ravdess \
    --output_folder results/EmotionEmbeddings/grid_search [--features mfb w2v2] [--models gru transformer] \
    [--sizes 1x64 2x128 4x256] [--lrs 0.01 0.001 0.0001] [--train_overrides="--number_of_epochs=50"]
Each setup is the single-corpus recipe (hparams/single_corpus_<feature>.yaml) with its emotion_model_type,
num_layers x hidden_size and lr overridden, in <output_folder>/<setup>/<corpus>/. A setup's score is its best dev
UAR (the epoch the recipe tests, read from train_log.txt), averaged over the corpora; the setups are ranked by it
in grid_search.md / grid_search.json and only the chosen one's test UAR is printed (selection never sees test).
A finished run is not redone and an interrupted one resumes: rerun the same command.
"""
import argparse
import itertools
import os
import shlex
import sys

import numpy as np

from emo_lobes.data.manifest import write_json_atomic, write_text_atomic
from emo_lobes.errors import EmoLobesError, cli_errors
from emo_lobes.evaluation.metrics import read_test_results
from emo_lobes.evaluation.plots import read_train_log
from emo_lobes.evaluation.tables import markdown_table
from emo_lobes.training.run_lock import claim_driver_folder, run_command_once

RECIPE_DIR = os.path.dirname(os.path.abspath(__file__))
#: Section IV-A's grid: emotion models (the Transformer with 8 heads), "layers x nodes", learning rates, features.
PAPER_GRID = {"models": ("gru", "transformer"), "sizes": ("1x64", "2x128", "4x256"),
              "lrs": (0.01, 0.001, 0.0001), "features": ("mfb", "w2v2")}
#: The paper's pick (Section IV-A): W2V2 features, a GRU of 1 layer with 64 nodes, lr 0.0001.
PAPER_CHOICE = "w2v2_gru_1x64_lr0.0001"


def parse_size(text):
    """``"2x128"`` -> ``(2, 128)`` (layers, nodes); a one-line error otherwise.

    Example
    -------
    >>> parse_size("2x128")
    (2, 128)
    """
    layers, sep, nodes = text.partition("x")
    if not sep or not layers.isdigit() or not nodes.isdigit() or int(layers) < 1 or int(nodes) < 1:
        raise EmoLobesError(f"cannot read size '{text}'", "write sizes as LAYERSxNODES, e.g. 2x128")
    return int(layers), int(nodes)


def setup_name(feature, model, size, lr):
    """The folder name of one setup.

    Example
    -------
    >>> setup_name("w2v2", "gru", "1x64", 0.0001)
    'w2v2_gru_1x64_lr0.0001'
    """
    return f"{feature}_{model}_{size}_lr{lr:g}" if lr >= 1e-4 else f"{feature}_{model}_{size}_lr{lr:.0e}"


def grid_runs(corpora, data_folder, output_folder, features=PAPER_GRID["features"], models=PAPER_GRID["models"],
              sizes=PAPER_GRID["sizes"], lrs=PAPER_GRID["lrs"], train_overrides=()):
    """Every run of the grid: ``{"setup", "corpus", "folder", "command"}``, setup by setup.

    Arguments
    ---------
    corpora : list of str
        The corpora searched on, each trained on its own.
    data_folder, output_folder : str
        The folder holding the corpora, and the search's folder.
    features, models, sizes, lrs : sequence
        The grid's axes (default: Section IV-A's, :data:`PAPER_GRID`).
    train_overrides : sequence of str
        Overrides appended to every train.py command.

    Example
    -------
    >>> runs = grid_runs(["gemep", "ravdess"], "/data", "gs")
    >>> len(runs), runs[0]["setup"], runs[0]["corpus"], runs[-1]["setup"]
    (72, 'mfb_gru_1x64_lr0.01', 'gemep', 'w2v2_transformer_4x256_lr0.0001')
    >>> [a for a in runs[-1]["command"] if a.startswith(("--num_layers", "--hidden_size", "--lr"))]
    ['--num_layers=4', '--hidden_size=256', '--lr=0.0001']
    """
    runs = []
    for feature, model, size, lr in itertools.product(features, models, sizes, lrs):
        layers, nodes = parse_size(size)
        hparams = os.path.join(RECIPE_DIR, "hparams", f"single_corpus_{feature}.yaml")
        if not os.path.isfile(hparams):
            raise EmoLobesError(f"no hparams file for feature '{feature}'", "use mfb or w2v2")
        if model == "transformer" and nodes % 8:
            raise EmoLobesError(f"size {size}: a Transformer with 8 heads needs nodes divisible by 8",
                                "pick another size")
        name = setup_name(feature, model, size, lr)
        for corpus in corpora:
            folder = os.path.join(output_folder, name, corpus)
            runs.append({"setup": name, "corpus": corpus, "folder": folder, "command": [
                sys.executable, os.path.join(RECIPE_DIR, "train.py"), hparams, f"--corpus={corpus}",
                f"--data_folder={data_folder}", f"--output_folder={folder}", f"--emotion_model_type={model}",
                f"--num_layers={layers}", f"--hidden_size={nodes}", f"--lr={lr}", *train_overrides]})
    return runs


def best_logged_dev_uar(folder):
    """The best dev UAR of a finished run (the epoch its checkpoint selection tests), from ``train_log.txt``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "train_log.txt"), "w").write(
    ...     "epoch: 1 - train loss: 2.0 - valid loss: 1.5, valid UAR: 0.3\\n"
    ...     "epoch: 2 - train loss: 1.2 - valid loss: 1.3, valid UAR: 0.45\\n")
    >>> best_logged_dev_uar(folder)
    0.45
    """
    path = os.path.join(folder, "train_log.txt")
    scores = [epoch["valid"]["UAR"] for epoch in read_train_log(path) if "UAR" in epoch.get("valid", {})] \
        if os.path.isfile(path) else []
    if not scores:
        raise EmoLobesError(f"{folder} logged no dev UAR", "the grid search needs a dev set in every corpus's split")
    return max(scores)


def rank_setups(runs):
    """Setups whose every corpus run finished, ranked by mean best dev UAR (ties: the order of the grid).

    Arguments
    ---------
    runs : list of dict
        :func:`grid_runs`'s (``setup``, ``corpus`` and ``folder`` are read).

    Returns
    -------
    list of dict
        ``{"setup", "dev_ua": {corpus: UAR}, "mean_dev_ua", "folders"}``, best first.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> def run(setup, ua):
    ...     folder = os.path.join(root, setup)
    ...     os.makedirs(folder)
    ...     _ = open(os.path.join(folder, "train_log.txt"), "w").write(f"epoch: 1 - train loss: 1 - valid UAR: {ua}\\n")
    ...     _ = open(os.path.join(folder, "test_results.json"), "w").write("{}")
    ...     return {"setup": setup, "corpus": "gemep", "folder": folder}
    >>> [(r["setup"], r["mean_dev_ua"]) for r in rank_setups([run("a", 0.4), run("b", 0.6)])]
    [('b', 0.6), ('a', 0.4)]
    """
    by_setup = {}
    for run in runs:
        by_setup.setdefault(run["setup"], []).append(run)
    ranked = []
    for setup, setup_runs in by_setup.items():
        if not all(os.path.isfile(os.path.join(r["folder"], "test_results.json")) for r in setup_runs):
            continue
        dev = {r["corpus"]: best_logged_dev_uar(r["folder"]) for r in setup_runs}
        ranked.append({"setup": setup, "dev_ua": dev, "mean_dev_ua": float(np.mean(list(dev.values()))),
                       "folders": {r["corpus"]: r["folder"] for r in setup_runs}})
    return sorted(ranked, key=lambda row: -row["mean_dev_ua"])


def write_report(ranked, corpora, output_folder, n_setups):
    """``grid_search.md`` and ``grid_search.json``: the ranking on dev and the chosen setup's test UAR.

    Returns
    -------
    str or None
        The report, or ``None`` (nothing written) when no setup has finished.

    Example
    -------
    >>> write_report([], ["gemep"], "/nowhere", 36) is None
    True
    """
    if not ranked:
        return None
    chosen = ranked[0]
    tests = {corpus: read_test_results(folder)["ua"] for corpus, folder in chosen["folders"].items()}
    rows = [[row["setup"] + (" (paper's pick)" if row["setup"] == PAPER_CHOICE else ""),
             *[100 * row["dev_ua"][c] for c in corpora], 100 * row["mean_dev_ua"]] for row in ranked]
    table = markdown_table(["setup"] + [f"{c} dev UAR" for c in corpora] + ["mean dev UAR"], rows,
                           align=["l"] + ["r"] * (len(corpora) + 1))
    test = ", ".join(f"{c} {100 * ua:.1f}" for c, ua in tests.items())
    text = (f"Grid search (Section IV-A), {len(ranked)} of {n_setups} setups finished, ranked by mean best dev UAR "
            f"(%):\n\n{table}\n\nChosen on dev: {chosen['setup']}; its test UAR (%): {test}. The paper's pick: "
            f"{PAPER_CHOICE}.\n")
    write_text_atomic(text, os.path.join(output_folder, "grid_search.md"))
    write_json_atomic({"ranking": ranked, "chosen": chosen["setup"], "chosen_test_ua": tests,
                       "paper_choice": PAPER_CHOICE}, os.path.join(output_folder, "grid_search.json"))
    return text


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True, help="the folder holding the corpus folders (read-only)")
    parser.add_argument("--corpus", nargs="+", required=True, help="corpora searched on, each on its own")
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--features", nargs="+", default=list(PAPER_GRID["features"]))
    parser.add_argument("--models", nargs="+", default=list(PAPER_GRID["models"]), choices=PAPER_GRID["models"])
    parser.add_argument("--sizes", nargs="+", default=list(PAPER_GRID["sizes"]), help="LAYERSxNODES")
    parser.add_argument("--lrs", nargs="+", type=float, default=list(PAPER_GRID["lrs"]))
    parser.add_argument("--train_overrides", default="", help="overrides for every train.py run, one string")
    parser.add_argument("--dry_run", action="store_true", help="print the commands, start none")
    args = parser.parse_args(argv)
    runs = grid_runs(args.corpus, args.data_folder, args.output_folder, args.features, args.models, args.sizes,
                     args.lrs, shlex.split(args.train_overrides))
    if args.dry_run:
        print("\n".join(shlex.join(run["command"]) for run in runs))
        return
    # setups and corpora name their run folders; the data and the overrides do not
    claim_driver_folder(args.output_folder, args.data_folder, "grid search",
                        {"data_folder": os.path.abspath(args.data_folder), "train_overrides": args.train_overrides})
    for run in runs:  # each run's output goes to <its folder>/grid_stdout.log
        label = f"grid search {run['setup']} {run['corpus']}"
        run_command_once(label, run["command"], run["folder"], os.path.join(run["folder"], "test_results.json"))
    report = write_report(rank_setups(runs), args.corpus, args.output_folder, len(runs) // len(args.corpus))
    print(report)


if __name__ == "__main__":
    main()
