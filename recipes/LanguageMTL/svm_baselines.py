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

The manifests and splits are the LSTM run's: the same declarations (``corpora``, ``--corpus``, ``--split_file``,
``--fold``, ``--n_dev_speakers``) prepared in the run's ``prep_folder`` (``<output_folder>/prep``; prepared here
when the run has not done it, reused as it is otherwise, or with ``--skip_prep=True``). Features come from the
on-disk cache (emo_lobes.features.feature_cache), so a second run computes nothing. Each classifier is
scikit-learn's (through emo_lobes.evaluation.functional_baselines), after standardisation fitted on the training
part. By default (``baseline_select_c: none``, the paper's protocol, which has no dev set) each classifier is fitted
on the training speakers with ``C = baseline_c``; ``baseline_select_c: dev`` (not in the paper) picks C on the dev
speakers by UA from ``baseline_c_grid`` and refits it on train + dev (``baseline_refit_on_train_dev``).
"""
import os
import sys

import numpy as np
import speechbrain as sb

RECIPE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(RECIPE_DIR)))
sys.path.insert(0, RECIPE_DIR)

from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.training.hparams_check import load_hparams_checked  # noqa: E402
from emo_lobes.features.feature_cache import functionals_cache  # noqa: E402
from emo_lobes.evaluation.functional_baselines import CLASSIFIERS, fit_functional_baseline, score_on_test  # noqa: E402
from emo_lobes.data.declarations import check_corpus_folders  # noqa: E402
from emo_lobes.data.manifest import assert_not_inside, load_manifest  # noqa: E402
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results  # noqa: E402
from make_tables import row_name  # noqa: E402
from prepare import (  # noqa: E402
    corpus_manifests, emotion_classes, prepare_language_mtl, read_corpus_info, run_declarations,
)

EXPERIMENTS = ("single_corpus", "cross_corpus", "tripathi_beigi")
#: How C is set: given (the paper) or chosen on the dev speakers.
C_SELECTIONS = ("none", "dev")


def load_part(manifest_path, corpus_folder, cache):
    """Ids, functionals, class names and wav paths of one manifest written by prepare.py (features through ``cache``).

    Arguments
    ---------
    manifest_path : str
        A ``train.json`` / ``valid.json`` / ``test.json``.
    corpus_folder : str
        The corpus root that fills ``{data_root}``.
    cache : FeatureCache
        E.g. ``functionals_cache("IS09", folder)``.

    Returns
    -------
    tuple
        ``(ids, features [n, d], class names, wav paths relative to the corpus root)``.

    Example
    -------
    >>> import tempfile, soundfile as sf
    >>> from emo_lobes.data.manifest import write_manifest
    >>> root = tempfile.mkdtemp(); sf.write(os.path.join(root, "a.wav"), 0.1 * np.sin(np.arange(8000) / 5), 16000)
    >>> path = write_manifest([{"id": "a", "wav": "a.wav", "emotion": "sad"}], os.path.join(root, "m.json"))
    >>> ids, features, labels, wavs = load_part(path, root, functionals_cache("eGeMAPSv02"))
    >>> ids, features.shape, labels, wavs
    (['a'], (1, 88), ['sad'], ['a.wav'])
    """
    entries = load_manifest(manifest_path, data_root=os.path.abspath(corpus_folder))
    ids = sorted(entries)
    paths = [entries[utt]["wav"] for utt in ids]
    features = np.stack(cache.get_many(paths)) if paths else np.zeros((0, 0), dtype=np.float32)
    return ids, features, [entries[utt]["emotion"] for utt in ids], [entries[utt]["rel_wav"] for utt in ids]


def run_baselines(hparams):
    """Read (or prepare) the run's split of ``hparams``, fit every baseline classifier, test it on each test corpus.

    Writes ``<baseline_output_folder>/<classifier>/<corpus>/test_results.json`` (with the table and row of
    make_tables.py and the split info), a pooled ``<baseline_output_folder>/<classifier>/test_results.json`` and
    ``<baseline_output_folder>/splits/<corpus>.json``. The manifests are those of ``prep_folder``, the LSTM run's.

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
                            "use hparams/single_corpus.yaml, cross_corpus.yaml or tripathi_beigi.yaml")
    declarations = run_declarations(hparams)
    check_corpus_folders(declarations)
    output, prep_folder = hparams["baseline_output_folder"], hparams["prep_folder"]
    prepare_language_mtl(declarations, prep_folder, fold=hparams["fold"], seed=hparams["seed"], output_folder=output,
                         skip_prep=hparams["skip_prep"], classes=emotion_classes(hparams))
    for decl in declarations.values():
        assert_not_inside(hparams["feature_cache_folder"], decl.folder)
    splits = {corpus: read_corpus_info(prep_folder, corpus)["split"] for corpus in declarations}
    cache = functionals_cache(hparams["baseline_feature_set"], hparams["feature_cache_folder"])
    parts = {corpus: {part: load_part(path, decl.folder, cache)
                      for part, path in corpus_manifests(prep_folder, corpus).items()}
             for corpus, decl in declarations.items()}

    def pooled(part):
        chosen = [parts[corpus][part] for corpus in hparams["train_corpora"] if len(parts[corpus][part][0])]
        if not chosen:
            return np.zeros((0, 0), dtype=np.float32), np.array([])
        return np.concatenate([c[1] for c in chosen]), np.array([label for c in chosen for label in c[2]])

    train, dev = pooled("train"), pooled("valid")
    selection = str(hparams["baseline_select_c"])
    if selection not in C_SELECTIONS:
        raise EmoLobesError(f"baseline_select_c={selection} is not an option", f"use one of {', '.join(C_SELECTIONS)}")
    if selection == "dev" and not len(dev[0]):
        raise EmoLobesError("baseline_select_c: dev chooses C on the dev speakers, but the split has no dev set",
                            "keep dev speakers (--n_dev_speakers=1), or --baseline_select_c=none (the paper's protocol: "
                            "C = baseline_c, fitted on the training speakers)")
    refit = bool(hparams["baseline_refit_on_train_dev"]) and selection == "dev"
    summary = {}
    for name in hparams["baseline_classifiers"]:
        if selection == "dev":
            fitted = fit_functional_baseline(train, dev, list(hparams["baseline_c_grid"]), name,
                                             refit_on_train_dev=refit, seed=hparams["seed"])
        else:  # the paper's protocol: no dev set, one C (dev speakers, if a split has some, are not used)
            fitted = fit_functional_baseline(train, None, [hparams["baseline_c"]], name, seed=hparams["seed"])
        c_value = fitted["c"]
        dev_scores = {str(k): v for k, v in fitted["dev_ua"].items()} if selection == "dev" else None
        table, row = row_name(hparams["experiment"], hparams["baseline_feature_set"], name)
        extra = {"recipe": "LanguageMTL", "table": table, "row": row, "experiment": hparams["experiment"],
                 "features": hparams["baseline_feature_set"], "classifier": name, "C": c_value,
                 "C_selection": selection, "refit_on_train_dev": refit, "dev_ua_by_C": dev_scores, "train_corpora": list(hparams["train_corpora"]),
                 "fold": hparams["fold"], "seed": hparams["seed"]}
        all_predictions, summary[name], classes = [], {}, list(emotion_classes(hparams))
        for corpus in hparams["test_corpora"]:
            ids, features, labels, wavs = parts[corpus]["test"]
            metrics, predictions = score_on_test(fitted["model"], (features, labels), classes, ids,
                                                 corpus=corpus)
            predictions = [dict(prediction, wav=wav) for prediction, wav in zip(predictions, wavs)]
            write_test_results(_folder(output, name, corpus), metrics, predictions,
                               dict(extra, corpus=corpus, scope="corpus", split={corpus: splits[corpus]}))
            all_predictions += predictions
            summary[name][corpus] = metrics["wa"]
            print(f"[{name}] C={c_value} {corpus}: accuracy {100 * metrics['wa']:.1f}%, UA {100 * metrics['ua']:.1f}%"
                  f" ({metrics['n']} test utterances)", flush=True)
        pooled_metrics = classification_metrics([p["true"] for p in all_predictions],
                                                [p["pred"] for p in all_predictions], labels=classes)
        write_test_results(_folder(output, name), pooled_metrics, all_predictions,
                           dict(extra, scope="pooled", split=splits))
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
    hparams = load_hparams_checked(hparams_file, overrides, output_keys=("baseline_output_folder",))
    unknown = sorted(set(hparams["baseline_classifiers"]) - set(CLASSIFIERS))
    if unknown:
        raise EmoLobesError(f"unknown baseline classifier {', '.join(unknown)}", f"use {', '.join(CLASSIFIERS)}")
    run_baselines(hparams)
