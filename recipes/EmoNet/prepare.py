"""EmoNet data prep: parse a corpus, keep its own labels, write speaker-independent train/dev/test manifests.

Run by train.py (under run_on_main); by hand:
python recipes/EmoNet/prepare.py --corpus urdu --data_folder /data/URDU --save_folder results/EmoNet/prep/urdu
"""
import argparse
import os
import random
import sys
from collections import Counter

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.errors import EmoLobesError, cli_errors
from emo_lobes.data.label_tables import arousal_valence
from emo_lobes.data.manifest import (
    assert_not_inside,
    check_output_folder_writable,
    prep_is_current,
    save_prep_options,
    write_json_atomic,
    write_manifest,
    write_problems_report,
)
from emo_lobes.data.splits import hold_out_speakers, leave_one_session_out, select, speaker_group_kfold, split_summary

#: Corpora whose usual label set is not "every emotion in the corpus": IEMOCAP is used with 4 classes in the
#: paper (Table 1, "IEMOCAP (4 classes)"), excited merged into happy as is customary.
DEFAULT_LABEL_SETS = {
    "iemocap": {"emotions": ["angry", "happy", "neutral", "sad"], "merge_emotions": {"excited": "happy"}},
}
#: Emotions never used as a class unless asked for: no annotator consensus.
DROPPED_BY_DEFAULT = ("undecided",)
#: Manifest fields train.py needs besides ``wav``.
MANIFEST_FIELDS = ["duration", "sample_rate", "emotion", "speaker"]
#: Dimensions of EmoNet's Table 2, in the order arousal_valence() returns them.
AGGREGATE_TARGETS = ("arousal", "valence")
#: Per-corpus options that override the split options.
SPLIT_KEYS = ("split_method", "n_folds", "dev_fraction", "n_test_speakers", "n_dev_speakers")
SPLIT_METHODS = ("speaker_group_kfold", "hold_out_speakers", "leave_one_session_out")
OUTPUTS = ["train.json", "valid.json", "test.json", "labels.json", "split.json", "problems.txt"]


def select_emotions(records, emotions=None, merge_emotions=None):
    """Merge emotions, then keep the records whose emotion is in ``emotions`` (all but 'undecided' if None).

    Arguments
    ---------
    records : list of dict
        Parsed records (``emotion`` holds the canonical name).
    emotions : list of str, optional
        Classes to keep (after merging).
    merge_emotions : dict, optional
        ``{emotion: emotion it becomes}``, e.g. ``{"excited": "happy"}``.

    Returns
    -------
    records : list of dict
        Copies of the kept records, ``emotion`` merged.
    labels : list of str
        The sorted class labels present.

    Example
    -------
    >>> recs = [{"id": i, "emotion": e} for i, e in enumerate(["happy", "excited", "frustration", "sad"])]
    >>> kept, labels = select_emotions(recs, ["happy", "sad"], {"excited": "happy"})
    >>> [r["emotion"] for r in kept], labels
    (['happy', 'happy', 'sad'], ['happy', 'sad'])
    """
    merge_emotions = merge_emotions or {}
    kept = []
    for record in records:
        emotion = merge_emotions.get(record["emotion"], record["emotion"])
        if (emotion in emotions) if emotions is not None else (emotion not in DROPPED_BY_DEFAULT):
            kept.append(dict(record, emotion=emotion))
    labels = sorted({record["emotion"] for record in kept})
    if len(labels) < 2:
        raise EmoLobesError(
            f"only {len(labels)} emotion class(es) left after selecting {emotions}",
            "choose emotions that occur in the corpus (see python -m emo_lobes.data.corpora summarize)",
        )
    return kept, labels


def make_split(records, split_method, fold=1, n_folds=5, dev_fraction=0.15, n_test_speakers=2, n_dev_speakers=None,
               seed=0):
    """One speaker-independent train/dev/test split of ``records`` (see :mod:`emo_lobes.data.splits`).

    Arguments
    ---------
    records : list of dict
        Records with ``id``, ``speaker`` (``session`` for ``leave_one_session_out``).
    split_method : str
        ``speaker_group_kfold`` (fold ``fold`` of ``n_folds``), ``hold_out_speakers`` (``n_test_speakers`` and
        ``n_dev_speakers`` held out) or ``leave_one_session_out`` (fold = session number in sorted order).
    fold : int
        1-based fold number.
    n_folds : int
        Folds of ``speaker_group_kfold``.
    dev_fraction : float
        Fraction of training speakers moved to dev (when ``n_dev_speakers`` is None).
    n_test_speakers, n_dev_speakers : int
        Held-out speakers (``hold_out_speakers``; ``n_dev_speakers`` also fixes the dev size of the k-fold).
    seed : int
        Seeds the speaker draws.

    Returns
    -------
    dict
        The split (ids and speakers per partition), leakage-checked.

    Example
    -------
    >>> recs = [{"id": f"s{s}_{e}", "speaker": f"s{s}", "emotion": e} for s in range(8) for e in ("sad", "angry")]
    >>> split = make_split(recs, "speaker_group_kfold", fold=2, n_folds=4, n_dev_speakers=1)
    >>> split["name"], len(split["test_speakers"]), len(split["dev_speakers"]), len(split["train_speakers"])
    ('fold_2', 2, 1, 5)
    """
    if split_method == "speaker_group_kfold":
        folds = speaker_group_kfold(records, n_folds, dev_fraction=dev_fraction, n_dev_speakers=n_dev_speakers,
                                    seed=seed)
    elif split_method == "leave_one_session_out":
        folds = leave_one_session_out(records, dev="speaker_fraction", seed=seed, dev_fraction=dev_fraction)
    elif split_method == "hold_out_speakers":
        n_dev = 1 if n_dev_speakers is None else n_dev_speakers
        return hold_out_speakers(records, n_test=n_test_speakers, n_dev=n_dev, seed=seed)
    else:
        raise EmoLobesError(f"unknown split_method '{split_method}'", f"use one of {', '.join(SPLIT_METHODS)}")
    if not 1 <= fold <= len(folds):
        raise EmoLobesError(f"fold {fold} asked for, but {split_method} gives {len(folds)} folds",
                            f"pass --fold between 1 and {len(folds)}")
    return folds[fold - 1]


def default_label_set(corpus, emotions=None, merge_emotions=None):
    """The emotions kept and merged for ``corpus``: the given ones, else :data:`DEFAULT_LABEL_SETS`, else all.

    Example
    -------
    >>> default_label_set("iemocap")
    (['angry', 'happy', 'neutral', 'sad'], {'excited': 'happy'})
    >>> default_label_set("emodb")
    (None, None)
    """
    defaults = DEFAULT_LABEL_SETS.get(str(corpus).lower(), {})
    emotions = defaults.get("emotions") if emotions is None else list(emotions)
    merge_emotions = defaults.get("merge_emotions") if merge_emotions is None else dict(merge_emotions)
    return emotions, merge_emotions


def split_corpus(corpus, data_folder, split_options, emotions=None, merge_emotions=None, parse_options=None):
    """Parse a corpus, select its classes and split it speaker-independently (with a non-empty dev set).

    Arguments
    ---------
    corpus, data_folder : str
        As for :func:`prepare_emonet`.
    split_options : dict
        Keyword arguments of :func:`make_split` (``split_method``, ``fold``, ``n_folds`` ...).
    emotions, merge_emotions : optional
        As for :func:`select_emotions`.
    parse_options : dict, optional
        Passed to the parser.

    Returns
    -------
    records : list of dict
        The kept records.
    labels : list of str
        Their sorted classes.
    split : dict
        The split.
    problems : list of str
        The parser's problems.
    """
    parsed = parse_corpus(corpus, data_folder, **(parse_options or {}))
    records, labels = select_emotions(parsed.records, emotions, merge_emotions)
    split = make_split(records, **split_options)
    if not split["dev"]:
        raise EmoLobesError(f"split {split['name']} of {corpus} has no dev speakers; EmoNet needs dev UAR",
                            "use dev_fraction > 0 or n_dev_speakers >= 1")
    return records, labels, split, list(parsed.problems)


def prepare_emonet(
    corpus,
    data_folder,
    save_folder,
    split_method="speaker_group_kfold",
    fold=1,
    n_folds=5,
    dev_fraction=0.15,
    n_test_speakers=2,
    n_dev_speakers=None,
    emotions=None,
    merge_emotions=None,
    parse_options=None,
    seed=0,
    skip_prep=False,
):
    """Write ``train.json``, ``valid.json``, ``test.json``, ``labels.json``, ``split.json`` and ``problems.txt``.

    Skips the work when the saved options match (``prep_options.json``); rebuilds when any option changes.
    Nothing is written under ``data_folder``.

    Arguments
    ---------
    corpus : str
        Any name ``emo_lobes.data.corpora.parse_corpus`` accepts.
    data_folder : str
        The corpus root (read-only).
    save_folder : str
        Where the manifests go.
    split_method, fold, n_folds, dev_fraction, n_test_speakers, n_dev_speakers, seed
        See :func:`make_split`.
    emotions : list of str, optional
        Classes to keep (default: the corpus's usual set, see :data:`DEFAULT_LABEL_SETS`, else all).
    merge_emotions : dict, optional
        Emotions merged before selection (default as for ``emotions``).
    parse_options : dict, optional
        Passed to the corpus parser (e.g. ``csv_file`` for ``csv``).
    skip_prep : bool
        Do nothing.

    Returns
    -------
    dict
        ``{output name without .json: path}``.

    Example
    -------
    >>> import tempfile, json
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp()
    >>> folder = write_corpus("urdu", root)
    >>> paths = prepare_emonet("urdu", folder, os.path.join(root, "prep"), n_folds=4, n_dev_speakers=1)
    >>> json.load(open(paths["labels"]))
    ['angry', 'happy', 'neutral', 'sad']
    >>> split = json.load(open(paths["split"]))
    >>> len(split["test_speakers"]), len(split["dev_speakers"]), len(split["train_speakers"])
    (2, 1, 5)
    """
    emotions, merge_emotions = default_label_set(corpus, emotions, merge_emotions)
    options = {
        "corpus": corpus, "data_folder": os.path.abspath(data_folder), "split_method": split_method, "fold": fold,
        "n_folds": n_folds, "dev_fraction": dev_fraction, "n_test_speakers": n_test_speakers,
        "n_dev_speakers": n_dev_speakers, "emotions": emotions, "merge_emotions": merge_emotions,
        "parse_options": parse_options or {}, "seed": seed,
    }
    paths = {os.path.splitext(name)[0]: os.path.join(save_folder, name) for name in OUTPUTS}
    if skip_prep or prep_is_current(save_folder, options, OUTPUTS):
        return paths
    assert_not_inside(save_folder, data_folder)
    check_output_folder_writable(save_folder)
    records, labels, split, problems = split_corpus(
        corpus, data_folder, dict(split_method=split_method, fold=fold, n_folds=n_folds, dev_fraction=dev_fraction,
                                  n_test_speakers=n_test_speakers, n_dev_speakers=n_dev_speakers, seed=seed),
        emotions, merge_emotions, parse_options)
    for part, name in (("train", "train.json"), ("dev", "valid.json"), ("test", "test.json")):
        write_manifest(select(records, split[part]), os.path.join(save_folder, name), fields=MANIFEST_FIELDS)
    write_json_atomic(labels, paths["labels"])
    write_json_atomic(dict(split, corpus=corpus, summary=split_summary(split, records)), paths["split"])
    write_problems_report(problems, paths["problems"])
    save_prep_options(save_folder, options)
    return paths


def balance_classes(records, seed):
    """Subsample every class to the count of the rarest class present (EmoNet Section 6.2), seeded.

    Arguments
    ---------
    records : list of dict
        Records with ``emotion`` (the mapped class).
    seed : str or int
        Seeds the draw.

    Returns
    -------
    list of dict
        The kept records, in their original order.

    Example
    -------
    >>> recs = [{"id": i, "emotion": "high" if i < 5 else "low"} for i in range(7)]
    >>> sorted(r["emotion"] for r in balance_classes(recs, seed=0))
    ['high', 'high', 'low', 'low']
    """
    by_class = {}
    for record in records:
        by_class.setdefault(record["emotion"], []).append(record)
    if not by_class:
        return []
    count = min(len(members) for members in by_class.values())
    rng = random.Random(seed)
    keep = {id(record) for members in by_class.values() for record in rng.sample(members, count)}
    return [record for record in records if id(record) in keep]


def prepare_aggregated(target, corpora, save_folder, split_options, seed=0, skip_prep=False):
    """Map several corpora onto arousal (low/high) or valence (negative/neutral/positive) with EmoNet's Table 2,
    balance each corpus's partitions, and pool them into one train/dev/test set (Section 6.2, modes 4 and 5).

    Each corpus is split speaker-independently on its own (its per-corpus options override ``split_options``);
    per corpus and partition every mapped class is subsampled to the rarest class present there; then the
    corpora are pooled. Ids become ``<corpus>__<id>``, ``wav`` absolute paths, ``source_emotion`` keeps the
    corpus's emotion. Emotions without a Table 2 row are dropped and listed in ``problems.txt``.

    Arguments
    ---------
    target : str
        ``arousal`` or ``valence``.
    corpora : list of dict
        One per corpus: ``corpus``, ``data_folder`` and optionally ``emotions``, ``merge_emotions``,
        ``parse_options`` and split options.
    save_folder : str
        Where the pooled manifests go (the same files as :func:`prepare_emonet`).
    split_options : dict
        Default keyword arguments of :func:`make_split`.
    seed : int
        Seeds the splits and the subsampling.
    skip_prep : bool
        Do nothing.

    Returns
    -------
    dict
        ``{output name: path}``.

    Example
    -------
    >>> import tempfile, json
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp()
    >>> corpora = [{"corpus": name, "data_folder": write_corpus(name, root)} for name in ("urdu", "emodb")]
    >>> paths = prepare_aggregated("arousal", corpora, os.path.join(root, "prep"),
    ...                            {"split_method": "speaker_group_kfold", "n_folds": 4, "n_dev_speakers": 1})
    >>> json.load(open(paths["labels"]))
    ['high', 'low']
    >>> train = json.load(open(paths["train"]))
    >>> sorted({entry["corpus"] for entry in train.values()})
    ['emodb', 'urdu']
    """
    if target not in AGGREGATE_TARGETS:
        raise EmoLobesError(f"unknown aggregate target '{target}'", f"use one of {', '.join(AGGREGATE_TARGETS)}")
    specs = [dict(spec, data_folder=os.path.abspath(spec["data_folder"])) for spec in corpora]
    options = {"target": target, "corpora": specs, "split_options": split_options, "seed": seed}
    paths = {os.path.splitext(name)[0]: os.path.join(save_folder, name) for name in OUTPUTS}
    if skip_prep or prep_is_current(save_folder, options, OUTPUTS):
        return paths
    for spec in specs:
        assert_not_inside(save_folder, spec["data_folder"])
    check_output_folder_writable(save_folder)
    pooled, problems, splits = {"train": [], "dev": [], "test": []}, [], {}
    for spec in specs:
        corpus = spec["corpus"]
        emotions, merge = default_label_set(corpus, spec.get("emotions"), spec.get("merge_emotions"))
        corpus_split_options = dict(split_options, **{k: spec[k] for k in SPLIT_KEYS if k in spec}, seed=seed)
        records, _, split, corpus_problems = split_corpus(corpus, spec["data_folder"], corpus_split_options,
                                                          emotions, merge, spec.get("parse_options"))
        problems += [f"{corpus}: {problem}" for problem in corpus_problems]
        mapped, unmapped = {}, Counter()
        for record in records:
            try:
                pair = arousal_valence(record["emotion"])
            except EmoLobesError:
                unmapped[record["emotion"]] += 1
                continue
            mapped[record["id"]] = dict(
                record, id=f"{corpus}__{record['id']}", wav=os.path.join(spec["data_folder"], record["wav"]),
                source_emotion=record["emotion"], emotion=pair[AGGREGATE_TARGETS.index(target)])
        problems += [f"{corpus}: emotion '{emotion}' has no Table 2 row, {n} clips dropped"
                     for emotion, n in sorted(unmapped.items())]
        for part in pooled:
            part_records = [mapped[utt] for utt in split[part] if utt in mapped]
            pooled[part] += balance_classes(part_records, seed=f"{seed}-{corpus}-{part}")
        splits[corpus] = {key: split[key] for key in ("name", "train_speakers", "dev_speakers", "test_speakers")}
    labels = sorted({record["emotion"] for records in pooled.values() for record in records})
    for part, name in (("train", "train.json"), ("dev", "valid.json"), ("test", "test.json")):
        write_manifest(pooled[part], os.path.join(save_folder, name),
                       fields=MANIFEST_FIELDS + ["corpus", "source_emotion"])
    write_json_atomic(labels, paths["labels"])
    summary = {part: dict(Counter(f"{r['corpus']}:{r['emotion']}" for r in records))
               for part, records in pooled.items()}
    write_json_atomic({"name": f"aggregated_{target}", "corpus": f"aggregated_{target}", "corpora": splits,
                       "summary": summary}, paths["split"])
    write_problems_report(problems, paths["problems"])
    save_prep_options(save_folder, options)
    return paths


@cli_errors
def main(argv=None):
    """Command line: prepare one corpus (options as in :func:`prepare_emonet`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--split_method", default="speaker_group_kfold", choices=SPLIT_METHODS)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--n_folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = prepare_emonet(args.corpus, args.data_folder, args.save_folder, args.split_method, args.fold,
                           args.n_folds, seed=args.seed)
    print(f"manifests in {os.path.dirname(paths['train'])}")


if __name__ == "__main__":
    sys.exit(main())
