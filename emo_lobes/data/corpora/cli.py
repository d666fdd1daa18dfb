"""Corpus commands (`python -m emo_lobes.data.corpora summarize --corpus NAME --data_folder DIR [--json]`)."""
import argparse
import json
import os

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
    if summary.get("warnings"):
        lines += ["", f"warnings: {len(summary['warnings'])}"] + [f"  {line}" for line in summary["warnings"]]
    lines += ["", f"problems: {len(summary['problems'])}"] + [f"  {problem}" for problem in summary["problems"]]
    return "\n".join(lines)


#: Sample rates recordings usually have; others suggest a processed copy.
USUAL_SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000)


def suspicious_copy_warnings(summary):
    """One line per sign that a corpus folder is a processed copy rather than the release.

    Arguments
    ---------
    summary : dict
        :meth:`ParsedCorpus.summary`, with ``duplicates`` where it was computed.

    Returns
    -------
    list of str
        Every file of the same duration, unusual sample rates, byte-identical audio.

    Example
    -------
    >>> summary = {"n_utterances": 535, "duration_s": {"min": 2.0, "max": 2.0}, "sample_rates": {"22050": 535},
    ...            "duplicates": []}
    >>> for line in suspicious_copy_warnings(summary):
    ...     print(line)
    all 535 files last exactly 2.0 s: a processed copy (cut or padded)? Recipes need the original recordings
    """
    lines = []
    durations = summary["duration_s"]
    if summary["n_utterances"] > 1 and durations["max"] - durations["min"] < 0.001:
        lines.append(f"all {summary['n_utterances']} files last exactly {durations['min']} s: a processed copy "
                     "(cut or padded)? Recipes need the original recordings")
    odd = sorted(rate for rate in summary["sample_rates"] if rate.isdigit() and int(rate) not in USUAL_SAMPLE_RATES)
    if odd:
        lines.append(f"unusual sample rates {', '.join(odd)} Hz: a resampled copy?")
    groups = summary.get("duplicates") or []
    if groups:
        lines.append(f"{len(groups)} groups of byte-identical audio ({sum(len(g) for g in groups)} files): the same "
                     "recording under two names can leak across a speaker-independent split")
    return lines


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
    summary["warnings"] = suspicious_copy_warnings(summary)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_summary(summary))
    return 0


