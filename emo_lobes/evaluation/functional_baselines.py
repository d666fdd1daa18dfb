"""Functional baselines: standardised utterance features + a scikit-learn classifier, C chosen on dev UA or given.

Every recipe's openSMILE baseline (eGeMAPS / IS09 functionals from :func:`emo_lobes.features.feature_cache.functionals`)
composes the two steps here: :func:`fit_functional_baseline` (standardisation fitted on train, one classifier per
C, the best dev UA kept, optionally refitted on train + dev) and :func:`score_on_test`.
"""
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from emo_lobes.errors import EmoLobesError
from emo_lobes.evaluation.metrics import classification_metrics

#: Classifier names understood by :func:`make_classifier`.
CLASSIFIERS = ("linear_svc", "svc", "logreg")


def make_classifier(name, c_value, seed=0, **options):
    """An unfitted scikit-learn classifier with inverse regularisation ``C`` (features are scaled beforehand).

    - ``linear_svc``: ``LinearSVC`` (one-vs-rest linear SVM), ``max_iter=20000`` unless given.
    - ``svc``: one-vs-rest RBF ``SVC`` (``gamma="scale"``).
    - ``logreg``: one-vs-rest ``LogisticRegression``, ``max_iter=5000`` unless given.

    Arguments
    ---------
    name : str
        One of :data:`CLASSIFIERS`.
    c_value : float
        Inverse regularisation strength.
    seed : int or None
        ``random_state`` of the solvers that draw random numbers (``linear_svc``, ``logreg``).
    **options
        Further keyword arguments of the scikit-learn estimator (e.g. ``class_weight="balanced"``, ``max_iter``).

    Returns
    -------
    sklearn.base.ClassifierMixin
        Unfitted.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, (20, 4)), rng.normal(3, 1, (20, 4))]); y = [0] * 20 + [1] * 20
    >>> [float(make_classifier(n, 1.0).fit(x, y).score(x, y)) for n in CLASSIFIERS]
    [1.0, 1.0, 1.0]
    >>> make_classifier("linear_svc", 0.1, class_weight="balanced").class_weight
    'balanced'
    """
    if name == "linear_svc":
        return LinearSVC(C=c_value, random_state=seed, **dict({"max_iter": 20000}, **options))
    if name == "svc":
        return OneVsRestClassifier(SVC(C=c_value, **dict({"kernel": "rbf", "gamma": "scale"}, **options)))
    if name == "logreg":
        return OneVsRestClassifier(LogisticRegression(C=c_value, random_state=seed,
                                                      **dict({"max_iter": 5000}, **options)))
    raise EmoLobesError(f"unknown baseline classifier '{name}'", f"use one of {', '.join(CLASSIFIERS)}")


def fit_functional_baseline(train, dev, c_grid, classifier="linear_svc", refit_on_train_dev=False, seed=0,
                            labels=None, **options):
    """Standardise on train, fit one classifier per ``C``, keep the best dev UA, optionally refit on train + dev.

    The scaler is fitted on the training part only and stays fixed (also for the refit). Ties in dev UA go to
    the first value of ``c_grid``.

    Arguments
    ---------
    train, dev : tuple
        ``(features [n, d], labels [n])`` per partition; ``dev=None`` (a protocol without dev set) fits the one
        value of ``c_grid`` on train.
    c_grid : sequence of float
        Values of ``C`` tried, in order (one value when ``dev`` is None).
    classifier : str
        One of :data:`CLASSIFIERS`.
    refit_on_train_dev : bool
        Refit the chosen ``C`` on train + dev (EmoNet, Section 4.1) instead of keeping the train-only model.
    seed : int or None
        Solver seed (see :func:`make_classifier`).
    labels : list, optional
        The class list, passed to :func:`emo_lobes.evaluation.metrics.classification_metrics` for dev UA.
    **options
        Estimator options (see :func:`make_classifier`).

    Returns
    -------
    dict
        ``model`` (a fitted ``Pipeline`` of scaler and classifier, which takes raw features), ``c`` (the chosen
        C) and ``dev_ua`` (``{C: dev UA}``).

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> def part(n):
    ...     y = np.array(["a", "b"] * n)
    ...     return rng.normal(size=(2 * n, 3)) + (y == "b")[:, None] * 3.0, y
    >>> fitted = fit_functional_baseline(part(20), part(5), [1.0, 0.1], refit_on_train_dev=True)
    >>> fitted["c"] in (1.0, 0.1), sorted(fitted["dev_ua"]), fitted["model"].predict(part(2)[0]).shape
    (True, [0.1, 1.0], (4,))
    >>> no_dev = fit_functional_baseline(part(20), None, [1.0])
    >>> no_dev["c"], no_dev["dev_ua"], no_dev["model"].predict(part(2)[0]).shape
    (1.0, {}, (4,))
    """
    if dev is None:
        if len(c_grid) != 1:
            raise EmoLobesError(f"without a dev part C cannot be chosen among {list(c_grid)}", "give one value of C")
        scaler = StandardScaler().fit(train[0])
        model = make_classifier(classifier, float(c_grid[0]), seed, **options).fit(scaler.transform(train[0]), train[1])
        return {"model": Pipeline([("standardise", scaler), ("classify", model)]), "c": float(c_grid[0]), "dev_ua": {}}
    if not len(dev[0]):
        raise EmoLobesError("the dev part is empty, so C cannot be chosen", "hold out at least one dev speaker")
    if not len(c_grid):
        raise EmoLobesError("the C grid is empty", "give at least one value of C")
    scaler = StandardScaler().fit(train[0])
    x_train, x_dev = scaler.transform(train[0]), scaler.transform(dev[0])
    dev_ua, best_c, best_model = {}, None, None
    for c_value in map(float, c_grid):
        model = make_classifier(classifier, c_value, seed, **options).fit(x_train, train[1])
        dev_ua[c_value] = classification_metrics(list(dev[1]), list(model.predict(x_dev)), labels=labels)["ua"]
        if best_c is None or dev_ua[c_value] > dev_ua[best_c]:
            best_c, best_model = c_value, model
    if refit_on_train_dev:
        best_model = make_classifier(classifier, best_c, seed, **options).fit(
            np.concatenate([x_train, x_dev]), np.concatenate([np.asarray(train[1]), np.asarray(dev[1])]))
    return {"model": Pipeline([("standardise", scaler), ("classify", best_model)]), "c": best_c, "dev_ua": dev_ua}


def score_on_test(model, test, labels=None, ids=None, **prediction_fields):
    """Predict a test part and score it: metrics and the per-utterance predictions of ``test_results.json``.

    Arguments
    ---------
    model : sklearn estimator
        E.g. ``fit_functional_baseline(...)["model"]``.
    test : tuple
        ``(features [n, d], labels [n])``.
    labels : list, optional
        The class list (order of the confusion matrix).
    ids : list of str, optional
        Utterance ids (default: ``"0"``, ``"1"``, ...).
    **prediction_fields
        Constant fields added to every prediction after ``id`` (e.g. ``corpus="emodb"``).

    Returns
    -------
    tuple
        ``(metrics, predictions)``: :func:`emo_lobes.evaluation.metrics.classification_metrics` of the test part and
        ``[{"id", **prediction_fields, "true", "pred"}]`` (labels as Python values).

    Example
    -------
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier(strategy="constant", constant="a").fit(np.zeros((2, 1)), ["a", "b"])
    >>> metrics, predictions = score_on_test(model, (np.zeros((2, 1)), ["a", "b"]), ["a", "b"], corpus="x")
    >>> metrics["wa"], metrics["ua"], predictions[1]
    (0.5, 0.5, {'id': '1', 'corpus': 'x', 'true': 'b', 'pred': 'a'})
    """
    true = np.asarray(test[1]).tolist()
    predicted = np.asarray(model.predict(test[0])).tolist() if len(true) else []
    ids = [str(i) for i in range(len(true))] if ids is None else list(ids)
    metrics = classification_metrics(true, predicted, labels=labels)
    predictions = [dict({"id": utt}, **prediction_fields, true=t, pred=p) for utt, t, p in zip(ids, true, predicted)]
    return metrics, predictions
