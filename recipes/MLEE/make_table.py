#!/usr/bin/env python3
"""Table 3 of the MLEE paper from the fold runner's results: method x label rows, dominant/all x WA/UA columns.

Run: python recipes/MLEE/make_table.py --results_root results/MLEE --seed 1986 [--output results/MLEE/table3.md]

Reads ``<results_root>/<setting>/<training_set>/<seed>/cv_results.json`` as written by
``tools/cross_validate.py ... --output_folder <results_root>/<setting>/<training_set>/<seed>``, where ``setting``
is ``dominant_hard``, ``dominant_soft``, ``mlee``, ``mlee_pretrain_hard``, ``mlee_pretrain_soft``,
``mlee_fusion_hard`` or ``mlee_fusion_soft`` (the hparams files' default output folders, without
``fold_<k>``). Cells without results show an en dash; the paper's numbers sit beside ours, marked "(paper)".
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.data.manifest import write_text_atomic  # noqa: E402
from emo_lobes.evaluation.tables import results_table  # noqa: E402

#: Table 3's rows: (row name, results folder name).
ROWS = (
    ("Dominant recog. hard", "dominant_hard"),
    ("Dominant recog. soft", "dominant_soft"),
    ("MLEE only -", "mlee"),
    ("MLEE pre-train hard", "mlee_pretrain_hard"),
    ("MLEE pre-train soft", "mlee_pretrain_soft"),
    ("MLEE pre-train fus. hard", "mlee_fusion_hard"),
    ("MLEE pre-train fus. soft", "mlee_fusion_soft"),
)
TRAINING_SETS = ("dominant", "all")
METRICS = ("wa", "ua")
#: Table 3 of the paper (%), IEMOCAP improvised, leave-one-speaker-out.
PAPER_TABLE3 = {
    "Dominant recog. hard": (59.5, 61.6, 59.5, 61.6),
    "Dominant recog. soft": (62.5, 62.9, 64.4, 63.9),
    "MLEE only -": (66.3, 60.9, 64.4, 64.0),
    "MLEE pre-train hard": (62.7, 62.6, 65.6, 63.0),
    "MLEE pre-train soft": (64.3, 62.3, 64.6, 64.4),
    "MLEE pre-train fus. hard": (63.4, 62.9, 65.1, 63.9),
    "MLEE pre-train fus. soft": (64.4, 63.7, 66.1, 65.4),
}
COLUMNS = [(f"{s}_{m}", f"{s} {m.upper()}") for s in TRAINING_SETS for m in METRICS]


def collect_rows(results_root, seed):
    """One row per Table 3 setting with ``{"mean", "std"}`` cells from ``cv_results.json`` files.

    Arguments
    ---------
    results_root : str
        Folder holding ``<setting>/<training_set>/<seed>/cv_results.json``.
    seed : int or str
        The seed folder to read.

    Returns
    -------
    list of dict
        ``name``, ``<set>_wa``, ``<set>_ua`` (absent when not run) and ``folds`` (``"n / n"`` text).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> folder = os.path.join(root, "mlee", "all", "1")
    >>> os.makedirs(folder)
    >>> summary = {"n_folds": 2, "aggregate": {"wa": {"mean": 0.6, "std": 0.1}, "ua": {"mean": 0.5, "std": 0.0}}}
    >>> _ = open(os.path.join(folder, "cv_results.json"), "w").write(json.dumps(summary))
    >>> rows = collect_rows(root, 1)
    >>> rows[2]["name"], rows[2]["all_wa"], rows[2]["folds"], "dominant_wa" in rows[2]
    ('MLEE only -', {'mean': 0.6, 'std': 0.1}, '0 / 2', False)
    """
    rows = []
    for name, setting in ROWS:
        row, folds = {"name": name}, []
        for training_set in TRAINING_SETS:
            path = os.path.join(results_root, setting, training_set, str(seed), "cv_results.json")
            if not os.path.isfile(path):
                folds.append("0")
                continue
            try:
                with open(path, encoding="utf-8") as results_file:
                    summary = json.load(results_file)
                for metric in METRICS:
                    row[f"{training_set}_{metric}"] = summary["aggregate"][metric]
            except (ValueError, KeyError):
                raise EmoLobesError(f"{path} is not a fold runner summary", "re-run tools/cross_validate.py") from None
            folds.append(str(summary.get("n_folds", "?")))
        row["folds"] = " / ".join(folds)
        rows.append(row)
    return rows


def paper_cells():
    """The paper's Table 3 as ``{row name: {column key: value}}`` for :func:`emo_lobes.evaluation.tables.results_table`.

    Example
    -------
    >>> paper_cells()["MLEE only -"]["dominant_wa"]
    66.3
    """
    return {name: dict(zip([key for key, _ in COLUMNS], values)) for name, values in PAPER_TABLE3.items()}


def make_table(results_root, seed):
    """Markdown Table 3: our mean ± std over folds (%) with the paper's values beside, and folds per set.

    Example
    -------
    >>> import tempfile
    >>> table = make_table(tempfile.mkdtemp(), 1986)
    >>> table.splitlines()[0].count("(paper)"), table.splitlines()[2].split("|")[3].strip()
    (4, '59.5')
    """
    rows = collect_rows(results_root, seed)
    return results_table(rows, COLUMNS + [("folds", "folds (dominant / all)")], paper=paper_cells(),
                         label_header="method / label")


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results_root", default="results/MLEE")
    parser.add_argument("--seed", default="1986")
    parser.add_argument("--output", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.results_root):
        raise EmoLobesError(f"no results folder {args.results_root}", "run the folds with tools/cross_validate.py first")
    table = make_table(args.results_root, args.seed)
    print(table)
    if args.output:
        write_text_atomic(table + "\n", args.output)


if __name__ == "__main__":
    main()
