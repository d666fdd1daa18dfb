#!/usr/bin/env python3
"""eGeMAPS + linear SVM baseline on exactly the split of an EmotionEmbeddings run (its prep manifests).

Run (after train.py has prepared the run, e.g. the single-corpus URDU run):
python recipes/EmotionEmbeddings/egemaps_svm.py --run results/EmotionEmbeddings/single_corpus_mfb/urdu/0/fold_1 \
    --data_folder /data --corpus urdu

The 88 eGeMAPSv02 functionals of each file (openSMILE, through emo_lobes.features_cache, cached beside the
run) are standardised on the training set; a linear SVM (class weights balanced) is trained for each C in
{0.001, 0.01, 0.1, 1}, the C with the best dev UAR is kept and scored on the test set. Writes
<run>/egemaps_svm/test_results.json.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from prepare import PAPER_CORPORA, corpus_folder  # noqa: E402

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.features_cache import functionals  # noqa: E402
from emo_lobes.manifest import load_manifest  # noqa: E402
from emo_lobes.metrics import classification_metrics, write_test_results  # noqa: E402

FEATURE_SET = "eGeMAPSv02"
C_GRID = (0.001, 0.01, 0.1, 1.0)


def read_partition(run_folder, corpus, part, data_root):
    """Audio paths and labels of one partition of a run's prep (copies from oversampling dropped).

    Returns
    -------
    ids, paths, labels : list of str
    """
    manifest = os.path.join(run_folder, "prep", corpus, f"{part}.json")
    entries = load_manifest(manifest, data_root=data_root)
    originals = [(utt, e) for utt, e in entries.items() if e.get("source_id", utt) == utt]
    return [u for u, _ in originals], [e["wav"] for _, e in originals], [str(e["label"]) for _, e in originals]


def egemaps_svm(train, dev, test, labels, c_grid=C_GRID):
    """Fit the standardised linear SVM for each C, keep the best on dev UAR, predict the test set.

    Arguments
    ---------
    train, dev, test : tuple
        ``(features [n, d], labels)`` each.
    labels : list of str
        The class list.
    c_grid : sequence of float
        SVM regularisation values tried.

    Returns
    -------
    dict
        ``best_c``, ``dev_ua`` per C, ``test_pred``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, (20, 3)), rng.normal(3, 1, (20, 3))]); y = ["a"] * 20 + ["b"] * 20
    >>> out = egemaps_svm((x, y), (x, y), (x, y), ["a", "b"])
    >>> classification_metrics(y, out["test_pred"])["ua"] > 0.9
    True
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    dev_ua, models = {}, {}
    for c in c_grid:
        model = make_pipeline(StandardScaler(), LinearSVC(C=c, class_weight="balanced", max_iter=20000))
        model.fit(*train)
        dev_ua[c] = classification_metrics(dev[1], list(model.predict(dev[0])), labels=labels)["ua"]
        models[c] = model
    best = max(c_grid, key=lambda c: (dev_ua[c], -c))
    return {"best_c": best, "dev_ua": dev_ua, "test_pred": [str(p) for p in models[best].predict(test[0])]}


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="output folder of a train.py run (holds prep/)")
    parser.add_argument("--data_folder", required=True, help="the run's data_folder")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--corpus_folder", default=None, help="the corpus folder (default: data_folder/<its folder>)")
    args = parser.parse_args(argv)
    spec = PAPER_CORPORA.get(args.corpus, {"folder": args.corpus.upper()})
    root = args.corpus_folder or corpus_folder(args.data_folder, spec)
    with open(os.path.join(args.run, "prep", "labels.json"), encoding="utf-8") as labels_file:
        table = json.load(labels_file)
    if args.corpus not in table:
        raise EmoLobesError(f"corpus {args.corpus} is not in the run {args.run}", f"use one of {', '.join(table)}")
    labels = sorted(table[args.corpus])
    cache_dir = os.path.join(args.run, "egemaps_svm", "feature_cache")
    parts = {}
    for part in ("train", "valid", "test"):
        ids, paths, ys = read_partition(args.run, args.corpus, part, root)
        parts[part] = (ids, functionals(paths, FEATURE_SET, cache_dir=cache_dir), ys)
    outcome = egemaps_svm(parts["train"][1:], parts["valid"][1:], parts["test"][1:], labels)
    test_ids, _, test_true = parts["test"]
    metrics = classification_metrics(test_true, outcome["test_pred"], labels=labels)
    predictions = [{"id": i, "true": t, "pred": p} for i, t, p in zip(test_ids, test_true, outcome["test_pred"])]
    path = write_test_results(os.path.join(args.run, "egemaps_svm", "test_results.json"), metrics, predictions,
                              extra={"model": f"{FEATURE_SET} + linear SVM", "best_c": outcome["best_c"],
                                     "dev_ua": {str(c): v for c, v in outcome["dev_ua"].items()}})
    print(f"eGeMAPS + linear SVM on {args.corpus}: test UAR {100 * metrics['ua']:.1f}% WA {100 * metrics['wa']:.1f}% "
          f"(C={outcome['best_c']}, n={metrics['n']}) -> {path}")
    return metrics


if __name__ == "__main__":
    main()
