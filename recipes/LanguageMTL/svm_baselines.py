#!/usr/bin/env python3
"""openSMILE-functional baselines of the Language-ID MTL recipe: one-vs-rest SVC, logistic regression, linear SVM.

Run with the LSTM's hparams file, so the split is the same (Table 2 rows SVC / Logistic Regression, Table 5
row IS09 + SVC; eGeMAPS + linear SVM for the URDU check):
    python recipes/LanguageMTL/svm_baselines.py recipes/LanguageMTL/hparams/single_corpus.yaml \
        --data_folder=/data --corpus=emodb
    python recipes/LanguageMTL/svm_baselines.py recipes/LanguageMTL/hparams/cross_corpus.yaml --data_folder=/data
    python recipes/LanguageMTL/svm_baselines.py recipes/LanguageMTL/hparams/single_corpus.yaml \
        --data_folder=/work/shared/data --corpus=urdu --baseline_feature_set=eGeMAPSv02 \
        --baseline_classifiers=[linear_svc]

Features come from the on-disk cache (emo_lobes.features.feature_cache), so a second run computes nothing. Each
classifier is scikit-learn's (through emo_lobes.evaluation.functional_baselines), after standardisation fitted on the
training part; C is chosen on the dev speakers by UA.
"""
import os
import sys

import numpy as np
import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

RECIPE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(RECIPE_DIR)))
sys.path.insert(0, RECIPE_DIR)

from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.features.feature_cache import functionals_cache  # noqa: E402
from emo_lobes.evaluation.functional_baselines import CLASSIFIERS, fit_functional_baseline, score_on_test  # noqa: E402
from emo_lobes.data.manifest import assert_not_inside, load_manifest  # noqa: E402
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results  # noqa: E402
from make_tables import row_name  # noqa: E402
from prepare import EMOTION_CLASSES, corpus_manifests, data_root_key, prepare_language_mtl  # noqa: E402

EXPERIMENTS = ("single_corpus", "cross_corpus")


def load_part(manifest_path, corpus_folder, corpus, cache):
    """Ids, functionals and class names of one manifest written by prepare.py (features through ``cache``).

    Arguments
    ---------
    manifest_path : str
        A ``train.json`` / ``valid.json`` / ``test.json``.
    corpus_folder : str
        The corpus root that fills ``{<corpus>_root}``.
    corpus : str
        The corpus key.
    cache : FeatureCache
        E.g. ``functionals_cache("IS09", folder)``.

    Returns
    -------
    tuple
        ``(ids, features [n, d], class names)``.

    Example
    -------
    >>> import tempfile, soundfile as sf
    >>> from emo_lobes.data.manifest import write_manifest
    >>> root = tempfile.mkdtemp(); sf.write(os.path.join(root, "a.wav"), 0.1 * np.sin(np.arange(8000) / 5), 16000)
    >>> path = write_manifest([{"id": "emodb_a", "wav": "a.wav", "emotion": "sad"}], os.path.join(root, "m.json"),
    ...                       data_root_key="emodb_root")
    >>> ids, features, labels = load_part(path, root, "emodb", functionals_cache("eGeMAPSv02"))
    >>> ids, features.shape, labels
    (['emodb_a'], (1, 88), ['sad'])
    """
    entries = load_manifest(manifest_path, data_root=os.path.abspath(corpus_folder), data_root_key=data_root_key(corpus))
    ids = sorted(entries)
    paths = [entries[utt]["wav"] for utt in ids]
    features = np.stack(cache.get_many(paths)) if paths else np.zeros((0, 0), dtype=np.float32)
    return ids, features, [entries[utt]["emotion"] for utt in ids]


def run_baselines(hparams):
    """Prepare the split of ``hparams``, fit every baseline classifier, test it on each test corpus.

    Writes ``<baseline_output_folder>/<classifier>/<corpus>/test_results.json`` (with the table and row of
    make_tables.py) and a pooled ``<baseline_output_folder>/<classifier>/test_results.json``.

    Arguments
    ---------
    hparams : dict
        A loaded single_corpus.yaml or cross_corpus.yaml.

    Returns
    -------
    dict
        ``{classifier: {corpus: accuracy}}`` and, under ``"cache"``, the cache's computed / loaded counts.
    """
    if hparams["experiment"] not in EXPERIMENTS:
        raise EmoLobesError(f"svm_baselines runs {', '.join(EXPERIMENTS)} experiments, not {hparams['experiment']}",
                            "use hparams/single_corpus.yaml or hparams/cross_corpus.yaml")
    used = list(dict.fromkeys(list(hparams["train_corpora"]) + list(hparams["test_corpora"])))
    folders = {corpus: hparams["corpus_folders"][corpus] for corpus in used}
    output = hparams["baseline_output_folder"]
    prep_folder = os.path.join(output, "prep")
    prepare_language_mtl(folders, prep_folder, split=hparams["split"], fold=hparams["fold"],
                         n_folds=hparams["n_folds"], seed=hparams["seed"], n_test_speakers=hparams["n_test_speakers"],
                         n_dev_speakers=hparams["n_dev_speakers"], merge_excited=hparams["merge_excited"],
                         skip_prep=hparams["skip_prep"])
    for folder in folders.values():
        assert_not_inside(hparams["feature_cache_folder"], folder)
    cache = functionals_cache(hparams["baseline_feature_set"], hparams["feature_cache_folder"])
    parts = {corpus: {part: load_part(path, folders[corpus], corpus, cache)
                      for part, path in corpus_manifests(prep_folder, corpus).items()} for corpus in used}

    def pooled(part):
        chosen = [parts[corpus][part] for corpus in hparams["train_corpora"]]
        return np.concatenate([c[1] for c in chosen]), np.array([label for c in chosen for label in c[2]])

    train, dev = pooled("train"), pooled("valid")
    summary = {}
    for name in hparams["baseline_classifiers"]:
        fitted = fit_functional_baseline(train, dev, hparams["baseline_c_grid"], name, seed=hparams["seed"])
        c_value, dev_scores = fitted["c"], fitted["dev_ua"]
        table, row = row_name(hparams["experiment"], hparams["baseline_feature_set"], name)
        extra = {"recipe": "LanguageMTL", "table": table, "row": row, "experiment": hparams["experiment"],
                 "features": hparams["baseline_feature_set"], "classifier": name, "C": c_value,
                 "dev_ua_by_C": {str(k): v for k, v in dev_scores.items()},
                 "train_corpora": list(hparams["train_corpora"]), "split": hparams["split"], "fold": hparams["fold"],
                 "seed": hparams["seed"]}
        all_predictions, summary[name] = [], {}
        for corpus in hparams["test_corpora"]:
            ids, features, labels = parts[corpus]["test"]
            metrics, predictions = score_on_test(fitted["model"], (features, labels), list(EMOTION_CLASSES), ids,
                                                 corpus=corpus)
            write_test_results(_folder(output, name, corpus), metrics, predictions,
                               dict(extra, corpus=corpus, scope="corpus"))
            all_predictions += predictions
            summary[name][corpus] = metrics["wa"]
            print(f"[{name}] C={c_value} {corpus}: accuracy {100 * metrics['wa']:.1f}%, UA {100 * metrics['ua']:.1f}%"
                  f" ({metrics['n']} test utterances)", flush=True)
        pooled_metrics = classification_metrics([p["true"] for p in all_predictions],
                                                [p["pred"] for p in all_predictions], labels=list(EMOTION_CLASSES))
        write_test_results(_folder(output, name), pooled_metrics, all_predictions, dict(extra, scope="pooled"))
    summary["cache"] = {"computed": cache.n_computed, "loaded": cache.n_loaded}
    print(f"[features] {hparams['baseline_feature_set']}: {cache.n_computed} computed, {cache.n_loaded} read from "
          f"{cache.folder}", flush=True)
    return summary


def _folder(*parts):
    folder = os.path.join(*parts)
    os.makedirs(folder, exist_ok=True)
    return folder


if __name__ == "__main__":
    install_excepthook()
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    unknown = sorted(set(hparams["baseline_classifiers"]) - set(CLASSIFIERS))
    if unknown:
        raise EmoLobesError(f"unknown baseline classifier {', '.join(unknown)}", f"use {', '.join(CLASSIFIERS)}")
    run_baselines(hparams)
