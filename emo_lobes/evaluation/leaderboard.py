"""Leaderboard rows: per system and corpus, metrics over folds and an exact McNemar test against a reference system
on the pooled test predictions (paired by fold and ``wav``), as ``leaderboard.json`` rows and a markdown table.
"""
import numpy as np

from emo_lobes.errors import EmoLobesError
from emo_lobes.evaluation.metrics import classification_metrics, mcnemar_exact
from emo_lobes.evaluation.tables import markdown_table

#: The reference system of the McNemar column.
REFERENCE_SYSTEM = "egemaps_svm"


def corpus_metrics(results, corpus):
    """Metrics of one corpus's test predictions in a ``test_results.json`` dict (a pooled multi-corpus run too;
    classes named ``<corpus>:<class>`` lose that prefix).

    Arguments
    ---------
    results : dict
        ``test_results.json`` content, with ``predictions`` (``corpus``, ``wav``, ``true``, ``pred``).
    corpus : str
        The corpus name.

    Returns
    -------
    tuple
        ``(metrics, predictions)``: :func:`classification_metrics` over that corpus's predictions (classes: those of
        its true labels and predictions) and the predictions themselves.

    Example
    -------
    >>> results = {"predictions": [{"corpus": "a", "wav": "1.wav", "true": "sad", "pred": "sad"},
    ...                            {"corpus": "a", "wav": "2.wav", "true": "a:angry", "pred": "a:sad"},
    ...                            {"corpus": "b", "wav": "1.wav", "true": "low", "pred": "low"}]}
    >>> metrics, predictions = corpus_metrics(results, "a")
    >>> metrics["ua"], metrics["wa"], predictions[1]["true"]
    (0.5, 0.5, 'angry')
    """
    prefix = f"{corpus}:"  # multi-domain runs name classes "<corpus>:<class>"
    predictions = [dict(p, **{key: str(p[key])[len(prefix):] if str(p[key]).startswith(prefix) else str(p[key])
                              for key in ("true", "pred")})
                   for p in results.get("predictions", []) if p.get("corpus") == corpus]
    if not predictions:
        raise EmoLobesError(f"the test results hold no prediction of corpus {corpus}",
                            "check that the run was tested on that corpus")
    labels = sorted({str(p["true"]) for p in predictions} | {str(p["pred"]) for p in predictions})
    metrics = classification_metrics([str(p["true"]) for p in predictions], [str(p["pred"]) for p in predictions],
                                     labels=labels)
    return metrics, predictions


def pooled_mcnemar(reference, system):
    """Exact McNemar test of ``system`` against ``reference`` on pooled test predictions, paired by fold and wav.

    Arguments
    ---------
    reference, system : dict
        ``{fold: [prediction, ...]}`` of the two systems on one corpus.

    Returns
    -------
    dict
        ``b`` (reference right, system wrong), ``c`` (the reverse), ``p_value`` and ``n``.

    Example
    -------
    >>> ref = {1: [{"wav": f"{i}.wav", "true": "a", "pred": "b"} for i in range(10)]}
    >>> better = {1: [{"wav": f"{i}.wav", "true": "a", "pred": "a"} for i in range(10)]}
    >>> test = pooled_mcnemar(ref, better)
    >>> test["b"], test["c"], round(test["p_value"], 4)
    (0, 10, 0.002)
    """
    ref = {(fold, p["wav"]): p for fold, predictions in reference.items() for p in predictions}
    other = {(fold, p["wav"]): p for fold, predictions in system.items() for p in predictions}
    if set(ref) != set(other):
        raise EmoLobesError(f"the two systems were tested on different utterances ({len(ref)} vs {len(other)})",
                            "compare runs made on the same split files")
    keys = sorted(ref)
    return mcnemar_exact([ref[k]["true"] for k in keys], [ref[k]["pred"] for k in keys],
                         [other[k]["pred"] for k in keys])


def leaderboard_rows(fold_results, reference=REFERENCE_SYSTEM):
    """One row per system and corpus: UA, WA, macro-F1 (mean and std over folds), test size, McNemar p.

    Arguments
    ---------
    fold_results : dict
        ``{(system, corpus): {fold: {"results": test_results dict, "run": folder, "seconds": float,
        "epochs": int or None}}}``.
    reference : str
        The system the McNemar test compares against (its own row has ``mcnemar_p`` None), on the folds both have.

    Returns
    -------
    list of dict
        ``{"system", "corpus", "ua", "ua_std", "wa", "macro_f1", "n_test", "folds", "mcnemar_p", "mcnemar_b",
        "mcnemar_c", "seconds", "epochs", "runs"}`` (UA as a fraction, like ``test_results.json``).

    Example
    -------
    >>> def run(preds):
    ...     return {"results": {"predictions": [dict(p, corpus="x") for p in preds]}, "run": "r", "seconds": 1.0,
    ...             "epochs": None}
    >>> truth = [{"wav": f"{i}.wav", "true": "ab"[i % 2]} for i in range(8)]
    >>> folds = {1: [dict(p, pred="a") for p in truth]}
    >>> rows = leaderboard_rows({("egemaps_svm", "x"): {1: run(folds[1])},
    ...                          ("mine", "x"): {1: run([dict(p, pred=p["true"]) for p in truth])}})
    >>> [(r["system"], r["ua"], r["n_test"], r["mcnemar_p"]) for r in rows]
    [('egemaps_svm', 0.5, 8, None), ('mine', 1.0, 8, 0.125)]
    """
    scored = {key: {fold: corpus_metrics(entry["results"], key[1]) for fold, entry in sorted(folds.items())}
              for key, folds in fold_results.items()}
    rows = []
    for (system, corpus), folds in fold_results.items():
        per_fold = scored[(system, corpus)]
        values = {key: np.asarray([metrics[key] for metrics, _ in per_fold.values()], dtype=float)
                  for key in ("ua", "wa", "macro_f1")}
        row = {"system": system, "corpus": corpus,
               "ua": float(values["ua"].mean()),
               "ua_std": float(values["ua"].std(ddof=1)) if len(per_fold) > 1 else 0.0,
               "wa": float(values["wa"].mean()), "macro_f1": float(values["macro_f1"].mean()),
               "n_test": int(sum(len(predictions) for _, predictions in per_fold.values())),
               "folds": len(per_fold), "mcnemar_p": None, "mcnemar_b": None, "mcnemar_c": None,
               "seconds": round(float(sum(entry.get("seconds") or 0.0 for entry in folds.values())), 1),
               "epochs": [entry.get("epochs") for _, entry in sorted(folds.items())],
               "runs": [entry["run"] for _, entry in sorted(folds.items())]}
        reference_folds = scored.get((reference, corpus), {})
        common = sorted(set(reference_folds) & set(folds))
        if system != reference and common:  # the folds both have (all of them once every run is done)
            test = pooled_mcnemar({fold: reference_folds[fold][1] for fold in common},
                                  {fold: per_fold[fold][1] for fold in common})
            row.update(mcnemar_p=test["p_value"], mcnemar_b=test["b"], mcnemar_c=test["c"])
        rows.append(row)
    return rows


HEADER = ["system", "UA % (mean ± std)", "WA %", "macro-F1 %", "n test", "folds", "McNemar p vs egemaps_svm",
          "time s", "s / epoch", "notes"]


def _mcnemar_cell(row):
    # "p (+k)": the system makes k fewer errors than the reference ("-k": more)
    if row["mcnemar_p"] is None:
        return "-"
    gain = row["mcnemar_c"] - row["mcnemar_b"]
    return f"{row['mcnemar_p']:.3g} ({'+' if gain > 0 else ''}{gain})"


def leaderboard_markdown(rows, notes=None):
    """The leaderboard as one markdown table per corpus (a ``### corpus`` heading each), rows in the given order.

    Arguments
    ---------
    rows : list of dict
        From :func:`leaderboard_rows`.
    notes : dict, optional
        ``{system: text}`` printed in the last column (e.g. an epoch budget that cuts a paper's schedule).

    Returns
    -------
    str

    Example
    -------
    >>> row = {"system": "egemaps_svm", "corpus": "x", "ua": 0.5, "ua_std": 0.1, "wa": 0.5, "macro_f1": 0.4,
    ...        "n_test": 8, "folds": 2, "mcnemar_p": None, "mcnemar_b": None, "mcnemar_c": None, "seconds": 3.0,
    ...        "epochs": [None, None], "runs": ["a", "b"]}
    >>> text = leaderboard_markdown([row, dict(row, system="mine", mcnemar_p=0.01, mcnemar_b=1, mcnemar_c=6,
    ...                                        epochs=[3, 3])])
    >>> print(text.splitlines()[0]); print(text.splitlines()[5])
    ### x
    | mine        | 50.0 ± 10.0 | 50.0 |       40.0 |      8 |     2 | 0.01 (+5)                |      3 |       0.5 |           |
    """
    notes = notes or {}
    blocks = []
    for corpus in dict.fromkeys(row["corpus"] for row in rows):
        table = []
        for row in (r for r in rows if r["corpus"] == corpus):
            epochs = sum(e for e in row["epochs"] if e is not None)
            note = notes.get(row["system"], "reference" if row["system"] == REFERENCE_SYSTEM else "")
            table.append([row["system"], f"{100 * row['ua']:.1f} ± {100 * row['ua_std']:.1f}", 100 * row["wa"],
                          100 * row["macro_f1"], row["n_test"], row["folds"], _mcnemar_cell(row),
                          round(row["seconds"]), f"{row['seconds'] / epochs:.1f}" if epochs else "-", note])
        blocks.append(f"### {corpus}\n\n" + markdown_table(HEADER, table))
    return "\n\n".join(blocks)
