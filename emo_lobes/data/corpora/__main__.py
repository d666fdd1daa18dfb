"""Corpus commands: ``python -m emo_lobes.data.corpora summarize --corpus NAME --data_folder DIR [--json]``."""
import argparse
import json
import os
import sys

from emo_lobes.data.corpora import corpus_names, parse_corpus
from emo_lobes.data.corpora.base import duplicate_audio_groups, find_audio_files
from emo_lobes.errors import EmoLobesError, cli_errors


def build_parser():
    """The argument parser of ``python -m emo_lobes.data.corpora``.

    Example
    -------
    >>> args = build_parser().parse_args(["summarize", "--corpus", "tess", "--data_folder", "/d", "--json"])
    >>> args.command, args.corpus, args.json
    ('summarize', 'tess', True)
    """
    parser = argparse.ArgumentParser(prog="python -m emo_lobes.data.corpora", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summarize = commands.add_parser(
        "summarize",
        help="parse a corpus folder and print counts per label, speaker and gender, byte-identical audio and problems",
    )
    summarize.add_argument("--corpus", required=True, help=f"one of {', '.join(corpus_names())}")
    summarize.add_argument("--data_folder", required=True, help="the corpus root in its official layout")
    summarize.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    summarize.add_argument("--csv_file", help="for --corpus csv: the metadata CSV (default <data_folder>/metadata.csv)")
    summarize.add_argument("--corpus_name", help="for --corpus csv: the corpus name (default: the folder name)")
    summarize.add_argument("--language", help="for --corpus csv: ISO 639-1 code of rows without a language cell")
    return parser


def csv_options(args):
    """Parser options from the ``--csv_file``, ``--corpus_name`` and ``--language`` flags (csv corpus only).

    Example
    -------
    >>> args = build_parser().parse_args(["summarize", "--corpus", "csv", "--data_folder", "d", "--language", "es"])
    >>> csv_options(args)
    {'language': 'es'}
    """
    options = {key: getattr(args, key) for key in ("csv_file", "corpus_name", "language") if getattr(args, key)}
    if options and args.corpus.lower() != "csv":
        flags = ", ".join(f"--{key}" for key in options)
        raise EmoLobesError(f"{flags} only apply to --corpus csv, not '{args.corpus}'", f"drop {flags}")
    return options


def audio_duplicates(parsed):
    """Groups of byte-identical audio files of a parsed corpus: its records' files and every audio file below it.

    Files a parser skipped or dropped count too, so a corpus whose parser drops duplicates still shows them.

    Arguments
    ---------
    parsed : ParsedCorpus
        The parsed corpus (its ``wav`` paths are relative to its ``data_folder``).

    Returns
    -------
    list of list of str
        See :func:`emo_lobes.data.corpora.base.duplicate_audio_groups`.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.corpora.base import ParsedCorpus
    >>> d = tempfile.mkdtemp()
    >>> for name in ("a.wav", "b.wav"):
    ...     _ = open(os.path.join(d, name), "w").write("same")
    >>> audio_duplicates(ParsedCorpus("emodb", d, [{"id": "a", "wav": "a.wav", "speaker": "s"}]))
    [['a.wav', 'b.wav']]
    """
    root = os.path.abspath(parsed.data_folder)
    rel_paths = set(find_audio_files(root)) | {record["wav"] for record in parsed.records if record.get("wav")}
    return duplicate_audio_groups(root, rel_paths)


def format_summary(summary):
    """Render :meth:`ParsedCorpus.summary` as plain-text tables.

    Arguments
    ---------
    summary : dict
        The summary of one corpus.

    Returns
    -------
    str
        Lines: totals, then one table per count (label, emotion, speaker, gender, rate, channels), then the
        groups of byte-identical audio (when the summary has ``duplicates``), then problems.

    Example
    -------
    >>> from emo_lobes.data.corpora.base import ParsedCorpus
    >>> rec = {"id": "a", "speaker": "s1", "label": "W", "emotion": "angry", "gender": "male", "duration": 1.5,
    ...        "sample_rate": 16000, "channels": 1}
    >>> print(format_summary(ParsedCorpus("emodb", "/x", [rec]).summary()).splitlines()[0])
    emodb: 1 utterances, 1 speakers, 0.0 h (min 1.5 s, median 1.5 s, max 1.5 s) in /x
    """
    durations = summary["duration_s"]
    lines = [
        f"{summary['corpus']}: {summary['n_utterances']} utterances, {summary['n_speakers']} speakers, "
        f"{durations['total'] / 3600:.1f} h (min {durations['min']} s, median {durations['median']} s, "
        f"max {durations['max']} s) in {summary['data_folder']}"
    ]
    for key, title in (("labels", "label"), ("emotions", "emotion"), ("speakers", "speaker"),
                       ("genders", "gender"), ("sample_rates", "sample rate"), ("channels", "channels")):
        counts = summary[key]
        width = max([len(title)] + [len(name) for name in counts])
        lines += ["", f"{title:<{width}}  count", f"{'-' * width}  -----"]
        lines += [f"{name:<{width}}  {count:>5}" for name, count in counts.items()]
    if "duplicates" in summary:
        groups = summary["duplicates"]
        lines += ["", f"byte-identical audio: {len(groups)} groups ({sum(len(group) for group in groups)} files)"]
        lines += [f"  {' = '.join(group)}" for group in groups]
    lines += ["", f"problems: {len(summary['problems'])}"] + [f"  {problem}" for problem in summary["problems"]]
    return "\n".join(lines)


@cli_errors
def main(argv=None):
    """Run a corpus command; bad input ends with one line on stderr and exit status 2.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Example
    -------
    >>> try:
    ...     main(["summarize", "--corpus", "urdu", "--data_folder", "/no/such/dir"])
    ... except SystemExit as e:
    ...     print(e.code)
    2
    """
    args = build_parser().parse_args(argv)
    parsed = parse_corpus(args.corpus, args.data_folder, **csv_options(args))
    summary = parsed.summary()
    summary["duplicates"] = audio_duplicates(parsed)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
