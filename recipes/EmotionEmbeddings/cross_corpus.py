#!/usr/bin/env python3
"""Tables II and III and Figure 3 of the emotion-embedding paper from finished runs, the paper's numbers beside ours.

Run:
python recipes/EmotionEmbeddings/cross_corpus.py --output_folder results/EmotionEmbeddings/tables \
    --setting "Multi-corpus=results/EmotionEmbeddings/multi_corpus_w2v2_frozen/0/fold_1" \
    --setting "Single-corpus=results/EmotionEmbeddings/single_corpus_w2v2_frozen/cafe/0/fold_1,<emodb run>,..."

Each ``--setting NAME=RUN[,RUN...]`` names a row (the paper's rows are Single-corpus, Single-corpus + FT,
Multi-corpus, Multi-corpus + FT) and the run folders (holding test_results.json) that make it: one multi-corpus
run, or one single-corpus run per corpus (each scored through its own head on every corpus's test set). A pair
or corpus given by several runs (LOSO folds, seeds) is averaged. Writes table_ii.md, table_iii.md, pairs.md,
cross_corpus.json and figure3_<source>_through_<head>.png (one panel per setting, rows: the source corpus's
labels, columns: the head's labels, cells: % of the row).
"""
import argparse
import os
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.evaluation.cross_corpus import pair_confusion, summarize_pairs  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.data.manifest import write_json_atomic, write_text_atomic  # noqa: E402
from emo_lobes.evaluation.metrics import read_test_results  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table, results_table  # noqa: E402

#: Table II of the paper: within-corpus UAR (%) on the paper's own split (LOSO for the last row).
PAPER_TABLE_II = {
    "Single-corpus": {"cafe": 63.7, "emodb": 57.5, "gemep": 39.8, "ravdess": 60.4, "average": 55.3},
    "Multi-corpus": {"cafe": 60.1, "emodb": 67.4, "gemep": 39.4, "ravdess": 60.4, "average": 56.8},
    "Single-corpus + FT": {"cafe": 76.2, "emodb": 72.5, "gemep": 52.8, "ravdess": 71.4, "average": 68.2},
    "Multi-corpus + FT": {"cafe": 75.0, "emodb": 69.3, "gemep": 44.9, "ravdess": 71.9, "average": 65.3},
    "Single-corpus + FT (LOSO)": {"cafe": 77.2, "emodb": 90.5, "gemep": 55.8, "ravdess": 82.2, "average": 76.4},
}
#: Table III of the paper: UAR (%) mean (std) within and across corpora, per scoring mode.
PAPER_TABLE_III = {
    "sentiment": {
        "Single-corpus": {"within": (67.2, 4.7), "cross": (42.0, 8.3)},
        "Single-corpus + FT": {"within": (72.3, 5.5), "cross": (44.6, 12.0)},
        "Multi-corpus": {"within": (69.1, 4.5), "cross": (50.8, 11.6)},
        "Multi-corpus + FT": {"within": (73.8, 4.0), "cross": (42.3, 12.9)},
    },
    "shared": {
        "Single-corpus": {"within": (55.3, 10.7), "cross": (41.2, 16.2)},
        "Single-corpus + FT": {"within": (68.2, 10.5), "cross": (45.3, 10.8)},
        "Multi-corpus": {"within": (56.8, 12.1), "cross": (47.5, 10.7)},
        "Multi-corpus + FT": {"within": (65.3, 13.8), "cross": (32.1, 25.1)},
    },
}
MODE_TITLES = {"sentiment": "Negative, neutral and positive classes", "shared": "Common classes"}


def parse_setting(text):
    """``NAME=RUN[,RUN...]`` -> ``(name, [runs])``.

    Example
    -------
    >>> parse_setting("Multi-corpus=results/a, results/b")
    ('Multi-corpus', ['results/a', 'results/b'])
    """
    name, _, runs = str(text).partition("=")
    folders = [run.strip() for run in runs.split(",") if run.strip()]
    if not name.strip() or not folders:
        raise EmoLobesError(f"cannot read setting '{text}'", "write --setting \"NAME=RUN_FOLDER[,RUN_FOLDER...]\"")
    return name.strip(), folders


def gather_setting(run_folders):
    """The pair scores, within-corpus UARs, predictions and label tables of one setting's runs.

    Arguments
    ---------
    run_folders : list of str
        Folders holding ``test_results.json`` written by train.py.

    Returns
    -------
    dict
        ``pairs`` (one per source/head pair, averaged over runs giving it, with ``n_runs``), ``within``
        (``{corpus: mean UAR}``), ``predictions`` (``[(run index, prediction)]``), ``label_emotions``.
    """
    scores, within, predictions, label_emotions = defaultdict(list), defaultdict(list), [], {}
    for index, folder in enumerate(run_folders):
        results = read_test_results(folder)
        if "cross_corpus" not in results:
            raise EmoLobesError(f"{folder} is not an EmotionEmbeddings run (no cross_corpus results)",
                                "give the output folders of recipes/EmotionEmbeddings/train.py")
        for corpus, table in results["label_emotions"].items():
            if label_emotions.setdefault(corpus, table) != table:
                raise EmoLobesError(f"corpus {corpus} has other labels in {folder} than in an earlier run",
                                    "combine runs prepared from the same corpora")
        for pair in results["cross_corpus"]["pairs"]:
            scores[(pair["source"], pair["head"])].append(pair)
        for corpus, metrics in results["per_corpus"].items():
            within[corpus].append(metrics["ua"])
        predictions += [(index, p) for p in results["predictions"]]
    pairs = []
    for (source, head), found in sorted(scores.items()):
        pair = {"source": source, "head": head, "n_runs": len(found), "n": sum(p["n"] for p in found),
                "shared_classes": found[0]["shared_classes"]}
        for key in ("sentiment_ua", "shared_ua"):
            values = [p[key] for p in found if p[key] is not None]
            pair[key] = float(np.mean(values)) if values else None
        pairs.append(pair)
    return {"pairs": pairs, "within": {c: float(np.mean(v)) for c, v in sorted(within.items())},
            "predictions": predictions, "label_emotions": label_emotions}


def table_ii(settings):
    """Markdown Table II: within-corpus UAR per corpus and their average, the paper's beside ours.

    Arguments
    ---------
    settings : dict
        ``{name: gather_setting(...)}``.

    Returns
    -------
    str
        The table.

    Example
    -------
    >>> print(table_ii({"Multi-corpus": {"within": {"cafe": 0.5, "emodb": 0.7}}}))
    | Setting      | CaFE | CaFE (paper) | EmoDB | EmoDB (paper) | Average | Average (paper) |
    | :----------- | ---: | -----------: | ----: | ------------: | ------: | --------------: |
    | Multi-corpus | 50.0 |         60.1 |  70.0 |          67.4 |    60.0 |            56.8 |
    """
    corpora = sorted({corpus for data in settings.values() for corpus in data["within"]})
    rows = []
    for name, data in settings.items():
        row = {"name": name, **data["within"]}
        row["average"] = float(np.mean(list(data["within"].values()))) if data["within"] else None
        rows.append(row)
    titles = {"cafe": "CaFE", "emodb": "EmoDB", "gemep": "GEMEP", "ravdess": "RAVDESS"}
    columns = [(corpus, titles.get(corpus, corpus)) for corpus in corpora] + [("average", "Average")]
    return results_table(rows, columns, paper=PAPER_TABLE_II)


def table_iii(settings):
    """Markdown Table III: within- and cross-corpus UAR mean ± std for both scoring modes, paper beside ours.

    Example
    -------
    >>> pairs = [{"source": "a", "head": "a", "sentiment_ua": 0.7, "shared_ua": 0.6},
    ...          {"source": "b", "head": "b", "sentiment_ua": 0.5, "shared_ua": 0.4},
    ...          {"source": "a", "head": "b", "sentiment_ua": 0.4, "shared_ua": 0.3}]
    >>> print(table_iii({"Multi-corpus": {"pairs": pairs}}).splitlines()[4])
    | Multi-corpus | 60.0 ± 14.1 |  69.1 ± 4.5 |         40.0 |   50.8 ± 11.6 |
    """
    parts = []
    for mode, title in MODE_TITLES.items():
        rows, paper = [], {}
        for name, data in settings.items():
            summary = summarize_pairs(data["pairs"])[mode]
            rows.append({"name": name, "within": summary["within"], "cross": summary["cross"]})
            if name in PAPER_TABLE_III[mode]:
                paper[name] = {where: {"mean": m, "std": s} for where, (m, s) in PAPER_TABLE_III[mode][name].items()}
        parts.append(f"**{title}**\n\n" + results_table(rows, [("within", "Within-corpus"), ("cross", "Cross-corpus")],
                                                        paper=paper, label_header="Method"))
    return "\n\n".join(parts)


def pairs_table(settings):
    """Markdown table of every pair's scores, per setting."""
    rows = []
    for name, data in settings.items():
        for p in data["pairs"]:
            rows.append([name, p["source"], p["head"], p["n"], 100 * p["sentiment_ua"],
                         None if p["shared_ua"] is None else 100 * p["shared_ua"], ", ".join(p["shared_classes"])])
    return markdown_table(["setting", "utterances of", "through head", "n", "UAR neg/neu/pos %", "UAR shared %",
                           "shared classes"], rows)


def _tick_names(labels, table):
    # A label's emotion name (CaFE 'Colère' -> angry, EmoDB 'W' -> angry); the label too where names repeat.
    names = [table[label] for label in labels]
    return [name if names.count(name) == 1 else f"{name} ({label})" for name, label in zip(names, labels)]


def plot_confusions(settings, source, head, path):
    """Figure 3: ``source``'s test utterances through ``head``'s classifier, one panel per setting (% of row).

    Arguments
    ---------
    settings : dict
        ``{name: gather_setting(...)}``; settings without that pair are skipped.
    source, head : str
        Corpus of the rows and of the columns.
    path : str
        The PNG to write.

    Returns
    -------
    list of str
        The settings drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for name, data in settings.items():
        preds = [p for _, p in data["predictions"]]
        if any(p["corpus"] == source and head in p["heads"] for p in preds):
            panels.append((name, *pair_confusion(preds, data["label_emotions"], source, head), data["label_emotions"]))
    if not panels:
        raise EmoLobesError(f"no setting has {source} utterances through the {head} head",
                            "choose --figure_source/--figure_head among the evaluated corpora and heads")
    fig, axes = plt.subplots(1, len(panels), figsize=(1.0 + 5.2 * len(panels), 4.8), squeeze=False)
    for axis, (name, matrix, rows, cols, tables) in zip(axes[0], panels):
        percent = 100.0 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        axis.imshow(percent, cmap="Blues", vmin=0, vmax=100)
        for (r, c), value in np.ndenumerate(percent):
            if value >= 0.5:
                axis.text(c, r, f"{value:.0f}", ha="center", va="center", fontsize=7,
                          color="white" if value > 60 else "black")
        axis.set_xticks(range(len(cols)), _tick_names(cols, tables[head]), rotation=60, ha="right", fontsize=8)
        axis.set_yticks(range(len(rows)), _tick_names(rows, tables[source]), fontsize=8)
        axis.set_xlabel(f"predicted by the {head} head")
        axis.set_ylabel(f"{source} label")
        axis.set_title(name, fontsize=10)
    fig.suptitle(f"{source} utterances through the {head} classifier (% of each row)", fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [panel[0] for panel in panels]


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", action="append", required=True, help='"NAME=RUN[,RUN...]" (repeatable)')
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--figure_source", default="cafe", help="Figure 3 rows (default: cafe, as in the paper)")
    parser.add_argument("--figure_head", default="gemep", help="Figure 3 columns (default: gemep)")
    args = parser.parse_args(argv)
    settings = {}
    for text in args.setting:
        name, runs = parse_setting(text)
        settings[name] = gather_setting(runs)
    os.makedirs(args.output_folder, exist_ok=True)
    outputs = {"table_ii.md": table_ii(settings), "table_iii.md": table_iii(settings),
               "pairs.md": pairs_table(settings)}
    for file_name, text in outputs.items():
        write_text_atomic(text + "\n", os.path.join(args.output_folder, file_name))
    write_json_atomic({name: {k: v for k, v in data.items() if k != "predictions"} for name, data in settings.items()},
                      os.path.join(args.output_folder, "cross_corpus.json"))
    figure = os.path.join(args.output_folder, f"figure3_{args.figure_source}_through_{args.figure_head}.png")
    drawn = plot_confusions(settings, args.figure_source, args.figure_head, figure)
    print("Table II (within-corpus UAR %)\n" + outputs["table_ii.md"] + "\n")
    print("Table III (UAR %, mean ± std over corpus pairs)\n" + outputs["table_iii.md"] + "\n")
    print(f"Figure 3 ({', '.join(drawn)}): {figure}")
    return figure


if __name__ == "__main__":
    main()
