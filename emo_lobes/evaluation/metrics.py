"""Emotion classification metrics (WA, UA, macro F1, confusion), exact McNemar, fold aggregation, test_results.json."""
import json
import os
import warnings

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.manifest import write_json_atomic

#: Keys every ``test_results.json`` holds.
RESULT_KEYS = ("wa", "ua", "macro_f1", "per_class_recall", "confusion", "labels", "n")
#: Fields every per-utterance prediction of ``test_results.json`` carries.
PREDICTION_KEYS = ("id", "wav", "corpus", "true", "pred")


def _plain(label):
    # numpy scalars -> Python values, so labels compare, sort and serialise as usual.
    return label.item() if hasattr(label, "item") else label


def _sorted_labels(labels):
    # Natural order for labels of one type (2 before 10), string order for a mix.
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)


def classification_metrics(y_true, y_pred, labels=None):
    """Weighted accuracy, unweighted accuracy, macro F1, per-class recall and the confusion matrix.

    - ``wa``: accuracy, the fraction of utterances classified correctly.
    - ``ua``: the mean of per-class recalls over the classes present in ``y_true`` (scikit-learn
      ``balanced_accuracy_score``); a class that is in ``labels`` but has no test utterance does not count.
    - ``macro_f1``: the unweighted mean F1 over the classes in ``y_true`` or ``y_pred`` (scikit-learn's
      default label set; an undefined precision counts as 0).
    - ``per_class_recall``: ``{str(label): recall}`` for every label in ``labels``; ``None`` for a class
      without test utterances. Keys are strings so the dict is the same after a JSON round trip.
    - ``confusion``: rows are true classes, columns predicted classes, both in ``labels`` order.

    Arguments
    ---------
    y_true, y_pred : sequence
        True and predicted labels (strings or ints), same length.
    labels : list, optional
        Label order for ``confusion`` and ``per_class_recall`` (default: sorted labels seen in both).

    Returns
    -------
    dict
        ``wa``, ``ua``, ``macro_f1``, ``per_class_recall``, ``confusion``, ``labels``, ``n``.

    Example
    -------
    >>> m = classification_metrics(["a", "a", "a", "b"], ["a", "a", "b", "b"], labels=["a", "b", "c"])
    >>> m["wa"], round(m["ua"], 4), m["per_class_recall"]
    (0.75, 0.8333, {'a': 0.6666666666666666, 'b': 1.0, 'c': None})
    >>> m["confusion"], m["n"]
    ([[2, 1, 0], [0, 1, 0], [0, 0, 0]], 4)
    """
    y_true = [_plain(y) for y in y_true]
    y_pred = [_plain(y) for y in y_pred]
    if len(y_true) != len(y_pred):
        raise EmoLobesError(f"{len(y_true)} true labels but {len(y_pred)} predictions",
                            "give one prediction per test utterance")
    if not y_true:
        raise EmoLobesError("no test utterances to score", "check the test manifest")
    labels = _sorted_labels(set(y_true) | set(y_pred)) if labels is None else [_plain(x) for x in labels]
    unknown = sorted({str(y) for y in set(y_true) | set(y_pred) if y not in labels})
    if unknown:
        raise EmoLobesError(f"labels {', '.join(unknown)} are not in the label list {labels}",
                            "pass the full label list (or map the labels first)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # absent classes: handled by the semantics documented above
        recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
        ua = balanced_accuracy_score(y_true, y_pred)
        macro_f1 = f1_score(y_true, y_pred, average="macro", zero_division=0)
        confusion = confusion_matrix(y_true, y_pred, labels=labels)
    present = set(y_true)
    return {
        "wa": float(accuracy_score(y_true, y_pred)),
        "ua": float(ua),
        "macro_f1": float(macro_f1),
        "per_class_recall": {str(label): (float(r) if label in present else None) for label, r in zip(labels, recalls)},
        "confusion": confusion.tolist(),
        "labels": list(labels),
        "n": len(y_true),
    }


def mcnemar_exact(y_true, pred_a, pred_b):
    """Exact two-sided McNemar test of two classifiers on the same utterances.

    ``b`` counts utterances system A gets right and B wrong, ``c`` the reverse. Under the null hypothesis
    the discordant pairs split 50/50, so the p-value is the two-sided binomial test of ``min(b, c)`` successes
    in ``b + c`` trials with p = 0.5 (scipy ``binomtest``); 1.0 when there is no discordant pair.

    Arguments
    ---------
    y_true, pred_a, pred_b : sequence
        True labels and the two systems' predictions, same length.

    Returns
    -------
    dict
        ``b``, ``c``, ``p_value`` and ``n``.

    Example
    -------
    >>> truth = [0] * 8
    >>> mcnemar_exact(truth, [0, 1, 1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0, 0, 0])
    {'b': 1, 'c': 7, 'p_value': 0.0703125, 'n': 8}
    """
    if not len(y_true) == len(pred_a) == len(pred_b):
        raise EmoLobesError(f"McNemar needs equal lengths, got {len(y_true)}, {len(pred_a)}, {len(pred_b)}",
                            "score both systems on the same test utterances")
    correct_a = np.asarray([_plain(p) == _plain(t) for p, t in zip(pred_a, y_true)], dtype=bool)
    correct_b = np.asarray([_plain(p) == _plain(t) for p, t in zip(pred_b, y_true)], dtype=bool)
    b = int(np.sum(correct_a & ~correct_b))
    c = int(np.sum(~correct_a & correct_b))
    p_value = 1.0 if b + c == 0 else min(1.0, float(binomtest(min(b, c), b + c, 0.5).pvalue))
    return {"b": b, "c": c, "p_value": p_value, "n": len(y_true)}


def mcnemar_mark(baseline, system, alpha=0.05):
    """``+`` / ``-`` when ``system`` makes significantly fewer / more errors than ``baseline``, else ``""``.

    Arguments
    ---------
    baseline, system : dict
        Test results (``test_results.json``) holding ``predictions`` over the same utterances.
    alpha : float
        Significance level.

    Returns
    -------
    tuple
        ``(mark, mcnemar dict)``.

    Example
    -------
    >>> truth = [{"id": str(i), "true": "a"} for i in range(20)]
    >>> base = {"predictions": [dict(p, pred="b") for p in truth]}
    >>> good = {"predictions": [dict(p, pred="a") for p in truth]}
    >>> mcnemar_mark(base, good)[0], mcnemar_mark(good, base)[0], mcnemar_mark(base, base)[0]
    ('+', '-', '')
    """
    # utterances pair by corpus and wav (relative to the corpus root), so a pooled run's ids pair too; by id
    # for results without them
    paired = all("wav" in p for p in baseline["predictions"] + system["predictions"])
    key = (lambda p: (p.get("corpus"), p["wav"])) if paired else (lambda p: p["id"])
    base = {key(p): p for p in baseline["predictions"]}
    other = {key(p): p for p in system["predictions"]}
    if set(base) != set(other):
        raise EmoLobesError(f"the two runs were tested on different utterances ({len(base)} vs {len(other)})",
                            "compare runs made on the same split (e.g. --split_file=<one run>/splits/<corpus>.json)")
    ids = sorted(base)
    test = mcnemar_exact([base[i]["true"] for i in ids], [other[i]["pred"] for i in ids],
                         [base[i]["pred"] for i in ids])
    if test["p_value"] >= alpha or test["b"] == test["c"]:
        return "", test
    return ("+" if test["b"] > test["c"] else "-"), test


def _pooled_from_confusion(confusion):
    # WA and UA of the summed confusion matrix (classes with no true utterance left out of UA).
    matrix = np.asarray(confusion, dtype=float)
    support = matrix.sum(axis=1)
    present = support > 0
    return {
        "wa": float(np.trace(matrix) / matrix.sum()),
        "ua": float(np.mean(np.diag(matrix)[present] / support[present])),
    }


def aggregate_folds(fold_metrics, keys=("wa", "ua", "macro_f1")):
    """Mean and sample standard deviation (``ddof=1``) of each metric over folds, and the summed confusion.

    With one fold the standard deviation is 0.0. When every fold has the same ``labels`` and a
    ``confusion``, the result also holds ``confusion`` (the sum over folds), ``labels`` and ``pooled``
    (WA and UA of the summed matrix); otherwise these three are ``None``.

    Arguments
    ---------
    fold_metrics : list of dict
        One :func:`classification_metrics` (or ``test_results.json``) dict per fold.
    keys : tuple of str
        Metrics to aggregate.

    Returns
    -------
    dict
        ``{key: {"mean", "std", "n"}}`` plus ``confusion``, ``labels``, ``pooled`` and ``n_folds``.

    Example
    -------
    >>> folds = [classification_metrics([0, 1], [0, 1]), classification_metrics([0, 1], [0, 0])]
    >>> agg = aggregate_folds(folds, keys=("wa",))
    >>> agg["wa"]["mean"], round(agg["wa"]["std"], 4), agg["wa"]["n"]
    (0.75, 0.3536, 2)
    >>> agg["confusion"], agg["pooled"]
    ([[2, 0], [1, 1]], {'wa': 0.75, 'ua': 0.75})
    """
    if not fold_metrics:
        raise EmoLobesError("no fold results to aggregate", "run the folds first (their test_results.json)")
    result = {"n_folds": len(fold_metrics)}
    for key in keys:
        missing = [index for index, fold in enumerate(fold_metrics) if fold.get(key) is None]
        if missing:
            raise EmoLobesError(f"metric '{key}' is missing in fold {missing[0] + 1}", "rerun that fold's test stage")
        values = np.asarray([float(fold[key]) for fold in fold_metrics])
        std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        result[key] = {"mean": float(values.mean()), "std": std, "n": len(values)}
    label_lists = [fold.get("labels") for fold in fold_metrics]
    if all(fold.get("confusion") is not None for fold in fold_metrics) and all(
            labels is not None and labels == label_lists[0] for labels in label_lists):
        confusion = np.sum([np.asarray(fold["confusion"], dtype=np.int64) for fold in fold_metrics], axis=0)
        result.update(confusion=confusion.tolist(), labels=list(label_lists[0]),
                      pooled=_pooled_from_confusion(confusion))
    else:
        result.update(confusion=None, labels=None, pooled=None)
    return result


def write_test_results(path, metrics, predictions=None, extra=None):
    """Write ``test_results.json`` atomically: the metrics, then ``predictions`` in the same file.

    ``confusion.png`` (:func:`emo_lobes.evaluation.plots.write_confusion_png`) is drawn beside it.
    Predictions go in the same JSON (key ``predictions``) rather than a sibling CSV, so one file carries a
    fold's whole test outcome (McNemar between two runs reads both files' predictions).

    Arguments
    ---------
    path : str
        The file to write, or an existing folder (then ``<folder>/test_results.json``).
    metrics : dict
        A :func:`classification_metrics` dict (must hold :data:`RESULT_KEYS`).
    predictions : list of dict, optional
        One ``{"id", "wav", "corpus", "true", "pred"}`` per utterance (:data:`PREDICTION_KEYS`; ``wav`` relative
        to its corpus root, so two systems' predictions pair up), optionally with ``"probs"``.
    extra : dict, optional
        More top-level keys (corpus, fold, seed, hparams ...); they may not overwrite a metric key.

    Returns
    -------
    str
        The path written.

    Example
    -------
    >>> import tempfile
    >>> metrics = classification_metrics(["sad", "angry"], ["sad", "sad"], labels=["angry", "sad"])
    >>> preds = [{"id": f"u{i}", "wav": f"s1/u{i}.wav", "corpus": "emodb", "true": t, "pred": "sad"}
    ...          for i, t in enumerate(["sad", "angry"])]
    >>> path = write_test_results(tempfile.mkdtemp(), metrics, preds, extra={"fold": 3})
    >>> os.path.basename(path)
    'test_results.json'
    >>> results = read_test_results(path)
    >>> results["ua"], results["fold"], results["predictions"][1]["pred"]
    (0.5, 3, 'sad')
    """
    if os.path.isdir(path):
        path = os.path.join(path, "test_results.json")
    missing = [key for key in RESULT_KEYS if key not in metrics]
    if missing:
        raise EmoLobesError(f"test results miss {', '.join(missing)}", "pass the dict from classification_metrics")
    results = dict(metrics)
    for key, value in (extra or {}).items():
        if key in results or key == "predictions":
            raise EmoLobesError(f"extra key '{key}' would overwrite a result", "rename it")
        results[key] = value
    if predictions is not None:
        for index, prediction in enumerate(predictions):
            absent = [key for key in PREDICTION_KEYS if key not in prediction]
            if absent:
                raise EmoLobesError(f"prediction {index} has no {', '.join(absent)}",
                                    f"give each prediction {', '.join(PREDICTION_KEYS)}")
        results["predictions"] = list(predictions)
    written = write_json_atomic(results, path)
    _draw_confusion(os.path.dirname(os.path.abspath(written)), results)
    return written


def _draw_confusion(folder, results):
    # confusion.png beside test_results.json for every run; a picture that cannot be drawn never loses the results.
    from emo_lobes.evaluation.plots import write_confusion_png

    parts = [f"{key.upper()} {100 * results[key]:.1f}%" for key in ("ua", "wa") if isinstance(results[key], float)]
    name = " ".join(f"{'fold ' if key == 'fold' else ''}{results[key]}" for key in ("recipe", "corpus", "fold")
                    if isinstance(results.get(key), (str, int)))
    title = f"{name + ': ' if name else ''}{', '.join(parts)}, n={results['n']}\nrows normalised by true class"
    try:
        write_confusion_png(folder, results["confusion"], results["labels"], title)
    except Exception as err:  # noqa: BLE001 (the results are written; the picture is a convenience)
        print(f"[plots] confusion.png not drawn in {folder}: {type(err).__name__}: {str(err)[:120]}", flush=True)


def read_test_results(path):
    """Read a ``test_results.json`` (a file, or the folder holding it) and check it has the metric keys.

    Arguments
    ---------
    path : str
        The file or its folder.

    Returns
    -------
    dict
        The results as written by :func:`write_test_results`.

    Example
    -------
    >>> try:
    ...     read_test_results("/no/such/results")
    ... except EmoLobesError as e:
    ...     print(e.problem)
    no test results at /no/such/results
    """
    if os.path.isdir(path):
        path = os.path.join(path, "test_results.json")
    if not os.path.isfile(path):
        raise EmoLobesError(f"no test results at {path}", "run the recipe's test stage for that output folder first")
    try:
        with open(path, encoding="utf-8") as results_file:
            results = json.load(results_file)
    except ValueError as err:
        raise EmoLobesError(f"{path} is not valid JSON ({err})", "rerun the test stage") from None
    missing = [key for key in RESULT_KEYS if key not in results]
    if missing:
        raise EmoLobesError(f"{path} misses {', '.join(missing)}", "rerun the test stage")
    return results


def format_percent(value, digits=1):
    """A fraction as a percentage string; ``None`` gives an en dash.

    Arguments
    ---------
    value : float or None
        A fraction (0.632).
    digits : int
        Decimals.

    Returns
    -------
    str
        e.g. ``'63.2%'``.

    Example
    -------
    >>> format_percent(0.63214), format_percent(1), format_percent(None)
    ('63.2%', '100.0%', '–')
    """
    if value is None:
        return "–"
    return f"{100.0 * float(value):.{digits}f}%"
