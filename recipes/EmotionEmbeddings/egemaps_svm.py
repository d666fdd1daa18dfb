#!/usr/bin/env python3
"""eGeMAPS + linear SVM baseline on exactly the split of an EmotionEmbeddings run (its prep manifests).

Run (after train.py has prepared the run, e.g. the single-corpus URDU run):
python recipes/EmotionEmbeddings/egemaps_svm.py --run results/EmotionEmbeddings/single_corpus_mfb/urdu/0/fold_1 \
    --corpus urdu

The 88 eGeMAPSv02 functionals of each file (openSMILE, through emo_lobes.features.feature_cache, cached beside the
run) are standardised on the training set; a linear SVM (class weights balanced) is trained for each C in
{0.001, 0.01, 0.1, 1}, the C with the best dev UAR is kept and scored on the test set. Writes
<run>/egemaps_svm/test_results.json.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.data.manifest import recorded_corpus_folder  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.features.feature_cache import functionals  # noqa: E402
from emo_lobes.evaluation.functional_baselines import fit_functional_baseline, score_on_test  # noqa: E402
from emo_lobes.data.manifest import load_manifest  # noqa: E402
from emo_lobes.evaluation.metrics import write_test_results  # noqa: E402

FEATURE_SET = "eGeMAPSv02"
C_GRID = (0.001, 0.01, 0.1, 1.0)


def read_partition(run_folder, corpus, part, data_root):
    """Utterance ids, audio paths (absolute and relative to the corpus root) and classes of one partition of a
    run's prep (copies from oversampling dropped).

    Returns
    -------
    ids, paths, rel_wavs, labels : list of str
    """
    manifest = os.path.join(run_folder, "prep", corpus, f"{part}.json")
    entries = load_manifest(manifest, data_root=data_root)
    originals = [e for utt, e in entries.items() if e.get("source_id", utt) == utt]
    return ([e["utt_id"] for e in originals], [e["wav"] for e in originals], [e["rel_wav"] for e in originals],
            [str(e["target"]) for e in originals])


def corpus_root(run_folder, corpus):
    """The folder a run read ``corpus`` from (its declaration in ``prep/prep_options.json``)."""
    return recorded_corpus_folder(os.path.join(run_folder, "prep"), "corpora", corpus)


@cli_errors
def main(argv=None):
    """Command line (see the module docstring); returns the test metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="output folder of a train.py run (holds prep/)")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--corpus_folder", default=None, help="the corpus folder (default: the one the run read)")
    args = parser.parse_args(argv)
    with open(os.path.join(args.run, "prep", "labels.json"), encoding="utf-8") as labels_file:
        table = json.load(labels_file)
    if args.corpus not in table:
        raise EmoLobesError(f"corpus {args.corpus} is not in the run {args.run}", f"use one of {', '.join(table)}")
    labels = sorted(table[args.corpus])
    root = args.corpus_folder or corpus_root(args.run, args.corpus)
    cache_dir = os.path.join(args.run, "egemaps_svm", "feature_cache")
    parts = {}
    for part in ("train", "valid", "test"):
        ids, paths, rel_wavs, ys = read_partition(args.run, args.corpus, part, root)
        parts[part] = (ids, functionals(paths, FEATURE_SET, cache_dir=cache_dir) if ids else None, ys, rel_wavs)
    if not parts["valid"][0]:
        raise EmoLobesError(f"the run {args.run} has no dev set to choose C on", "run it with a dev set")
    # Class weights balanced, no refit on train + dev, solver unseeded (as this recipe's baseline always ran).
    fitted = fit_functional_baseline(parts["train"][1:3], parts["valid"][1:3], C_GRID, "linear_svc", seed=None,
                                     labels=labels, class_weight="balanced")
    metrics, predictions = score_on_test(fitted["model"], parts["test"][1:3], labels=labels, ids=parts["test"][0],
                                         corpus=args.corpus)
    for prediction, wav in zip(predictions, parts["test"][3]):
        prediction["wav"] = wav
    path = write_test_results(os.path.join(args.run, "egemaps_svm", "test_results.json"), metrics, predictions,
                              extra={"model": f"{FEATURE_SET} + linear SVM", "best_c": fitted["c"],
                                     "dev_ua": {str(c): v for c, v in fitted["dev_ua"].items()}})
    print(f"eGeMAPS + linear SVM on {args.corpus}: test UAR {100 * metrics['ua']:.1f}% WA {100 * metrics['wa']:.1f}% "
          f"(C={fitted['c']}, n={metrics['n']}) -> {path}")
    return metrics


if __name__ == "__main__":
    main()
