#!/usr/bin/env python3
"""EmoNet Table 4: test UAR of transfer models per corpus, McNemar-marked against the scratch model, with chance.

Run (one --baseline per corpus, one --system per transfer model and corpus; paths are run output folders or
their test_results.json; a multidomain run's per-corpus results are in <output_folder>/<corpus>/):
python recipes/EmoNet/mcnemar_table.py \
    --baseline emodb=results/EmoNet/scratch/emodb/1986/fold_1 \
    --system all:emodb=results/EmoNet/multidomain/1986/fold_1/emodb \
    --system arousal:emodb=results/EmoNet/transfer_adapters/emodb/1986/fold_1 \
    --output results/EmoNet/table4.md
A "+" marks a significantly lower error count than the baseline (exact McNemar, p < 0.05), a "-" a higher one.
"""
import argparse

from emo_lobes.errors import EmoLobesError, cli_errors
from emo_lobes.data.manifest import write_text_atomic
from emo_lobes.evaluation.metrics import mcnemar_mark, read_test_results
from emo_lobes.evaluation.tables import markdown_table

#: Table 4 of the paper (test UAR, %) for the EmoSet corpora emo_lobes parses: chance, baseline (scratch ResNet,
#: best dev epoch), and adapter transfer from the models trained on all corpora, arousal, valence, A+V; marks as
#: printed. Other EmoSet corpora are not in the registry.
PAPER_TABLE4 = {
    "emodb": {"name": "EMO-DB", "chance": 14.3, "baseline": 59.2, "all": "72.6+", "arousal": "68.4+",
              "valence": "64.8", "a+v": "61.1"},
    "gemep": {"name": "GEMEP", "chance": 5.9, "baseline": 29.1, "all": "29.1", "arousal": "29.2",
              "valence": "27.3", "a+v": "26.8"},
    "iemocap": {"name": "IEMOCAP", "chance": 25.0, "baseline": 53.6, "all": "52.1", "arousal": "54.4",
                "valence": "51.4-", "a+v": "53.1-"},
}
ALPHA = 0.05  # McNemar significance level of the paper's marks (Table 4 caption)


def parse_run_spec(text, with_system):
    """``NAME:CORPUS=PATH`` (``with_system``) or ``CORPUS=PATH`` as a tuple; a one-line error otherwise.

    Example
    -------
    >>> parse_run_spec("all:emodb=runs/md/emodb", True), parse_run_spec("emodb=runs/scratch", False)
    (('all', 'emodb', 'runs/md/emodb'), ('emodb', 'runs/scratch'))
    """
    if "=" not in text or (with_system and ":" not in text.split("=", 1)[0]):
        form = "NAME:CORPUS=PATH" if with_system else "CORPUS=PATH"
        raise EmoLobesError(f"cannot read '{text}'", f"write it as {form}")
    key, path = text.split("=", 1)
    return (*key.split(":", 1), path) if with_system else (key, path)


def table4(baselines, systems):
    """Rows of Table 4 (ours) and the matching paper rows.

    Arguments
    ---------
    baselines : dict
        ``{corpus: test results}`` of the scratch models.
    systems : dict
        ``{system name: {corpus: test results}}``.

    Returns
    -------
    tuple of str
        Our table and the paper's (markdown).
    """
    names = list(systems)
    rows = []
    for corpus, baseline in baselines.items():
        row = [corpus, 100.0 / len(baseline["labels"]), round(100 * baseline["ua"], 1)]
        for name in names:
            if corpus not in systems[name]:
                row.append(None)
                continue
            mark, _ = mcnemar_mark(baseline, systems[name][corpus], ALPHA)
            row.append(f"{100 * systems[name][corpus]['ua']:.1f}{mark}")
        rows.append(row)
    ours = markdown_table(["Corpus", "chance", "baseline"] + names, rows, align=["l"] + ["r"] * (2 + len(names)))
    paper_rows = [[p["name"], p["chance"], p["baseline"], p["all"], p["arousal"], p["valence"], p["a+v"]]
                  for corpus, p in PAPER_TABLE4.items() if corpus in baselines]
    paper = markdown_table(["Corpus (paper)", "chance", "baseline", "all", "Arousal", "Valence", "A+V"], paper_rows,
                           align=["l"] + ["r"] * 6) if paper_rows else ""
    return ours, paper


def table4_text(baselines, systems):
    """The printed report: our Table 4 (test UAR, McNemar marks) and the paper's rows, labelled.

    Arguments
    ---------
    baselines, systems : dict
        As :func:`table4`.

    Returns
    -------
    str
        Markdown.

    Example
    -------
    >>> run = {"labels": ["a", "b"], "ua": 0.5, "predictions": [{"id": "1", "true": "a", "pred": "a"}]}
    >>> print(table4_text({"urdu": run}, {"all": {"urdu": run}}).splitlines()[0])
    Table 4 (ours): test UAR (%); + / - : McNemar p < 0.05 against the baseline (the scratch model)
    """
    ours, paper = table4(baselines, systems)
    text = f"Table 4 (ours): test UAR (%); + / - : McNemar p < {ALPHA} against the baseline (the scratch model)\n\n"
    text += ours + "\n"
    if paper:
        text += "\nTable 4 (paper)\n\n" + paper + "\n"
    return text


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="append", required=True, help="CORPUS=PATH of a scratch run")
    parser.add_argument("--system", action="append", required=True, help="NAME:CORPUS=PATH of a transfer run")
    parser.add_argument("--output", help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    baselines = {corpus: read_test_results(path) for corpus, path in (parse_run_spec(b, False) for b in args.baseline)}
    systems = {}
    for name, corpus, path in (parse_run_spec(s, True) for s in args.system):
        if corpus not in baselines:
            raise EmoLobesError(f"system {name} on {corpus} has no baseline", f"add --baseline {corpus}=PATH")
        systems.setdefault(name, {})[corpus] = read_test_results(path)
    text = table4_text(baselines, systems)
    print(text)
    if args.output:
        write_text_atomic(text, args.output)


if __name__ == "__main__":
    main()
