#!/usr/bin/env python3
"""Tables 3-5 of the selective MTL paper (and style accuracy) from the folds' test_results.json, paper numbers beside.

Run: python recipes/SelectiveMTL/make_tables.py --results_folder results/SelectiveMTL --seed 1986

Experiment ``<name>`` is read from ``<results_folder>/<name>/<seed>/fold_<k>/test_results.json`` (the layout of
``tools/cross_validate.py ... --output_folder results/SelectiveMTL/<name>/<seed>``). Names: baseline_iemocap,
baseline_spont, combined, combined_half, mtl, mtl_half, selective_mtl, selective_mtl_half; missing ones are
left out. MTL runs at two or more SER loss weights (``--ser_weight``, any experiment name) add the lambda sweep.
Values are the mean ± standard deviation over the folds found; the tables go to
``<results_folder>/tables.md`` (or ``--output``).
"""
import argparse
import glob
import os
import re

import numpy as np

from emo_lobes.errors import EmoLobesError, cli_errors
from emo_lobes.evaluation.metrics import aggregate_folds, read_test_results
from emo_lobes.evaluation.tables import results_table

EMOTIONS = ("angry", "sad", "happy", "neutral")
#: Table 3 rows: (row name, experiment folder name); the baseline row averages the two baselines.
TABLE3_ROWS = (
    ("Baseline: ACT+SPON (separate)", "baseline"),
    ("Combined: ACT+SPON", "combined"),
    ("Combined: ACT+SPON (half)", "combined_half"),
    ("MTL: ACT+SPON", "mtl"),
    ("MTL: ACT+SPON (half)", "mtl_half"),
    ("Selective MTL: ACT+SPON", "selective_mtl"),
    ("Selective MTL: ACT+SPON (half)", "selective_mtl_half"),
)
#: Table 3 of the paper (UA, WA in %).
PAPER_TABLE3 = {
    "Baseline: ACT+SPON (separate)": {"ua": 59.83, "wa": 62.08},
    "Combined: ACT+SPON": {"ua": 60.13, "wa": 63.09},
    "Combined: ACT+SPON (half)": {"ua": 60.32, "wa": 60.06},
    "MTL: ACT+SPON": {"ua": 60.48, "wa": 63.21},
    "MTL: ACT+SPON (half)": {"ua": 61.13, "wa": 60.99},
    "Selective MTL: ACT+SPON": {"ua": 62.68, "wa": 65.15},
    "Selective MTL: ACT+SPON (half)": {"ua": 61.06, "wa": 62.06},
}
#: Tables 4 (ACT, IEMOCAP) and 5 (SPON) of the paper: per-class accuracy, UA, WA in %.
PAPER_PER_CORPUS = {
    "iemocap": {
        "Baseline": dict(zip(EMOTIONS + ("ua", "wa"), (56.82, 72.14, 48.82, 44.82, 55.65, 54.57))),
        "Combined": dict(zip(EMOTIONS + ("ua", "wa"), (55.38, 68.44, 52.72, 45.90, 55.61, 54.48))),
        "MTL": dict(zip(EMOTIONS + ("ua", "wa"), (53.14, 66.82, 53.55, 44.31, 54.45, 53.14))),
        "Selective MTL": dict(zip(EMOTIONS + ("ua", "wa"), (44.77, 76.76, 64.42, 51.92, 59.47, 56.87))),
    },
    "spont": {
        "Baseline": dict(zip(EMOTIONS + ("ua", "wa"), (82.93, 31.39, 71.46, 53.65, 59.96, 67.17))),
        "Combined": dict(zip(EMOTIONS + ("ua", "wa"), (84.35, 30.06, 65.98, 60.30, 60.17, 68.93))),
        "MTL": dict(zip(EMOTIONS + ("ua", "wa"), (85.08, 33.96, 67.01, 61.10, 61.79, 70.04))),
        "Selective MTL": dict(zip(EMOTIONS + ("ua", "wa"), (89.14, 20.95, 67.12, 61.75, 59.74, 70.76))),
    },
}
#: Tables 4-5 rows: (row name, experiment folder name; ``baseline`` means ``baseline_<corpus>``).
PER_CORPUS_ROWS = (
    ("Baseline", "baseline"), ("Combined", "combined"), ("Combined (half)", "combined_half"), ("MTL", "mtl"),
    ("MTL (half)", "mtl_half"), ("Selective MTL", "selective_mtl"), ("Selective MTL (half)", "selective_mtl_half"),
)
#: Section 4.5: "the accuracy of the style classification has never been lower than 99.95%".
PAPER_STYLE = ">= 99.95"


def load_experiment(folder):
    """The test results of an experiment's folds: ``{fold number: results}`` (empty when none exist).

    Arguments
    ---------
    folder : str
        ``<results_folder>/<name>/<seed>``, holding ``fold_<k>/test_results.json``.

    Returns
    -------
    dict

    Example
    -------
    >>> load_experiment("/no/such/folder")
    {}
    """
    results = {}
    for path in sorted(glob.glob(os.path.join(folder, "fold_*", "test_results.json"))):
        match = re.search(r"fold_(\d+)", os.path.basename(os.path.dirname(path)))
        if match:
            results[int(match.group(1))] = read_test_results(path)
    return results


def mean_over_folds(values):
    """Mean, standard deviation (ddof=1) and count of the non-missing values.

    Example
    -------
    >>> mean_over_folds([0.5, None, 0.7])["n"], round(mean_over_folds([0.5, 0.7])["mean"], 2)
    (2, 0.6)
    >>> mean_over_folds([None])
    """
    present = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(present):
        return None
    std = float(np.std(present, ddof=1)) if len(present) > 1 else 0.0
    return {"mean": float(present.mean()), "std": std, "n": int(len(present))}


def corpus_row(fold_results, corpus, name):
    """One row of Table 4 or 5: per-class accuracy (recall), UA, WA of ``corpus`` over the folds.

    Arguments
    ---------
    fold_results : dict
        ``{fold: results}`` from :func:`load_experiment`.
    corpus : str
        ``iemocap`` or ``spont``.
    name : str
        The row name.

    Returns
    -------
    dict or None
        ``None`` when no fold tested ``corpus``.

    Example
    -------
    >>> result = {"per_corpus": {"spont": {"ua": 0.5, "wa": 0.6, "per_class_recall": {"angry": 1.0, "sad": None}}}}
    >>> row = corpus_row({1: result}, "spont", "MTL")
    >>> row["ua"]["mean"], row["angry"]["mean"], row["sad"], row["folds"]
    (0.5, 1.0, None, '1')
    """
    metrics = [r["per_corpus"][corpus] for r in fold_results.values() if corpus in r.get("per_corpus", {})]
    if not metrics:
        return None
    row = {"name": name, "folds": str(len(metrics))}
    aggregated = aggregate_folds(metrics, keys=("ua", "wa"))
    row.update(ua=aggregated["ua"], wa=aggregated["wa"])
    for emotion in EMOTIONS:
        row[emotion] = mean_over_folds([m["per_class_recall"].get(emotion) for m in metrics])
    return row


def table3_row(experiments, key, name):
    """One row of Table 3: UA and WA averaged over the two corpora, per fold, then over folds.

    For ``key == "baseline"`` fold k averages ``baseline_iemocap`` (its IEMOCAP scores) and ``baseline_spont``
    (its spontaneous scores) of fold k; other rows use each fold's ``corpus_mean``.

    Example
    -------
    >>> exps = {"baseline_iemocap": {1: {"per_corpus": {"iemocap": {"ua": 0.4, "wa": 0.5}}}},
    ...         "baseline_spont": {1: {"per_corpus": {"spont": {"ua": 0.6, "wa": 0.7}}}}}
    >>> row = table3_row(exps, "baseline", "Baseline")
    >>> round(row["ua"]["mean"], 3), round(row["wa"]["mean"], 3), row["folds"]
    (0.5, 0.6, '1')
    """
    if key == "baseline":
        acted, spont = experiments.get("baseline_iemocap", {}), experiments.get("baseline_spont", {})
        folds = sorted(set(acted) & set(spont))
        per_fold = [{m: (acted[k]["per_corpus"]["iemocap"][m] + spont[k]["per_corpus"]["spont"][m]) / 2
                     for m in ("ua", "wa")} for k in folds]
    else:
        per_fold = [r["corpus_mean"] for r in experiments.get(key, {}).values()
                    if len(r.get("per_corpus", {})) == 2]
    if not per_fold:
        return None
    return {"name": name, "folds": str(len(per_fold)),
            "ua": mean_over_folds([f["ua"] for f in per_fold]), "wa": mean_over_folds([f["wa"] for f in per_fold])}


def make_tables(results_folder, seed):
    """All tables as one markdown text.

    Arguments
    ---------
    results_folder : str
        Holds ``<name>/<seed>/fold_<k>/test_results.json``.
    seed : int or str
        The seed folder.

    Returns
    -------
    str
        Markdown with Table 3, Table 4, Table 5 and the style accuracy, ours beside the paper's.
    """
    names = ["baseline_iemocap", "baseline_spont"] + [key for _, key in TABLE3_ROWS if key != "baseline"]
    experiments = {name: load_experiment(os.path.join(results_folder, name, str(seed))) for name in names}
    if not any(experiments.values()):
        raise EmoLobesError(f"no test_results.json under {results_folder}/<experiment>/{seed}/fold_<k>",
                            "run the experiments first (see the README), or pass the right --results_folder/--seed")
    percent_cols = [("ua", "UA %"), ("wa", "WA %")]
    class_cols = [(emotion, f"{emotion} %") for emotion in EMOTIONS]
    sections = [f"Ours: mean ± std over the folds found under {results_folder}/<experiment>/{seed}; "
                "columns marked (paper) are the paper's numbers."]
    rows = [row for name, key in TABLE3_ROWS if (row := table3_row(experiments, key, name))]
    sections.append("### Table 3: UA and WA averaged over the two corpora\n\n"
                    + results_table(rows, percent_cols + [("folds", "folds")], paper=PAPER_TABLE3,
                                    label_header="Training data"))
    for number, corpus, title in ((4, "iemocap", "acted corpus (IEMOCAP)"), (5, "spont", "spontaneous corpus")):
        rows = []
        for name, key in PER_CORPUS_ROWS:
            experiment = experiments.get(f"baseline_{corpus}" if key == "baseline" else key, {})
            row = corpus_row(experiment, corpus, name)
            if row:
                rows.append(row)
        if rows:
            sections.append(f"### Table {number}: per-class accuracy, UA and WA in the {title}\n\n" + results_table(
                rows, class_cols + percent_cols + [("folds", "folds")], paper=PAPER_PER_CORPUS[corpus],
                label_header="Model"))
    style_rows = []
    for _, key in TABLE3_ROWS:
        values = [r.get("style_accuracy") for r in experiments.get(key, {}).values()]
        if any(v is not None for v in values):
            style_rows.append({"name": key, "style_accuracy": mean_over_folds(values),
                               "folds": str(sum(v is not None for v in values))})
    if style_rows:
        paper = {row["name"]: {"style_accuracy": PAPER_STYLE} for row in style_rows}
        sections.append("### Style recognition accuracy (Section 4.5)\n\n" + results_table(
            style_rows, [("style_accuracy", "style acc. %"), ("folds", "folds")], paper=paper,
            label_header="Experiment"))
    sweep = lambda_sweep_rows(results_folder, seed)
    if sweep:
        sections.append("### Lambda sweep (Table 2 gives lambda 0.1 - 0.9; the paper reports only its choice, 0.8)\n\n"
                        + results_table(sweep, percent_cols + [("style_accuracy", "style acc. %"), ("folds", "folds")],
                                        label_header="Model, SER loss weight"))
    return "\n\n".join(sections) + "\n"


def lambda_sweep_rows(results_folder, seed):
    """Rows of the lambda sweep (Table 2: lambda 0.1 - 0.9): every MTL run under ``results_folder``, grouped by
    model (MTL, selective MTL, each full or half) and by its recorded ``ser_weight``.

    Any experiment folder counts (``mtl``, ``selective_mtl_l0.3``, ...): the model and lambda are read from its
    test_results.json (``style_task``, ``selective``, ``half_training_set``, ``ser_weight``), not from its name.

    Arguments
    ---------
    results_folder : str
        Holds ``<name>/<seed>/fold_<k>/test_results.json``.
    seed : int or str
        The seed folder.

    Returns
    -------
    list of dict
        Table 3-style rows (UA, WA over both corpora, style accuracy, folds), named ``<model>, lambda = <value>``,
        sorted by model then lambda; empty unless some model has runs at two or more lambdas.

    Example
    -------
    >>> import json, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name, weight, ua in (("mtl", 0.8, 0.6), ("mtl_l0.3", 0.3, 0.5)):
    ...     os.makedirs(os.path.join(root, name, "1986", "fold_1"))
    ...     result = {"style_task": True, "selective": False, "half_training_set": False, "ser_weight": weight,
    ...               "per_corpus": {"iemocap": {}, "spont": {}}, "corpus_mean": {"ua": ua, "wa": ua},
    ...               "ua": ua, "wa": ua, "macro_f1": ua, "per_class_recall": {}, "confusion": [], "labels": [], "n": 1}
    ...     json.dump(result, open(os.path.join(root, name, "1986", "fold_1", "test_results.json"), "w"))
    >>> [(row["name"], row["ua"]["mean"]) for row in lambda_sweep_rows(root, 1986)]
    [('MTL, lambda = 0.3', 0.5), ('MTL, lambda = 0.8', 0.6)]
    """
    groups = {}
    for folder in sorted(glob.glob(os.path.join(results_folder, "*", str(seed)))):
        for result in load_experiment(folder).values():
            if not result.get("style_task") or result.get("ser_weight") is None:
                continue
            model = ("Selective MTL" if result.get("selective") else "MTL") + (
                " (half)" if result.get("half_training_set") else "")
            groups.setdefault(model, {}).setdefault(float(result["ser_weight"]), []).append(result)
    rows = []
    for model in sorted(groups, key=lambda m: ("Selective" in m, "half" in m)):
        if len(groups[model]) < 2:
            continue
        for weight in sorted(groups[model]):
            row = table3_row({"runs": dict(enumerate(groups[model][weight]))}, "runs", f"{model}, lambda = {weight:g}")
            if row:
                row["style_accuracy"] = mean_over_folds([r.get("style_accuracy") for r in groups[model][weight]])
                rows.append(row)
    return rows


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results_folder", default="results/SelectiveMTL")
    parser.add_argument("--seed", default="1986")
    parser.add_argument("--output", default=None, help="default: <results_folder>/tables.md")
    args = parser.parse_args(argv)
    text = make_tables(args.results_folder, args.seed)
    output = args.output or os.path.join(args.results_folder, "tables.md")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    print(f"[tables] written to {output}")


if __name__ == "__main__":
    main()
