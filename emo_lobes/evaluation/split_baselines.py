"""The leaderboard's functional baselines on one declared split: openSMILE functionals, a scikit-learn classifier
whose C is chosen on dev UAR, the test part scored into ``test_results.json`` (paired by ``wav`` with every recipe).

Each baseline is one of :data:`BASELINES` (the protocol of the paper it comes from):

- ``egemaps_svm``: eGeMAPSv02 (88 functionals) + linear SVM, C on the grid 1, 0.1, ..., 1e-9 chosen on dev UAR, then
  refitted on train + dev (EmoNet, Section 4.1).
- ``is09_svc``: IS09 (384 functionals) + one-vs-rest RBF SVC, C in 0.01 .. 10 chosen on dev UAR, trained on train
  only (the Language-ID MTL paper's IS09 + SVC; it gives no C, LanguageMTL's hparams use this grid).
- ``compare_svm``: ComParE 2016 (6373 functionals) + linear SVM, the ``egemaps_svm`` protocol (the set of the
  INTERSPEECH ComParE challenges' baselines; not in the five papers).
"""
import os
import warnings

from sklearn.exceptions import ConvergenceWarning

from emo_lobes.data.declarations import load_corpus_split
from emo_lobes.errors import EmoLobesError
from emo_lobes.evaluation.functional_baselines import fit_functional_baseline, score_on_test
from emo_lobes.evaluation.metrics import write_test_results
from emo_lobes.features.feature_cache import functionals

#: EmoNet's complexity grid (Section 4.1): 1, 0.1, ..., 1e-9.
EMONET_C_GRID = [10.0 ** -exponent for exponent in range(10)]

#: ``name: {feature_set, classifier, c_grid, refit, options, what}``.
BASELINES = {
    "egemaps_svm": {"feature_set": "eGeMAPSv02", "classifier": "linear_svc", "c_grid": EMONET_C_GRID, "refit": True,
                    "options": {"max_iter": 10000}, "what": "eGeMAPSv02 functionals + linear SVM (EmoNet Sec. 4.1)"},
    "is09_svc": {"feature_set": "IS09", "classifier": "svc", "c_grid": [0.01, 0.1, 1.0, 10.0], "refit": False,
                 "options": {}, "what": "IS09 functionals + one-vs-rest RBF SVC (Language-ID MTL paper)"},
    "compare_svm": {"feature_set": "ComParE_2016", "classifier": "linear_svc", "c_grid": EMONET_C_GRID, "refit": True,
                    "options": {"max_iter": 10000}, "what": "ComParE 2016 functionals + linear SVM"},
}


def baseline_spec(name):
    """The protocol of baseline ``name`` (a copy of its :data:`BASELINES` entry).

    Example
    -------
    >>> baseline_spec("egemaps_svm")["feature_set"], baseline_spec("is09_svc")["refit"]
    ('eGeMAPSv02', False)
    """
    if name not in BASELINES:
        raise EmoLobesError(f"unknown baseline '{name}'", f"use one of {', '.join(BASELINES)}")
    return dict(BASELINES[name])


def run_split_baseline(name, declaration, output_folder, fold=1, cache_dir=None, seed=0):
    """Fit baseline ``name`` on the train and dev parts of a declared corpus's split, score its test part.

    Arguments
    ---------
    name : str
        A key of :data:`BASELINES`.
    declaration : emo_lobes.data.declarations.CorpusDeclaration
        The corpus and its split (e.g. ``{"file": <split file>}``).
    output_folder : str
        Where ``test_results.json`` and ``splits/<corpus>.json`` go.
    fold : int
        The fold of the split.
    cache_dir : str, optional
        The functionals' cache folder (:func:`emo_lobes.features.feature_cache.functionals`).
    seed : int
        Solver seed.

    Returns
    -------
    dict
        The written results (metrics, chosen C, dev UAR per C).

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.declarations import declare_corpora
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp(); folder = write_corpus("urdu", root)
    >>> decl = declare_corpora({"urdu": {"split": {"method": "speaker_kfold", "k": 3}}}, folder, ["urdu"])["urdu"]
    >>> result = run_split_baseline("egemaps_svm", decl, os.path.join(root, "out"))
    >>> result["n"] > 0, sorted(os.listdir(os.path.join(root, "out")))
    (True, ['confusion.png', 'splits', 'test_results.json'])
    """
    spec = baseline_spec(name)
    data = load_corpus_split(declaration, fold=fold, seed=seed)
    label_key = declaration.label_key
    parts = {part: data.partition(part) for part in ("train", "dev", "test")}
    if not parts["dev"]:
        raise EmoLobesError(f"the split of {declaration.name} has no dev utterances; {name} chooses C on dev UAR",
                            "use a split with a dev set")
    root = declaration.folder  # records name their wav relative to it
    matrices = {part: (functionals([os.path.join(root, record["wav"]) for record in records], spec["feature_set"],
                                   cache_dir),
                       [record[label_key] for record in records]) for part, records in parts.items()}
    with warnings.catch_warnings():  # the small Cs of the grid stop before converging; dev UAR judges them
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = fit_functional_baseline(matrices["train"], matrices["dev"], spec["c_grid"], spec["classifier"],
                                         refit_on_train_dev=spec["refit"], seed=seed, labels=data.labels,
                                         **spec["options"])
    metrics, predictions = score_on_test(fitted["model"], matrices["test"], labels=data.labels,
                                         ids=[record["id"] for record in parts["test"]])
    for prediction, record in zip(predictions, parts["test"]):  # wav relative to the corpus root: pairs with recipes
        prediction.update(wav=record["wav"], corpus=declaration.name)
    data.write_split(output_folder)
    extra = {"corpus": declaration.name, "system": name, "method": spec["what"], "c": fitted["c"],
             "dev_ua_by_c": {str(c): ua for c, ua in fitted["dev_ua"].items()},
             "dev_ua": fitted["dev_ua"][fitted["c"]], "split": {declaration.name: data.split_info()}}
    write_test_results(os.path.join(output_folder, "test_results.json"), metrics, predictions, extra)
    return dict(metrics, **extra)
