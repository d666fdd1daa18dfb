#!/usr/bin/env python3
"""EmoNet's eGeMAPS + linear SVM baseline (Section 4.1): openSMILE eGeMAPSv02 functionals, standardised on train,
LinearSVC with C on a log grid 1 .. 1e-9 chosen on dev UAR, refit on train + dev, tested.

Run (same split as a train.py run: reuse its prep folder, or give its split file <output_folder>/splits/<corpus>.json):
python recipes/EmoNet/egemaps_svm.py --prep_folder results/EmoNet/scratch/urdu/1986/fold_1/prep/urdu \
    --output_folder results/EmoNet/egemaps_svm/urdu/fold_1     # the corpus root: the one that prep read
python recipes/EmoNet/egemaps_svm.py --corpus urdu --data_folder /data/URDU \
    --split_file results/EmoNet/scratch/urdu/1986/fold_1/splits/urdu.json --output_folder results/EmoNet/egemaps_svm/urdu/fold_1
"""
import argparse
import json
import os
import sys
import warnings

from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import emonet_declarations, prepare_emonet  # noqa: E402

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.features.feature_cache import functionals  # noqa: E402
from emo_lobes.evaluation.functional_baselines import fit_functional_baseline, score_on_test  # noqa: E402
from emo_lobes.evaluation.split_baselines import EMONET_C_GRID  # noqa: E402
from emo_lobes.data.manifest import (  # noqa: E402
    assert_not_inside, check_output_folder_writable, load_manifest, recorded_corpus_folder)
from emo_lobes.evaluation.metrics import write_test_results  # noqa: E402

#: The complexity grid of Section 4.1: 1, 0.1, ..., 1e-9 (the leaderboard's egemaps_svm uses the same).
C_GRID = EMONET_C_GRID
FEATURE_SET = "eGeMAPSv02"


def run_baseline(prep_folder, data_folder, output_folder, cache_dir=None, seed=0):
    """Extract (or reuse) features for the prep's manifests, fit, test, write ``test_results.json``.

    Arguments
    ---------
    prep_folder : str
        Manifests of a train.py run (``train/valid/test.json``, ``labels.json``, ``split.json``).
    data_folder : str
        The corpus root (read-only).
    output_folder : str
        Where ``test_results.json`` goes.
    cache_dir : str, optional
        Feature cache folder (:func:`emo_lobes.features.feature_cache.functionals`).
    seed : int
        LinearSVC's random state.

    Returns
    -------
    dict
        The written results (metrics, chosen C, dev UAR per C).
    """
    parts, matrices = {}, {}
    for part in ("train", "valid", "test"):
        parts[part] = load_manifest(os.path.join(prep_folder, f"{part}.json"), data_root=data_folder)
        if not parts[part]:
            raise EmoLobesError(f"{prep_folder} has no {part} utterances; the baseline chooses C on dev UAR",
                                "use a split with a dev set")
        matrices[part] = (functionals([entry["wav"] for entry in parts[part].values()], FEATURE_SET, cache_dir),
                          [entry["emotion"] for entry in parts[part].values()])
    with open(os.path.join(prep_folder, "labels.json"), encoding="utf-8") as labels_file:
        labels = json.load(labels_file)
    with open(os.path.join(prep_folder, "split.json"), encoding="utf-8") as split_file:
        split = json.load(split_file)
    with warnings.catch_warnings():  # the small Cs of the grid stop before converging; dev UA judges them
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = fit_functional_baseline(matrices["train"], matrices["valid"], C_GRID, "linear_svc",
                                         refit_on_train_dev=True, seed=seed, max_iter=10000)
    metrics, predictions = score_on_test(fitted["model"], matrices["test"], labels=labels, ids=list(parts["test"]))
    for prediction, entry in zip(predictions, parts["test"].values()):  # wav relative to the corpus root
        prediction.update(wav=entry["rel_wav"], corpus=entry["corpus"])
    extra = {"corpus": split.get("corpus"), "split": {split.get("corpus"): {k: v for k, v in split.items()
                                                                          if k not in ("corpus", "counts")}},
             "method": "eGeMAPSv02 functionals + LinearSVC",
             "c": fitted["c"], "dev_ua_by_c": {str(c): ua for c, ua in fitted["dev_ua"].items()},
             "dev_ua": fitted["dev_ua"][fitted["c"]]}
    write_test_results(os.path.join(output_folder, "test_results.json"), metrics, predictions, extra)
    return dict(metrics, **extra)


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", help="the corpus root (read-only); with --prep_folder, default: the root "
                                              "that prep read (its prep_options.json)")
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--prep_folder", help="manifests of a train.py run (<output_folder>/prep/<corpus>)")
    parser.add_argument("--corpus", help="corpus (parser) name, when no --prep_folder is given")
    parser.add_argument("--split_file", help="a split file (e.g. a train.py run's splits/<corpus>.json)")
    parser.add_argument("--k", type=int, default=5,
                        help="without --split_file: folds of scratch.yaml's split (speaker k-fold, 15 %% dev speakers)")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1986, help="split seed (train.py's default seed is 1986)")
    parser.add_argument("--cache", help="feature cache folder (default: <output_folder>/feature_cache)")
    args = parser.parse_args(argv)
    if args.data_folder is None:
        if args.prep_folder is None:
            raise EmoLobesError("no --data_folder given", "pass the corpus root (or a train.py run's --prep_folder)")
        args.data_folder = recorded_corpus_folder(args.prep_folder, "corpus")
    assert_not_inside(args.output_folder, args.data_folder)
    check_output_folder_writable(args.output_folder)
    prep_folder, data_folder = args.prep_folder, args.data_folder
    if prep_folder is None:
        if args.corpus is None:
            raise EmoLobesError("neither --prep_folder nor --corpus given", "pass one of them")
        prep_folder = os.path.join(args.output_folder, "prep")
        split = {"method": "speaker_kfold", "k": args.k, "dev": {"speaker_fraction": 0.15}}
        declaration = emonet_declarations({}, args.data_folder, [args.corpus], split, args.split_file)[args.corpus]
        prepare_emonet(declaration, prep_folder, args.fold, args.seed)
        data_folder = declaration.folder  # the corpus root (--data_folder may be the folder holding it)
    elif not os.path.isfile(os.path.join(prep_folder, "split.json")):
        raise EmoLobesError(f"{prep_folder} holds no EmoNet manifests", "pass <train.py output_folder>/prep/<corpus>")
    cache = args.cache or os.path.join(args.output_folder, "feature_cache")
    results = run_baseline(prep_folder, data_folder, args.output_folder, cache, seed=args.seed)
    print(f"eGeMAPS + LinearSVC on {results['corpus']}: C={results['c']:g}, "
          f"dev UAR {results['dev_ua']:.3f}, test UAR {results['ua']:.3f}, WA {results['wa']:.3f}")


if __name__ == "__main__":
    main()
