"""Split files from the command line (`python -m emo_lobes.data.splits`): write one any recipe accepts, or show one.

python -m emo_lobes.data.splits make --corpus urdu --data_folder /data/URDU --method speaker_kfold --k 5 --out urdu.json
python -m emo_lobes.data.splits show urdu_fold1.json --corpus urdu --data_folder /data/URDU
"""
import argparse
import os


from emo_lobes.data.declarations import check_corpus_folders, declare_corpora, load_corpus_split, read_corpus
from emo_lobes.data.splits.files import split_file_dict, write_split_file
from emo_lobes.data.splits.specs import SPLIT_METHODS, n_folds_of_spec
from emo_lobes.errors import EmoLobesError, cli_errors
from emo_lobes.evaluation.tables import markdown_table


def parse_dev(text):
    """The ``--dev`` flag as a dev rule: a word, or ``speakers=N`` / ``speaker_fraction=F`` / ``utterance_fraction=F``.

    Example
    -------
    >>> parse_dev("none"), parse_dev("speakers=2"), parse_dev("speaker_fraction=0.2")
    ('none', {'speakers': 2}, {'speaker_fraction': 0.2})
    """
    if text is None or "=" not in text:
        return text
    key, value = text.split("=", 1)
    return {key: int(value) if key == "speakers" else float(value)}


def build_parser():
    """The argument parser of ``python -m emo_lobes.data.splits``.

    Example
    -------
    >>> args = build_parser().parse_args(["make", "--corpus", "urdu", "--data_folder", "d", "--out", "s.json"])
    >>> args.method, args.k, args.fold
    ('speaker_kfold', 5, None)
    """
    parser = argparse.ArgumentParser(prog="python -m emo_lobes.data.splits", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make", help="write a split file (one per fold when the method has several)")
    show = commands.add_parser("show", help="print utterances per partition and class, and the speakers of each")
    for sub in (make, show):
        sub.add_argument("--corpus", required=True, help="the corpus name (a parser name, or any name with --parser)")
        sub.add_argument("--data_folder", required=True, help="the corpus root (or the folder holding it)")
        sub.add_argument("--parser", help="the parser, when --corpus is not a parser name (e.g. csv)")
        sub.add_argument("--emotions", nargs="*", help="classes to keep (default: all but undecided)")
        sub.add_argument("--merge", nargs="*", default=[], help="class merges, e.g. excited=happy")
        sub.add_argument("--label_key", default="emotion", choices=("emotion", "label"))
    show.add_argument("split_file")
    make.add_argument("--method", default="speaker_kfold", choices=sorted(SPLIT_METHODS) + ["speakers"])
    make.add_argument("--k", type=int, default=5, help="folds of speaker_kfold / random_kfold")
    make.add_argument("--n_test", type=int, default=2, help="holdout: at least this many test speakers")
    make.add_argument("--folds", type=int, default=1, help="holdout: this many seeded draws (folds)")
    make.add_argument("--dev_speakers", nargs="*", help="method speakers: the dev speakers")
    make.add_argument("--test_speakers", nargs="*", help="method speakers: the test speakers")
    make.add_argument("--dev", help="none, next_fold, session_partner, speakers=N, speaker_fraction=F, "
                                    "utterance_fraction=F (default: the method's)")
    make.add_argument("--min_per_class", type=int, default=1)
    make.add_argument("--fold", type=int, help="write this fold only (default: every fold)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--out", required=True, help="the split file; several folds go to <stem>_fold<k>.json")
    return parser


def _declaration(args, split):
    bad = [item for item in args.merge if "=" not in item]
    if bad:
        raise EmoLobesError(f"--merge {bad[0]} is not written from=to", "write merges as --merge excited=happy")
    corpora = {args.corpus: {"parser": args.parser or args.corpus, "emotions": args.emotions, "label_key": args.label_key,
                             "merge": dict(item.split("=", 1) for item in args.merge), "split": split}}
    declarations = declare_corpora(corpora, args.data_folder, [args.corpus])
    check_corpus_folders(declarations)
    return declarations[args.corpus]


def _split_spec(args):
    if args.method == "speakers":
        spec = {"dev_speakers": args.dev_speakers or [], "test_speakers": args.test_speakers or []}
    else:
        spec = {"method": args.method}
        spec.update({"k": args.k} if args.method in ("speaker_kfold", "random_kfold") else {})
        spec.update({"n_test": args.n_test, "folds": args.folds} if args.method == "holdout" else {})
    if args.dev is not None:
        spec["dev"] = parse_dev(args.dev)
    spec["min_per_class"] = args.min_per_class
    return spec


def split_table(split_dict):
    """A markdown table of a split file's utterances per partition and class.

    Example
    -------
    >>> print(split_table({"counts": {"train": {"sad": 3, "angry": 2}, "dev": {}, "test": {"sad": 1, "angry": 1}},
    ...                    "speakers": {"train": ["a", "b"], "dev": [], "test": ["c"]}}))
    | partition | angry | sad | total | speakers |
    | :-------- | ----: | --: | ----: | -------: |
    | train     |     2 |   3 |     5 |        2 |
    | dev       |     0 |   0 |     0 |        0 |
    | test      |     1 |   1 |     2 |        1 |
    """
    classes = sorted({cls for counts in split_dict["counts"].values() for cls in counts})
    rows = []
    for part in ("train", "dev", "test"):
        counts = split_dict["counts"].get(part, {})
        rows.append([part] + [counts.get(cls, 0) for cls in classes]
                    + [sum(counts.values()), len(split_dict["speakers"].get(part, []))])
    return markdown_table(["partition"] + classes + ["total", "speakers"], rows)


def _print_split(split_dict):
    print(split_table(split_dict))
    for part in ("train", "dev", "test"):
        speakers = split_dict["speakers"].get(part, [])
        print(f"{part} speakers ({len(speakers)}): {', '.join(speakers) or '-'}")
    if split_dict.get("n_left_out"):
        print(f"utterances in no partition (left out): {split_dict['n_left_out']}")
    if split_dict.get("speaker_independent") is False:
        print("NOT speaker-independent" + (" (dev drawn from training speakers' utterances)"
                                           if split_dict.get("speaker_dependent_dev") else ""))


def make(args):
    """Write the split file(s) of ``make``; returns their paths."""
    spec = _split_spec(args)
    declaration = _declaration(args, spec)
    records, _, _ = read_corpus(declaration)
    folds = [args.fold] if args.fold else list(range(1, (n_folds_of_spec(records, spec, args.corpus) or 1) + 1))
    stem, ext = os.path.splitext(args.out)
    paths = []
    for fold in folds:
        data = load_corpus_split(declaration, fold=fold, seed=args.seed)
        path = args.out if len(folds) == 1 else f"{stem}_fold{fold}{ext or '.json'}"
        write_split_file(data.split, data.records, path, args.corpus, declaration.label_key)
        print(f"## {path} ({data.split['name']})")
        _print_split(split_file_dict(data.split, data.records, args.corpus, declaration.label_key))
        paths.append(path)
    return paths


def show(args):
    """Print what a split file holds of a corpus."""
    declaration = _declaration(args, {"file": os.path.abspath(args.split_file), "dev": "none"})
    data = load_corpus_split(declaration)
    split_dict = split_file_dict(data.split, data.records, args.corpus, declaration.label_key)
    print(f"## {args.split_file} on {declaration.folder}")
    _print_split(split_dict)
    return split_dict


@cli_errors
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "make":
        make(args)
    else:
        show(args)
    return 0


