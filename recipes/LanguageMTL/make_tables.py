#!/usr/bin/env python3
"""Tables 2-5 of the Language-ID MTL paper from this recipe's test_results.json files, the paper's numbers beside.

Run: python recipes/LanguageMTL/make_tables.py --results_folder results/LanguageMTL
        [--output results/LanguageMTL/tables.md]

Every per-corpus ``test_results.json`` written by train.py and svm_baselines.py names its table, row and corpus;
runs of the same cell (folds, seeds) are averaged (mean ± standard deviation).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.metrics import aggregate_folds  # noqa: E402
from emo_lobes.evaluation.tables import results_table  # noqa: E402

CLASSIFIER_NAMES = {"lstm": "LSTM", "svc": "SVC", "logreg": "Logistic Regression", "linear_svc": "linear SVM"}
#: Column order and titles of each table (the paper's "MANDARIN" is MASC).
CORPUS_TITLES = {"emodb": "EMO-DB", "emovo": "EMOVO", "savee": "SAVEE", "iemocap": "IEMOCAP", "masc": "MASC",
                 "urdu": "URDU"}
TABLE_COLUMNS = {
    "2": ["emodb", "emovo", "savee", "iemocap", "masc", "urdu"],
    "3": ["emodb", "emovo", "savee"],
    "4": ["emodb", "emovo", "savee", "iemocap", "masc"],
    "5": ["iemocap", "emovo", "savee", "emodb"],
    "6.2": ["iemocap"],
}
TABLE_TITLES = {
    "2": "Table 2: SER per corpus (accuracy %, 5 classes, held-out speakers)",
    "3": "Table 3: transfer to the small corpora (accuracy %): trained on IEMOCAP, then LSTM frozen and the "
         "penultimate dense layer fine-tuned",
    "4": "Table 4: one model on all corpora pooled, emotion accuracy % per corpus (single task vs emotion + "
         "language ID)",
    "5": "Table 5: trained on IEMOCAP only, tested on each corpus (accuracy %)",
    "6.2": "Section 6.2: Tripathi & Beigi's IEMOCAP setting (accuracy %, anger/excited/neutral/sad, Sessions 1-4 "
           "train, Session 5 tests, no dev; ours: the last epoch; the paper's 55.65 % is, in the authors' code, the "
           "best of 100 epochs on Session 5)",
}
#: The paper's accuracies (%), Tables 2-5 (Table 3 printed as fractions there). Language ID: ">97%" (Table 4).
PAPER = {
    "2": {
        "MFCC + LSTM": {"emodb": 44.19, "emovo": 30.0, "savee": 35.56, "iemocap": 50.48, "masc": 41.64},
        "IS09 + Logistic Regression": {"emodb": 85.0, "emovo": 38.0, "savee": 46.0, "iemocap": 58.0, "masc": 49.0},
        "IS09 + SVC": {"emodb": 88.37, "emovo": 35.71, "savee": 55.55, "iemocap": 61.20, "masc": 58.0},
        "IS09 + LSTM": {"emodb": 86.05, "emovo": 27.14, "savee": 55.56, "iemocap": 55.09, "masc": 50.40},
    },
    "3": {
        "Train on IEMOCAP (IS09 + LSTM)": {"emodb": 46.51, "emovo": 35.71, "savee": 45.55},
        "Fine-tune on smaller corpus (IS09 + LSTM)": {"emodb": 83.72, "emovo": 31.42, "savee": 55.55},
    },
    "4": {
        "LSTM, emotion only (MFCC)": {"emodb": 58.14, "emovo": 21.43, "savee": 34.44, "iemocap": 50.80,
                                      "masc": 43.37},
        "Multi-task LSTM, emotion + language ID (MFCC)": {"emodb": 53.48, "emovo": 28.00, "savee": 33.30,
                                                          "iemocap": 50.69, "masc": 43.10,
                                                          "language_accuracy": ">97"},
    },
    "5": {
        "Parry et al. (2019), 4 classes": {"iemocap": 51.45, "emovo": 33.33, "savee": 33.33, "emodb": 41.99},
        "IS09 + SVC": {"iemocap": 61.00, "emovo": 32.00, "savee": 51.00, "emodb": 65.00},
        "IS09 + LSTM": {"iemocap": 55.20, "emovo": 31.43, "savee": 43.33, "emodb": 46.51},
    },
    "6.2": {
        "Tripathi & Beigi's BiLSTM + attention decoder (34 short-term features)": {"iemocap": 55.65},
        "IS09 + SVC": {"iemocap": 56.45},
    },
}
EXPERIMENT_TABLES = {"single_corpus": "2", "transfer": "3", "multitask": "4", "cross_corpus": "5",
                     "tripathi_beigi": "6.2"}


def table_columns(table, results):
    """A table's corpus columns: the paper's, then any other corpus the results hold (e.g. ``--corpus=ravdess``).

    Example
    -------
    >>> table_columns("5", [{"corpus": "ravdess"}, {"corpus": "emodb"}])
    ['iemocap', 'emovo', 'savee', 'emodb', 'ravdess']
    """
    others = {str(r["corpus"]) for r in results if r.get("corpus")} - set(TABLE_COLUMNS[table])
    return TABLE_COLUMNS[table] + sorted(others)


def corpus_title(corpus):
    """A corpus's column title (the paper's name, else the corpus key in capitals).

    Example
    -------
    >>> corpus_title("emodb"), corpus_title("ravdess")
    ('EMO-DB', 'RAVDESS')
    """
    return CORPUS_TITLES.get(corpus, corpus.upper())


def features_title(features):
    """How a feature kind is named in the tables.

    Example
    -------
    >>> features_title("mfcc"), features_title("IS09"), features_title("pyaudioanalysis")
    ('MFCC', 'IS09', '34 short-term features')
    """
    return {"mfcc": "MFCC", "pyaudioanalysis": "34 short-term features"}.get(features, features)


def row_name(experiment, features, classifier, task=None, stage=None):
    """The table and row a result belongs to (rows named as in the paper, with the features in the name).

    Arguments
    ---------
    experiment : str
        ``single_corpus``, ``transfer``, ``multitask``, ``cross_corpus`` or ``tripathi_beigi`` (Section 6.2).
    features : str
        ``mfcc``, ``pyaudioanalysis`` or an openSMILE set name.
    classifier : str
        ``lstm``, ``svc``, ``logreg`` or ``linear_svc``.
    task : str, optional
        ``emotion_only`` or ``multitask`` (Table 4).
    stage : str, optional
        ``as_is`` or ``finetuned`` (Table 3).

    Returns
    -------
    tuple
        ``(table number as str, row name)``.

    Example
    -------
    >>> row_name("single_corpus", "IS09", "svc"), row_name("multitask", "mfcc", "lstm", task="multitask")
    (('2', 'IS09 + SVC'), ('4', 'Multi-task LSTM, emotion + language ID (MFCC)'))
    >>> row_name("transfer", "IS09", "lstm", stage="as_is")
    ('3', 'Train on IEMOCAP (IS09 + LSTM)')
    >>> row_name("tripathi_beigi", "pyaudioanalysis", "lstm")[1]
    "Tripathi & Beigi's BiLSTM + attention decoder (34 short-term features)"
    """
    if experiment not in EXPERIMENT_TABLES:
        raise EmoLobesError(f"unknown experiment '{experiment}'", f"use one of {', '.join(EXPERIMENT_TABLES)}")
    table = EXPERIMENT_TABLES[experiment]
    setting = f"{features_title(features)} + {CLASSIFIER_NAMES.get(classifier, classifier)}"
    if experiment == "transfer":
        prefix = "Train on IEMOCAP" if stage == "as_is" else "Fine-tune on smaller corpus"
        return table, f"{prefix} ({setting})"
    if experiment == "tripathi_beigi" and classifier == "lstm":
        return table, f"Tripathi & Beigi's BiLSTM + attention decoder ({features_title(features)})"
    if experiment == "multitask":
        if task == "multitask":
            return table, f"Multi-task LSTM, emotion + language ID ({features_title(features)})"
        return table, f"LSTM, emotion only ({features_title(features)})"
    return table, setting


def collect_results(results_folder):
    """Every per-corpus result of this recipe under ``results_folder``.

    Arguments
    ---------
    results_folder : str
        Searched recursively for ``test_results.json``.

    Returns
    -------
    list of dict
        The result files whose ``recipe`` is LanguageMTL and ``scope`` is ``corpus`` (pooled files skipped).

    Example
    -------
    >>> import tempfile
    >>> collect_results(tempfile.mkdtemp())
    []
    """
    found = []
    for folder, _, files in os.walk(results_folder):
        if "test_results.json" not in files:
            continue
        with open(os.path.join(folder, "test_results.json"), encoding="utf-8") as handle:
            try:
                result = json.load(handle)
            except ValueError:
                continue
        if result.get("recipe") == "LanguageMTL" and result.get("scope") == "corpus":
            result["path"] = folder
            found.append(result)
    return found


def _cell(results, key):
    # One run: its value; several: {"mean", "std"} over runs.
    values = [r for r in results if r.get(key) is not None]
    if not values:
        return None
    if len(values) == 1:
        return values[0][key]
    aggregated = aggregate_folds(values, keys=(key,))[key]
    return {"mean": aggregated["mean"], "std": aggregated["std"]}


def _pooled_language_accuracy(results):
    # Language-ID accuracy over all test utterances of each run (corpora weighted by size), then over runs.
    runs = {}
    for result in results:
        if result.get("language_accuracy") is not None:
            run = runs.setdefault(os.path.dirname(os.path.dirname(result.get("path", ""))), [0.0, 0])
            run[0] += result["language_accuracy"] * result["n"]
            run[1] += result["n"]
    return _cell([{"language_accuracy": correct / n} for correct, n in runs.values()], "language_accuracy")


def language_table(results):
    """Language-ID accuracy (%) per corpus of the multi-task runs (Table 4 reports only ">97%").

    Example
    -------
    >>> ours = [{"table": "4", "row": "Multi-task LSTM, emotion + language ID (MFCC)", "corpus": "masc", "n": 4,
    ...          "language_accuracy": 0.75}]
    >>> print(language_table(ours).splitlines()[2])
    | Multi-task LSTM, emotion + language ID (MFCC) | 75.0 |
    """
    chosen = [r for r in results if str(r.get("table")) == "4" and r.get("language_accuracy") is not None]
    if not chosen:
        return ""
    corpora = [c for c in table_columns("4", chosen) if any(r.get("corpus") == c for r in chosen)]
    rows = []
    for name in sorted({r["row"] for r in chosen}):
        row = {"name": name}
        for corpus in corpora:
            row[corpus] = _cell([r for r in chosen if r["row"] == name and r.get("corpus") == corpus],
                                "language_accuracy")
        rows.append(row)
    return results_table(rows, [(c, corpus_title(c)) for c in corpora], label_header="Language ID accuracy")


def make_table(table, results, metric="wa"):
    """One table in markdown: our rows (and the paper's), each corpus column followed by the paper's.

    Arguments
    ---------
    table : str
        ``"2"`` .. ``"5"``.
    results : list of dict
        From :func:`collect_results`.
    metric : str
        ``wa`` (accuracy, the paper's metric) or ``ua``; the paper's numbers are shown beside ``wa`` only.

    Returns
    -------
    str
        The markdown table, or ``''`` when no result and no paper row belongs to it.

    Example
    -------
    >>> ours = [{"table": "5", "row": "IS09 + LSTM", "corpus": "emodb", "wa": 0.5, "ua": 0.4}]
    >>> lines = make_table("5", ours).splitlines()
    >>> print(lines[0])
    | Setting                        | IEMOCAP | IEMOCAP (paper) | EMOVO | EMOVO (paper) | SAVEE | SAVEE (paper) | EMO-DB | EMO-DB (paper) |
    >>> print(lines[4])
    | IS09 + LSTM                    |       – |            55.2 |     – |          31.4 |     – |          43.3 |   50.0 |           46.5 |
    """
    chosen = [r for r in results if str(r.get("table")) == table]
    if not chosen:
        return ""
    ours = {r["row"] for r in chosen}
    paper_rows = PAPER.get(table, {}) if metric == "wa" else {}
    row_names = [name for name in PAPER.get(table, {}) if name in paper_rows or name in ours]
    row_names += sorted(ours - set(row_names))
    rows = []
    for name in row_names:
        row = {"name": name}
        for corpus in table_columns(table, chosen):
            row[corpus] = _cell([r for r in chosen if r["row"] == name and r.get("corpus") == corpus], metric)
        if table == "4":
            row["language_accuracy"] = _pooled_language_accuracy([r for r in chosen if r["row"] == name])
        rows.append(row)
    columns = [(corpus, corpus_title(corpus)) for corpus in table_columns(table, chosen)]
    if table == "4":
        columns.append(("language_accuracy", "language ID"))
    used_columns = [c for c in columns if any(row.get(c[0]) is not None for row in rows)
                    or any(c[0] in values for values in paper_rows.values())]
    return results_table(rows, used_columns, paper=paper_rows, label_header="Setting")


def make_all_tables(results_folder):
    """Tables 2-5 (accuracy with the paper's numbers, then UA) as one markdown text.

    Example
    -------
    >>> import tempfile
    >>> make_all_tables(tempfile.mkdtemp())
    'No LanguageMTL results found.\\n'
    """
    results = collect_results(results_folder)
    if not results:
        return "No LanguageMTL results found.\n"
    parts = []
    for table in TABLE_TITLES:
        accuracy = make_table(table, results, "wa")
        if not accuracy:
            continue
        runs = sorted({r["path"] for r in results if str(r.get("table")) == table})
        language = language_table(results) if table == "4" else ""
        language = f"\nLanguage-ID accuracy (%) per corpus, ours:\n\n{language}\n" if language else ""
        parts.append(f"### {TABLE_TITLES[table]}\n\n{accuracy}\n\nUA (%), ours only:\n\n"
                     f"{make_table(table, results, 'ua')}\n{language}\n({len(runs)} result files)\n")
    return "\n".join(parts)


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results_folder", default="results/LanguageMTL")
    parser.add_argument("--output", default=None, help="markdown file to write (default: print only)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.results_folder):
        raise EmoLobesError(f"results folder {args.results_folder} does not exist", "run the recipe first")
    text = make_all_tables(args.results_folder)
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
