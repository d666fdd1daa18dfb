#!/usr/bin/env python3
"""EmoNet Figure 7: heatmap of transfer runs' dev and test UAR per corpus, coloured by the gain over a reference run.

Figure 7b (multi-task transfer against the scratch ResNet of each corpus; one --reference per corpus):
python recipes/EmoNet/plot_figure7.py --figure b \
    --reference emodb=results/EmoNet/grid/scratch/emodb \
    --system all:emodb=results/EmoNet/grid/multidomain/emodb \
    --system arousal:emodb=results/EmoNet/grid/transfer_adapters/arousal_to_emodb \
    --output results/EmoNet/figure7b.png
Figure 7a (adapter transfer from one source corpus against classifier-head tuning from the same source: a named
reference SOURCE:CORPUS pairs with the system of that name):
python recipes/EmoNet/plot_figure7.py --figure a \
    --reference iemocap:emodb=results/EmoNet/grid/transfer_head/iemocap_to_emodb \
    --system iemocap:emodb=results/EmoNet/grid/transfer_adapters/iemocap_to_emodb --output results/EmoNet/figure7a.png
Cells print UAR (%) at the best-dev epoch; colours are the difference from the reference in percentage points; a
"+" / "-" on a test cell marks an exact McNemar p < 0.05 for fewer / more errors than the reference (Table 4's
marks). A markdown table of the same numbers is written beside the picture (<output>.md).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcnemar_table import ALPHA, parse_run_spec  # noqa: E402

from emo_lobes.data.manifest import write_text_atomic  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.metrics import mcnemar_mark, read_test_results  # noqa: E402
from emo_lobes.evaluation.plots import write_delta_heatmap_png  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table  # noqa: E402

TITLES = {
    "a": "Figure 7a (ours): adapter transfer from a source corpus (columns)\ncolour: gain over classifier-head tuning",
    "b": "Figure 7b (ours): multi-task transfer\ncolour: gain over the ResNet trained on the corpus alone",
}


def best_dev_uar(results, part):
    """UAR (%) at the best-dev epoch on ``part`` (``dev`` or ``test``; an SVM's chosen C); ``None`` without dev.

    Example
    -------
    >>> best_dev_uar({"ua": 0.5, "best": {"dev": {"ua": 0.625}}}, "dev"), best_dev_uar({"ua": 0.5}, "test")
    (62.5, 50.0)
    """
    if part == "test":
        return 100.0 * results["ua"]  # the top-level test metrics are the best-dev checkpoint's
    dev = (results.get("best") or {}).get("dev")
    if dev is None:  # an SVM baseline's dev UAR (egemaps_svm.py), or a run without dev
        return None if results.get("dev_ua") is None else 100.0 * results["dev_ua"]
    return 100.0 * dev["ua"]


def figure7_cells(references, systems, alpha=ALPHA):
    """Rows (corpora), columns (``<system> devel`` / ``<system> test``), values, gains and McNemar marks.

    Arguments
    ---------
    references : dict
        ``{(name or None, corpus): test results}``: a named reference serves the system of that name, an unnamed
        one every system of its corpus.
    systems : dict
        ``{name: {corpus: test results}}``.
    alpha : float
        McNemar significance level.

    Returns
    -------
    dict
        ``rows``, ``columns``, ``values``, ``deltas`` and ``marks`` (``None`` where a system has no run or no dev).

    Example
    -------
    >>> preds = lambda right: [{"id": str(i), "true": "a", "pred": "a" if i < right else "b"} for i in range(20)]
    >>> ref = {"ua": 0.3, "best": {"dev": {"ua": 0.4}}, "predictions": preds(6)}
    >>> good = {"ua": 0.9, "best": {"dev": {"ua": 0.5}}, "predictions": preds(18)}
    >>> cells = figure7_cells({(None, "emodb"): ref}, {"all": {"emodb": good}})
    >>> cells["columns"], [round(d, 1) for d in cells["deltas"][0]], cells["marks"][0]
    (['all devel', 'all test'], [10.0, 60.0], ['', '+'])
    """
    names = list(systems)
    rows = list(dict.fromkeys(corpus for runs in systems.values() for corpus in runs))
    columns = [f"{name} {part}" for name in names for part in ("devel", "test")]
    values, deltas, marks = [], [], []
    for corpus in rows:
        value_row, delta_row, mark_row = [], [], []
        for name in names:
            run = systems[name].get(corpus)
            reference = references.get((name, corpus), references.get((None, corpus)))
            if run is not None and reference is None:
                raise EmoLobesError(f"system {name} on {corpus} has no reference run",
                                    f"add --reference {corpus}=PATH (or {name}:{corpus}=PATH)")
            for part in ("dev", "test"):
                value = None if run is None else best_dev_uar(run, part)
                base = None if run is None else best_dev_uar(reference, part)
                value_row.append(value)
                delta_row.append(None if value is None or base is None else value - base)
                mark_row.append(mcnemar_mark(reference, run, alpha)[0] if run is not None and part == "test"
                                else "")
        values.append(value_row)
        deltas.append(delta_row)
        marks.append(mark_row)
    return {"rows": rows, "columns": columns, "values": values, "deltas": deltas, "marks": marks}


def figure7_markdown(cells):
    """The heatmap's numbers as a markdown table: ``UAR (gain)`` per cell, McNemar marks on test cells.

    Example
    -------
    >>> cells = {"rows": ["emodb"], "columns": ["all devel", "all test"], "values": [[60.0, 55.0]],
    ...          "deltas": [[2.0, -1.5]], "marks": [["", ""]]}
    >>> print(figure7_markdown(cells))
    | Corpus |   all devel |    all test |
    | :----- | ----------: | ----------: |
    | emodb  | 60.0 (+2.0) | 55.0 (-1.5) |
    """
    body = []
    for corpus, values, deltas, marks in zip(cells["rows"], cells["values"], cells["deltas"], cells["marks"]):
        line = [corpus]
        for value, delta, mark in zip(values, deltas, marks):
            line.append(None if value is None else
                        f"{value:.1f}{mark}" + ("" if delta is None else f" ({delta:+.1f})"))
        body.append(line)
    return markdown_table(["Corpus"] + cells["columns"], body, align=["l"] + ["r"] * len(cells["columns"]))


def write_figure7(references, systems, output, figure="b"):
    """Draw the heatmap into ``output`` (PNG) and its numbers into ``<output>.md``; return the markdown.

    Arguments
    ---------
    references, systems : dict
        As :func:`figure7_cells`.
    output : str
        The PNG (without matplotlib only ``<output>.md`` is written).
    figure : str
        ``a`` or ``b``: the title.

    Returns
    -------
    str
        The markdown written to ``<output>.md``.

    Example
    -------
    >>> import tempfile
    >>> run = {"ua": 0.5, "best": {"dev": {"ua": 0.6}}, "predictions": [{"id": "1", "true": "a", "pred": "a"}]}
    >>> out = os.path.join(tempfile.mkdtemp(), "f.png")
    >>> text = write_figure7({(None, "emodb"): run}, {"all": {"emodb": run}}, out)
    >>> open(out, "rb").read(4) == b"\\x89PNG", text.splitlines()[-1]
    (True, '| emodb  | 60.0 (+0.0) | 50.0 (+0.0) |')
    """
    cells = figure7_cells(references, systems)
    title = TITLES[figure]
    write_delta_heatmap_png(output, cells["rows"], cells["columns"], cells["values"], cells["deltas"],
                            cells["marks"], title=title)
    text = (f"{title.replace(chr(10), '; ')}\nUAR (%) at the best-dev epoch (gain over the reference, points); "
            f"+ / - on test: McNemar p < {ALPHA} against the reference\n\n{figure7_markdown(cells)}\n")
    write_text_atomic(text, os.path.splitext(output)[0] + ".md")
    return text


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figure", choices=sorted(TITLES), default="b", help="7a or 7b: sets the title")
    parser.add_argument("--reference", action="append", required=True,
                        help="CORPUS=PATH (every system of that corpus) or NAME:CORPUS=PATH (the system NAME)")
    parser.add_argument("--system", action="append", required=True, help="NAME:CORPUS=PATH of a transfer run")
    parser.add_argument("--output", required=True, help="the PNG to write (its numbers go to <output>.md)")
    args = parser.parse_args(argv)
    references = {}
    for text in args.reference:
        name, corpus, path = parse_run_spec(text, True) if ":" in text.split("=", 1)[0] else \
            (None, *parse_run_spec(text, False))
        references[(name, corpus)] = read_test_results(path)
    systems = {}
    for name, corpus, path in (parse_run_spec(s, True) for s in args.system):
        systems.setdefault(name, {})[corpus] = read_test_results(path)
    print(write_figure7(references, systems, args.output, args.figure))


if __name__ == "__main__":
    main()
