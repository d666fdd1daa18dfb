"""Emotion-embedding data prep: several corpora, each with its own labels and speaker split, oversampled to one size.

Run by train.py (under run_on_main); by hand (synthetic corpora under synthetic_data/):
python recipes/EmotionEmbeddings/prepare.py --data_folder synthetic_data --save_folder results/EmotionEmbeddings/prep
"""
import argparse
import json
import os
import random
import sys
from collections import Counter

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.errors import EmoLobesError, cli_errors
from emo_lobes.data.manifest import (
    assert_not_inside,
    check_output_folder_writable,
    prep_is_current,
    save_prep_options,
    write_json_atomic,
    write_manifest,
    write_problems_report,
)
from emo_lobes.data.splits import (
    fixed_speaker_split,
    hold_out_speakers,
    leave_one_speaker_out,
    select,
    speaker_group_kfold,
    split_summary,
)

#: Section III-A: the four corpora, their parsers and (real) folder names under the data folder.
#: GEMEP has no fixed layout: it is read through the CSV importer and restricted to its 12 core emotions
#: (written as GEMEP's codes or as words; the ``emotion`` column, when present, is matched too).
GEMEP_CORE_EMOTIONS = ["amusement", "anger", "despair", "fear", "interest", "irritation", "joy", "pleasure", "pride",
                       "relief", "sadness", "worry"]
PAPER_CORPORA = {
    "cafe": {"parser": "cafe", "folder": "CaFE"},
    "emodb": {"parser": "emodb", "folder": "EmoDB"},
    "gemep": {"parser": "csv", "folder": "GEMEP",
              "options": {"corpus_name": "gemep", "language": "fr", "allowed_labels": GEMEP_CORE_EMOTIONS,
                          "unknown_labels": "drop"}},
    "ravdess": {"parser": "ravdess", "folder": "RAVDESS"},
}
#: Section III-A: the paper's speaker splits (dev, test); every other speaker trains.
PAPER_SPLITS = {
    "cafe": {"dev": ["cafe_09", "cafe_10"], "test": ["cafe_11", "cafe_12"]},
    "emodb": {"dev": ["emodb_11", "emodb_13"], "test": ["emodb_15", "emodb_16"]},
    "gemep": {"dev": ["gemep_05", "gemep_09"], "test": ["gemep_08", "gemep_10"]},
    "ravdess": {"dev": ["ravdess_19", "ravdess_20", "ravdess_21"], "test": ["ravdess_22", "ravdess_23", "ravdess_24"]},
}
#: Fields train.py reads from the manifests besides ``wav``.
MANIFEST_FIELDS = ["corpus", "label", "emotion", "speaker", "duration", "source_id"]
SPLIT_METHODS = ("fixed", "holdout", "kfold", "loso")
#: Separator between a copy's source id and its copy number.
COPY_MARK = "#copy"


def corpus_folder(data_folder, spec):
    """The folder of one corpus: ``spec['folder']`` under ``data_folder`` (an absolute folder is kept).

    Example
    -------
    >>> corpus_folder("/data", {"folder": "CaFE"}), corpus_folder("/data", {"folder": "/mnt/URDU"})
    ('/data/CaFE', '/mnt/URDU')
    """
    if "folder" not in spec:
        raise EmoLobesError(f"corpus spec {spec} has no 'folder'", "give each corpus a folder under data_folder")
    return os.path.join(data_folder, spec["folder"])


def check_corpus_folders(data_folder, folders):
    """Fail with one line when the data folder, or the folder of a corpus the run uses, is missing.

    Arguments
    ---------
    data_folder : str
        The ``--data_folder``.
    folders : dict
        ``{corpus: its folder}``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "CaFE"))
    >>> check_corpus_folders(root, {"cafe": os.path.join(root, "CaFE")})
    >>> try:
    ...     check_corpus_folders(root, {"cafe": os.path.join(root, "CaFE"), "emodb": os.path.join(root, "EmoDB")})
    ... except EmoLobesError as err:
    ...     print(err.problem)
    data folder ... has no EmoDB/ (emodb)
    """
    fix = ("pass --data_folder=<the folder holding the corpus folders CaFE/, EmoDB/, GEMEP/ (with metadata.csv), "
           "RAVDESS/>, or give a corpus its folder with --corpora")
    if not os.path.isdir(data_folder):
        raise EmoLobesError(f"data folder {data_folder} does not exist", fix)
    if not os.listdir(data_folder):
        raise EmoLobesError(f"data folder {data_folder} is empty", fix)
    missing = [f"{os.path.relpath(folder, data_folder)}/ ({name})" for name, folder in sorted(folders.items())
               if not os.path.isdir(folder)]
    if missing:
        raise EmoLobesError(f"data folder {data_folder} has no {', '.join(missing)}", fix)


def split_corpus(records, split_spec, loso=False, fold=1, seed=0):
    """One corpus's speaker-independent split.

    Arguments
    ---------
    records : list of dict
        The corpus's records.
    split_spec : dict
        ``{"dev": [speakers], "test": [speakers]}`` (the paper's fixed split, method ``fixed``), or
        ``{"method": "holdout", "n_test": k, "n_dev": m}`` (gender-balanced draw with ``seed``), or
        ``{"method": "kfold", "k": 5}`` (fold ``fold`` of k speaker-disjoint folds stratified by emotion is
        the test set, the next fold the dev set; with ``"n_dev": m``, m dev speakers drawn from the training
        speakers instead), or ``{"method": "loso"}``.
    loso : bool
        Leave one speaker out whatever ``split_spec`` says (Table II's LOSO row).
    fold : int
        kfold: the fold number (1-based). LOSO: the ``fold``-th speaker (sorted) is the test speaker, wrapping
        around for corpora with fewer speakers; the next speaker of a seeded cyclic order is dev.
    seed : int
        Seeds holdout draws and the LOSO dev order.

    Returns
    -------
    dict
        The split (see :mod:`emo_lobes.data.splits`).

    Example
    -------
    >>> recs = [{"id": f"{s}_{i}", "speaker": f"emodb_{s:02d}"} for s in (3, 8, 9, 11, 13, 15, 16) for i in range(2)]
    >>> split = split_corpus(recs, {"dev": ["emodb_11", "emodb_13"], "test": ["emodb_15", "emodb_16"]})
    >>> split["train_speakers"], split["test"]
    (['emodb_03', 'emodb_08', 'emodb_09'], ['15_0', '15_1', '16_0', '16_1'])
    >>> split_corpus(recs, {}, loso=True, fold=9)["test_speakers"]   # 9 wraps to the 2nd of 7 speakers
    ['emodb_08']
    """
    method = "loso" if loso else split_spec.get("method", "fixed")
    if method not in SPLIT_METHODS:
        raise EmoLobesError(f"unknown split method '{method}'", f"use one of {', '.join(SPLIT_METHODS)}")
    if method == "loso":
        folds = leave_one_speaker_out(records, dev_rule="next", seed=seed)
        return folds[(int(fold) - 1) % len(folds)]
    if method == "kfold":
        k, n_dev = int(split_spec.get("k", 5)), split_spec.get("n_dev")
        folds = speaker_group_kfold(records, k, n_dev_speakers=n_dev if n_dev is not None else 0, seed=seed)
        if not 1 <= int(fold) <= k:
            raise EmoLobesError(f"fold {fold} asked for, but the split has {k} folds", f"pass --fold between 1 and {k}")
        chosen = folds[int(fold) - 1]
        if n_dev is not None:
            return chosen
        # Dev = the next fold's speakers, which the stratified k-fold balanced by emotion like the test fold.
        dev = folds[int(fold) % k]["test_speakers"]
        return fixed_speaker_split(records, dev, chosen["test_speakers"], name=f"fold_{int(fold)}_dev_next")
    if method == "holdout":
        return hold_out_speakers(records, n_test=int(split_spec.get("n_test", 2)),
                                 n_dev=int(split_spec.get("n_dev", 2)), seed=seed)
    if not split_spec.get("test"):
        raise EmoLobesError(f"split {split_spec} names no test speakers",
                            "give dev and test speaker lists, or method: holdout / loso")
    return fixed_speaker_split(records, split_spec.get("dev", []), split_spec["test"])


def oversample(records_by_corpus, seed=0):
    """Copy utterances of the smaller corpora at random until every corpus has as many as the largest.

    Section III-D: "We first randomly pick and copy the files for the underrepresented corpora so that all
    datasets have the same number of utterances". Every original is kept; a corpus needing more than its own
    size gets whole copies first, then a random subset without repetition. Copies get the id
    ``<id>#copy<k>`` and keep the source id in ``source_id``.

    Arguments
    ---------
    records_by_corpus : dict
        ``{corpus: [records]}`` (one partition).
    seed : int
        Seeds the draws.

    Returns
    -------
    dict
        ``{corpus: [records]}``, all of the largest corpus's size.

    Example
    -------
    >>> parts = {"a": [{"id": f"a{i}"} for i in range(5)], "b": [{"id": "b0"}, {"id": "b1"}]}
    >>> out = oversample(parts)
    >>> {c: len(r) for c, r in out.items()}, sorted(Counter(r["source_id"] for r in out["b"]).values())
    ({'a': 5, 'b': 5}, [2, 3])
    """
    rng = random.Random(seed)
    target = max(len(records) for records in records_by_corpus.values())
    balanced = {}
    for corpus, records in sorted(records_by_corpus.items()):
        originals = [dict(record, source_id=record.get("source_id", record["id"])) for record in records]
        if not originals:
            raise EmoLobesError(f"corpus {corpus} has no utterance in this partition", "check its speaker split")
        copies, copy_number = [], Counter()
        missing = target - len(originals)
        while missing > 0:
            drawn = rng.sample(originals, min(missing, len(originals)))
            for record in drawn:
                copy_number[record["id"]] += 1
                copies.append(dict(record, id=f"{record['id']}{COPY_MARK}{copy_number[record['id']]}"))
            missing -= len(drawn)
        balanced[corpus] = originals + copies
    return balanced


def _label_emotions(corpus, records, problems):
    # {label: canonical emotion} of one corpus; a label seen with two emotions keeps the commoner, noted.
    votes = {}
    for record in records:
        votes.setdefault(str(record["label"]), Counter())[record["emotion"]] += 1
    table = {}
    for label, counts in sorted(votes.items()):
        table[label] = counts.most_common(1)[0][0]
        if len(counts) > 1:
            problems.append(f"{corpus}: label '{label}' has emotions {dict(counts)}; '{table[label]}' kept")
    if len(table) < 2:
        raise EmoLobesError(f"corpus {corpus} has {len(table)} label(s)", "a classifier head needs at least two")
    return table


def output_files(train_corpora, eval_corpora):
    """The files one prep writes, relative to its save folder.

    Example
    -------
    >>> output_files(["cafe"], ["cafe", "emodb"])[:4]
    ['cafe/train.json', 'cafe/valid.json', 'cafe/test.json', 'emodb/test.json']
    >>> output_files(["cafe"], ["cafe"])[3:]
    ['labels.json', 'split.json', 'problems.txt']
    """
    files = []
    for corpus in sorted(set(train_corpora) | set(eval_corpora)):
        if corpus in train_corpora:
            files += [f"{corpus}/train.json", f"{corpus}/valid.json"]
        if corpus in eval_corpora:
            files.append(f"{corpus}/test.json")
    return files + ["labels.json", "split.json", "problems.txt"]


def prepare_emotion_embeddings(
    data_folder,
    save_folder,
    corpora=None,
    train_corpora=None,
    eval_corpora=None,
    splits=None,
    loso=False,
    fold=1,
    seed=0,
    balance=True,
    skip_prep=False,
):
    """Parse the corpora, split each by speakers, oversample training and dev sets, write the manifests.

    Writes, per corpus, ``<corpus>/train.json`` and ``<corpus>/valid.json`` (training corpora, oversampled to
    the largest corpus when ``balance``) and ``<corpus>/test.json`` (evaluation corpora, never oversampled),
    with ``{data_root}`` placeholders; ``labels.json`` (``{corpus: {label: emotion}}``), ``split.json`` and
    ``problems.txt``. Ids are ``<corpus>/<utterance id>``. Skips the work when the saved options match.

    Arguments
    ---------
    data_folder : str
        Folder holding the corpus folders (read-only).
    save_folder : str
        Where the manifests go.
    corpora : dict, optional
        ``{name: {"parser", "folder", "options"}}`` (default :data:`PAPER_CORPORA`).
    train_corpora : list of str, optional
        Corpora trained on (one head each); default all of ``corpora``.
    eval_corpora : list of str, optional
        Corpora whose test sets are written (cross-corpus evaluation); default ``train_corpora``.
    splits : dict, optional
        ``{name: split spec}`` (see :func:`split_corpus`; default :data:`PAPER_SPLITS`).
    loso, fold, seed
        See :func:`split_corpus`; ``seed`` also seeds the oversampling.
    balance : bool
        Oversample training and dev sets (Section III-D).
    skip_prep : bool
        Do nothing.

    Returns
    -------
    dict
        ``{"train": {corpus: path}, "valid": {...}, "test": {...}, "labels": path, "split": path}``.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp(); _ = write_corpus("emodb", root); _ = write_corpus("gemep", root)
    >>> paths = prepare_emotion_embeddings(root, os.path.join(root, "prep"), train_corpora=["emodb", "gemep"])
    [EmotionEmbeddings prep] manifests written to .../prep (entries: emodb 174, gemep 177)
    >>> sizes = {c: len(json.load(open(p))) for c, p in paths["train"].items()}
    >>> sizes, len(json.load(open(paths["labels"]))["gemep"])
    ({'emodb': 108, 'gemep': 108}, 12)
    """
    corpora = dict(PAPER_CORPORA if corpora is None else corpora)
    train_corpora = list(corpora) if train_corpora is None else list(train_corpora)
    eval_corpora = list(train_corpora) if eval_corpora is None else list(eval_corpora)
    splits = dict(PAPER_SPLITS if splits is None else splits)
    unknown = sorted((set(train_corpora) | set(eval_corpora)) - set(corpora))
    if unknown:
        raise EmoLobesError(f"corpora {', '.join(unknown)} have no entry in 'corpora'",
                            f"add them to corpora (known: {', '.join(sorted(corpora))})")
    if not train_corpora:
        raise EmoLobesError("no training corpus", "list at least one corpus in train_corpora")
    untested = sorted(set(train_corpora) - set(eval_corpora))
    if untested:
        raise EmoLobesError(f"training corpora {', '.join(untested)} are not in eval_corpora",
                            "add them to eval_corpora: each head is tested on its own corpus's test set")
    used = sorted(set(train_corpora) | set(eval_corpora))
    folders = {name: os.path.abspath(corpus_folder(data_folder, corpora[name])) for name in used}
    options = {
        "corpora": {name: corpora[name] for name in used}, "folders": folders, "train_corpora": sorted(train_corpora),
        "eval_corpora": sorted(eval_corpora), "splits": {name: splits.get(name, {}) for name in used},
        "loso": bool(loso), "fold": int(fold), "seed": seed, "balance": bool(balance),
    }
    outputs = output_files(train_corpora, eval_corpora)
    paths = {"train": {}, "valid": {}, "test": {}}
    for name in used:
        for part in ("train", "valid", "test"):
            if f"{name}/{part}.json" in outputs:
                paths[part][name] = os.path.join(save_folder, name, f"{part}.json")
    paths.update(labels=os.path.join(save_folder, "labels.json"), split=os.path.join(save_folder, "split.json"))
    if skip_prep or prep_is_current(save_folder, options, outputs):
        return paths
    check_corpus_folders(data_folder, folders)
    for folder in folders.values():
        assert_not_inside(save_folder, folder)
    check_output_folder_writable(save_folder)
    problems, labels, split_info, partitions = [], {}, {}, {"train": {}, "valid": {}, "test": {}}
    for name in used:
        spec = corpora[name]
        parsed = parse_corpus(spec["parser"], folders[name], **(spec.get("options") or {}))
        problems += [f"{name}: {problem}" for problem in parsed.problems]
        records = [dict(record, corpus=name, id=f"{name}/{record['id']}") for record in parsed.records]
        labels[name] = _label_emotions(name, records, problems)
        split = split_corpus(records, splits.get(name, {}), loso=loso, fold=fold, seed=seed)
        split_info[name] = {"name": split["name"], **{k: split[k] for k in
                            ("train_speakers", "dev_speakers", "test_speakers")},
                            "summary": split_summary(split, records)}
        for part, key in (("train", "train"), ("valid", "dev"), ("test", "test")):
            partitions[part][name] = select(records, split[key])
    for part in ("train", "valid"):
        chosen = {name: partitions[part][name] for name in train_corpora}
        if part == "valid" and not all(chosen.values()):
            empty = [name for name, records in chosen.items() if not records]
            raise EmoLobesError(f"corpora {', '.join(empty)} have no dev speaker",
                                "give every training corpus dev speakers in its split")
        partitions[part] = oversample(chosen, seed=seed) if balance else chosen
    for part in ("train", "valid", "test"):
        for name, path in paths[part].items():
            records = [dict(record, source_id=record.get("source_id", record["id"]))
                       for record in partitions[part][name]]
            write_manifest(records, path, fields=MANIFEST_FIELDS)
    write_json_atomic(labels, paths["labels"])
    write_json_atomic(split_info, paths["split"])
    write_problems_report(problems, os.path.join(save_folder, "problems.txt"))
    save_prep_options(save_folder, options)
    sizes = ", ".join(f"{name} {sum(len(partitions[part].get(name, [])) for part in partitions)}" for name in used)
    print(f"[EmotionEmbeddings prep] manifests written to {save_folder} (entries: {sizes})", flush=True)
    return paths


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True, help="folder holding CaFE/, EmoDB/, GEMEP/, RAVDESS/")
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--train_corpora", nargs="*", default=None)
    parser.add_argument("--eval_corpora", nargs="*", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = prepare_emotion_embeddings(args.data_folder, args.save_folder, train_corpora=args.train_corpora,
                                       eval_corpora=args.eval_corpora, seed=args.seed)
    print(json.dumps(paths, indent=2))


if __name__ == "__main__":
    sys.exit(main())
