#!/usr/bin/env python3
"""EmoNet Table 1: utterances, classes, speakers, languages and mean ± std / total duration of each corpus.

Run (the corpora and classes as a training run declares them: each corpus keeps its own classes, IEMOCAP the
paper's 4; --corpora takes the same declarations as the hparams' ``corpora``):
python recipes/EmoNet/corpus_table.py --data_folder /data --corpus "[emodb, urdu]" --output results/EmoNet/table1.md
"""
import argparse
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import emonet_declarations  # noqa: E402

from emo_lobes.data.corpora.base import ParsedCorpus  # noqa: E402
from emo_lobes.data.declarations import check_corpus_folders, read_corpus  # noqa: E402
from emo_lobes.data.manifest import write_text_atomic  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table, mean_std  # noqa: E402

HEADERS = ["name", "#", "# C.", "# Sp.", "Language", "mean dur [s]", "total d [h]"]


def corpus_statistics(declarations):
    """Table 1's numbers of each declared corpus, after EmoNet's class selection.

    Arguments
    ---------
    declarations : dict
        ``{name: CorpusDeclaration}`` (:func:`prepare.emonet_declarations`).

    Returns
    -------
    list of dict
        Per corpus: ``name``, ``n_utterances``, ``n_classes``, ``n_speakers``, ``languages`` (sorted ISO 639-1
        codes), ``mean_duration``, ``std_duration`` (population standard deviation, s) and ``total_hours``.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> folder = write_corpus("emodb", tempfile.mkdtemp())
    >>> row = corpus_statistics(emonet_declarations({}, folder, ["emodb"]))[0]
    >>> row["name"], row["n_classes"], row["languages"], row["mean_duration"] > 0
    ('emodb', 7, ['de'], True)
    """
    rows = []
    for name, declaration in declarations.items():
        records, labels, _ = read_corpus(declaration)
        summary = ParsedCorpus(name, declaration.folder, records).summary()
        durations = summary["duration_s"]
        rows.append({"name": name, "n_utterances": summary["n_utterances"], "n_classes": len(labels),
                     "n_speakers": summary["n_speakers"],
                     "languages": sorted({str(record.get("language")) for record in records}),
                     "mean_duration": durations["mean"], "std_duration": durations["std"],
                     "total_hours": round(durations["total"] / 3600, 2)})
    return rows


def table1(rows):
    """Table 1's layout (markdown) of :func:`corpus_statistics` rows.

    Example
    -------
    >>> print(table1([{"name": "emodb", "n_utterances": 535, "n_classes": 7, "n_speakers": 10, "languages": ["de"],
    ...                "mean_duration": 2.78, "std_duration": 1.02, "total_hours": 0.41}]))
    | name  |   # | # C. | # Sp. | Language | mean dur [s] | total d [h] |
    | :---- | --: | ---: | ----: | :------- | -----------: | ----------: |
    | emodb | 535 |    7 |    10 | de       |    2.8 ± 1.0 |        0.41 |
    """
    body = [[row["name"], row["n_utterances"], row["n_classes"], row["n_speakers"], ", ".join(row["languages"]),
             mean_std(row["mean_duration"], row["std_duration"], digits=1, percent=False),
             f"{row['total_hours']:.2f}"] for row in rows]
    return markdown_table(HEADERS, body, align=["l", "r", "r", "r", "l", "r", "r"])


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True, help="the folder holding the corpus folders")
    parser.add_argument("--corpus", required=True, help='one name, or a list: "[emodb, urdu]"')
    parser.add_argument("--corpora", default="{}", help="declarations, as the hparams' corpora (YAML)")
    parser.add_argument("--output", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    try:
        names, corpora = yaml.safe_load(args.corpus), yaml.safe_load(args.corpora) or {}
    except yaml.YAMLError:
        raise EmoLobesError("--corpus or --corpora is not valid YAML", 'write --corpus "[emodb, urdu]"') from None
    declarations = emonet_declarations(corpora, args.data_folder, names)
    check_corpus_folders(declarations, args.data_folder)
    text = table1(corpus_statistics(declarations))
    print(text)
    if args.output:
        write_text_atomic(text + "\n", args.output)


if __name__ == "__main__":
    main()
