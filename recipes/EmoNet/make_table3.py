#!/usr/bin/env python3
"""EmoNet Table 3: dev and test UAR of the scratch ResNet (best-dev and final epoch) and eGeMAPS + SVM, per corpus.

Run (paths are run output folders or their test_results.json; several runs of one corpus, e.g. folds, give mean ± std):
python recipes/EmoNet/make_table3.py \
    --scratch emodb=results/EmoNet/scratch/emodb/1986/fold_1 \
    --egemaps emodb=results/EmoNet/egemaps_svm/emodb/fold_1 \
    --output results/EmoNet/table3.md
The paper's rows are printed beside ours for every corpus whose name matches one of EmoSet's (EMO-DB is `emodb`).
DeepSpectrum + SVM, the paper's third baseline, is not in emo_lobes (its features come from an ImageNet CNN on
spectrogram plots); its paper columns are shown, ours are not.
"""
import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcnemar_table import parse_run_spec  # noqa: E402

from emo_lobes.data.manifest import write_text_atomic  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.metrics import read_test_results  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table, mean_std  # noqa: E402

#: Table 3 of the paper (UAR, %), every EmoSet corpus: chance; ResNet from scratch at the best-dev epoch (devel,
#: test) and at the end of training (devel, test); eGeMAPS + linear SVM (devel, test); DeepSpectrum + linear SVM
#: (devel, test). Read off the paper's columns (its text confirms e.g. DES 34.7 / 43.3 best, 21.9 / 52.6 final).
PAPER_COLUMNS = ("chance", "best_dev", "best_test", "final_dev", "final_test", "egemaps_dev", "egemaps_test",
                 "ds_dev", "ds_test")
PAPER_TABLE3 = {
    "ABC": (25.0, 44.9, 41.9, 42.7, 39.4, 47.0, 54.4, 45.2, 33.5),
    "AD": (50.0, 86.1, 71.4, 82.4, 72.9, 88.5, 78.7, 82.5, 71.9),
    "BES": (16.7, 65.0, 55.0, 63.3, 53.3, 53.3, 58.3, 55.0, 63.3),
    "CASIA": (16.7, 36.3, 18.7, 29.3, 23.3, 33.7, 24.7, 26.3, 31.3),
    "CVE": (14.3, 35.6, 30.3, 30.9, 34.2, 58.9, 60.4, 48.5, 52.2),
    "DEMoS": (14.3, 89.0, 73.8, 88.9, 73.6, 38.4, 43.2, 53.0, 46.9),
    "DES": (20.0, 34.7, 43.3, 21.9, 52.6, 31.0, 46.5, 23.0, 34.4),
    "EA-ACT": (14.3, 32.9, 35.7, 12.9, 50.0, 22.9, 57.1, 24.3, 57.1),
    "EA-BMW": (33.3, 73.4, 46.7, 71.4, 56.3, 79.8, 56.3, 61.1, 59.3),
    "EA-WSJ": (50.0, 100.0, 98.1, 100.0, 98.1, 100.0, 100.0, 98.1, 98.1),
    "EMO-DB": (14.3, 68.8, 59.2, 63.5, 61.6, 71.9, 48.4, 52.5, 61.3),
    "eNTERFACE": (16.7, 71.5, 81.0, 71.1, 82.4, 44.8, 49.1, 50.0, 46.2),
    "EU-EV": (5.6, 12.7, 10.4, 6.3, 11.1, 7.8, 10.9, 8.1, 11.0),
    "EmoFilm": (20.0, 46.3, 46.3, 44.4, 47.0, 46.9, 54.6, 46.8, 54.7),
    "EmotiW 2014": (14.3, 28.1, 24.1, 24.0, 24.3, 30.5, 30.6, 33.3, 29.2),
    "FAU Aibo": (20.0, 53.3, 37.2, 51.7, 36.9, 46.2, 38.3, 43.8, 36.8),
    "GEMEP": (5.9, 46.0, 29.1, 44.6, 29.8, 41.1, 35.4, 35.2, 22.4),
    "GVEESS": (7.7, 26.9, 24.7, 17.8, 20.4, 38.5, 21.2, 32.7, 27.9),
    "IEMOCAP": (25.0, 52.7, 53.6, 49.6, 57.6, 56.2, 58.4, 54.4, 57.7),
    "MELD": (16.7, 24.8, 21.7, 22.4, 20.2, 23.7, 23.1, 23.8, 22.2),
    "MES": (16.7, 66.7, 75.0, 56.7, 70.0, 61.7, 61.7, 38.3, 43.3),
    "PPMMK": (25.0, 70.1, 40.6, 69.5, 39.3, 48.5, 40.4, 58.6, 40.8),
    "SIMIS": (20.0, 40.7, 30.5, 38.7, 24.7, 38.5, 31.7, 33.3, 29.5),
    "SmartKom": (14.3, 20.2, 20.8, 11.3, 23.3, 25.2, 28.6, 25.7, 26.2),
    "SUSAS": (25.0, 64.2, 56.5, 54.2, 59.4, 56.6, 56.5, 54.6, 59.3),
    "TurkishEmo": (25.0, 62.5, 55.7, 56.8, 58.0, 64.8, 56.8, 54.5, 53.4),
}
HEADERS = ["chance", "ResNet best devel", "best test", "final devel", "final test", "eGeMAPS devel",
           "eGeMAPS test"]


def paper_row_name(corpus):
    """The EmoSet row matching a corpus name (letters and digits compared case-blind), or ``None``.

    Example
    -------
    >>> paper_row_name("emodb"), paper_row_name("TurkishEmo"), paper_row_name("urdu")
    ('EMO-DB', 'TurkishEmo', None)
    """
    plain = re.sub(r"[^a-z0-9]", "", corpus.lower())
    return next((name for name in PAPER_TABLE3 if re.sub(r"[^a-z0-9]", "", name.lower()) == plain), None)


def _cell(values):
    # mean (± sample std over runs, as aggregate_folds gives, when there are several) of UARs in percent; – for none
    values = [v for v in values if v is not None]
    if not values:
        return mean_std(None, None)
    return mean_std(float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None,
                    percent=False)


def _point_ua(results, point, part):
    # UAR (%) of one evaluation point ("best" / "final") and partition ("dev" / "test"); None for a run without dev
    metrics = (results.get(point) or {}).get(part)
    if metrics is None and part == "test":
        raise EmoLobesError(f"a scratch result has no {point} test metrics",
                            "pass the output folder of a scratch.yaml run")
    return None if metrics is None else 100.0 * metrics["ua"]


def table3_rows(scratch, egemaps):
    """One row per corpus: chance, the scratch ResNet's four UARs and eGeMAPS + SVM's dev and test UAR (%).

    Arguments
    ---------
    scratch : dict
        ``{corpus: [test results of scratch runs]}`` (EmoNet ``test_results.json`` with ``best`` and ``final``).
    egemaps : dict
        ``{corpus: [test results of egemaps_svm.py runs]}`` (``dev_ua`` and ``ua``); a corpus may be missing.

    Returns
    -------
    list of list
        ``[corpus, chance, best dev, best test, final dev, final test, eGeMAPS dev, eGeMAPS test]`` as text.

    Example
    -------
    >>> def run(best, final):
    ...     return {"labels": ["a", "b"], "best": {"dev": {"ua": best}, "test": {"ua": best - 0.1}},
    ...             "final": {"dev": {"ua": final}, "test": {"ua": final - 0.1}}}
    >>> table3_rows({"emodb": [run(0.8, 0.7), run(0.6, 0.7)]}, {"emodb": [{"dev_ua": 0.5, "ua": 0.4}]})
    [['emodb', '50.0', '70.0 ± 14.1', '60.0 ± 14.1', '70.0 ± 0.0', '60.0 ± 0.0', '50.0', '40.0']]
    """
    rows = []
    for corpus, runs in scratch.items():
        classes = {len(r["labels"]) for r in runs}
        if len(classes) != 1:
            raise EmoLobesError(f"the scratch runs of {corpus} have different class counts ({sorted(classes)})",
                                "pass runs of one corpus selection")
        row = [corpus, f"{100.0 / classes.pop():.1f}"]
        row += [_cell([_point_ua(r, point, part) for r in runs])
                for point in ("best", "final") for part in ("dev", "test")]
        baseline = egemaps.get(corpus, [])
        row += [_cell([100.0 * r["dev_ua"] if r.get("dev_ua") is not None else None for r in baseline]),
                _cell([100.0 * r["ua"] for r in baseline])]
        rows.append(row)
    return rows


def table3(scratch, egemaps):
    """Our Table 3 and the paper's rows of the same corpora (markdown; the paper's is ``""`` when none match).

    Arguments
    ---------
    scratch, egemaps : dict
        As :func:`table3_rows`.

    Returns
    -------
    tuple of str
        Our table and the paper's.

    Example
    -------
    >>> run = {"labels": ["a", "b"], "best": {"dev": {"ua": 0.8}, "test": {"ua": 0.7}},
    ...        "final": {"dev": {"ua": 0.6}, "test": {"ua": 0.5}}}
    >>> ours, paper = table3({"emodb": [run]}, {})
    >>> [cell.strip() for cell in paper.splitlines()[2].split("|")[1:-1]]
    ['EMO-DB', '14.3', '68.8', '59.2', '63.5', '61.6', '71.9', '48.4', '52.5', '61.3']
    """
    ours = markdown_table(["Corpus"] + HEADERS, table3_rows(scratch, egemaps), align=["l"] + ["r"] * len(HEADERS))
    names = [paper_row_name(corpus) for corpus in scratch]
    paper_rows = [[name, *PAPER_TABLE3[name]] for name in names if name]
    paper = markdown_table(["Corpus (paper)"] + HEADERS + ["DS devel", "DS test"], paper_rows,
                           align=["l"] + ["r"] * (len(HEADERS) + 2)) if paper_rows else ""
    return ours, paper


def table3_text(scratch, egemaps):
    """The printed report: our table (UAR %, mean ± std over runs) and the paper's rows, labelled.

    Example
    -------
    >>> run = {"labels": ["a", "b"], "best": {"dev": {"ua": 0.8}, "test": {"ua": 0.7}},
    ...        "final": {"dev": {"ua": 0.6}, "test": {"ua": 0.5}}}
    >>> print(table3_text({"urdu": [run]}, {}).splitlines()[0])
    Table 3 (ours): UAR (%), runs per corpus: urdu 1
    """
    ours, paper = table3(scratch, egemaps)
    counts = ", ".join(f"{corpus} {len(runs)}" for corpus, runs in scratch.items())
    text = f"Table 3 (ours): UAR (%), runs per corpus: {counts}\n\n{ours}\n"
    if paper:
        text += "\nTable 3 (paper; DS = DeepSpectrum + SVM, not in emo_lobes)\n\n" + paper + "\n"
    return text


def _grouped(specs, what):
    runs = {}
    for text in specs or []:
        corpus, path = parse_run_spec(text, False)
        runs.setdefault(corpus, []).append(read_test_results(path))
    if what == "scratch":
        for corpus, results in runs.items():
            for r in results:
                if "best" not in r or "final" not in r:
                    raise EmoLobesError(f"--scratch {corpus}: a result without best/final points",
                                        "pass the output folder of a scratch.yaml run")
    else:
        for corpus, results in runs.items():
            if any("dev_ua" not in r for r in results):
                raise EmoLobesError(f"--egemaps {corpus}: a result without dev_ua",
                                    "pass the output folder of recipes/EmoNet/egemaps_svm.py")
    return runs


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", action="append", required=True, help="CORPUS=PATH of a scratch run")
    parser.add_argument("--egemaps", action="append", help="CORPUS=PATH of an egemaps_svm.py run")
    parser.add_argument("--output", help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    scratch, egemaps = _grouped(args.scratch, "scratch"), _grouped(args.egemaps, "egemaps")
    stray = sorted(set(egemaps) - set(scratch))
    if stray:
        raise EmoLobesError(f"--egemaps {stray[0]} has no scratch run", f"add --scratch {stray[0]}=PATH")
    text = table3_text(scratch, egemaps)
    print(text)
    if args.output:
        write_text_atomic(text, args.output)


if __name__ == "__main__":
    main()
