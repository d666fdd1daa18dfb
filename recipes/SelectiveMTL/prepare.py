"""Data preparation of the selective MTL recipe: IEMOCAP (acted) + a spontaneous CSV corpus, 4 classes, 5 folds.

Run (normally called by train.py under run_on_main):
    python recipes/SelectiveMTL/prepare.py --iemocap_folder synthetic_data/IEMOCAP_full_release \
        --spont_folder synthetic_data/SPONT --save_folder results/SelectiveMTL/prep_check --fold 1

Per fold it writes ``{train,dev,test}_<corpus>.json`` (one SpeechBrain manifest per corpus, with the corpus's
own ``{<corpus>_root}`` placeholder), ``prep_summary.json`` (class counts per corpus, what each filter dropped,
partition sizes) and ``problems.txt``, and prints the Table 1 counts.

Rules (selective MTL paper, Sections 3 and 4.1):
- IEMOCAP: angry, sad, happy + excited (merged into happy), neutral (5531 utterances in the real corpus).
- Spontaneous corpus: drop utterances whose annotators all disagree, drop those shorter than
  ``spont_min_duration`` or whose transcript is a filler, keep the 4 classes, cap neutral at ``spont_max_neutral``
  random utterances (2000 in the paper).
- Fold k: IEMOCAP leave-one-session-out (session k is test; dev = one speaker of the next session); the
  spontaneous corpus in 5 speaker-grouped parts (random parts when the CSV has no speakers), part k is test,
  dev = 10 % of the training speakers (or utterances). Train on both corpora's training parts.
"""
import argparse
import json
import os
import random
import re
from collections import Counter

from sklearn.model_selection import train_test_split

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.errors import EmoLobesError, cli_errors
from emo_lobes.data.labels import canonical_emotion
from emo_lobes.data.manifest import (
    assert_not_inside, check_output_folder_writable, prep_is_current, save_prep_options, write_json_atomic,
    write_manifest, write_problems_report,
)
from emo_lobes.data.splits import leave_one_session_out, random_kfold, speaker_group_kfold

#: The 4 classes, in the order of Table 1 (Anger, Sadness, Happiness, Neutral).
EMOTIONS = ("angry", "sad", "happy", "neutral")
#: IEMOCAP canonical emotions merged into one of :data:`EMOTIONS` (Section 3.1: excited -> happy).
IEMOCAP_MERGE = {"excited": "happy"}
#: The corpora this recipe knows, and the style each stands for (Section 3: ACT and SPON).
CORPUS_STYLES = {"iemocap": "acted", "spont": "spontaneous"}
PARTITIONS = ("train", "dev", "test")
#: Real IEMOCAP counts after the 4-class mapping (Table 1), printed beside ours.
PAPER_COUNTS = {
    "iemocap": {"angry": 1103, "sad": 1084, "happy": 1636, "neutral": 1708},
    "spont": {"angry": 3029, "sad": 692, "happy": 876, "neutral": 2000},
}
MANIFEST_FIELDS = ["duration", "sample_rate", "emotion", "corpus", "style", "speaker"]


def manifest_name(partition, corpus):
    """File name of a partition's manifest for one corpus.

    Example
    -------
    >>> manifest_name("train", "spont")
    'train_spont.json'
    """
    return f"{partition}_{corpus}.json"


def root_key(corpus):
    """Placeholder name of a corpus's data folder in its manifests (``{iemocap_root}/Session1/...``).

    Example
    -------
    >>> root_key("iemocap")
    'iemocap_root'
    """
    return f"{corpus}_root"


def iemocap_four_class(records):
    """IEMOCAP records of the 4 classes, excited merged into happy (Section 3.1).

    Arguments
    ---------
    records : list of dict
        IEMOCAP records (``emotion`` canonical: excited, frustration, undecided ...).

    Returns
    -------
    list of dict
        Copies of the kept records, ``emotion`` one of :data:`EMOTIONS`.

    Example
    -------
    >>> recs = [{"id": "a", "emotion": "excited"}, {"id": "b", "emotion": "frustration"},
    ...         {"id": "c", "emotion": "neutral"}]
    >>> [(r["id"], r["emotion"]) for r in iemocap_four_class(recs)]
    [('a', 'happy'), ('c', 'neutral')]
    """
    kept = []
    for record in records:
        emotion = IEMOCAP_MERGE.get(record["emotion"], record["emotion"])
        if emotion in EMOTIONS:
            kept.append(dict(record, emotion=emotion))
    return kept


def annotators_all_disagree(annotations):
    """True when at least two annotators labelled the utterance and no label is shared by two of them.

    Labels are compared as canonical emotions; an annotator who gave several labels agrees with anyone who
    gave one of them.

    Arguments
    ---------
    annotations : dict
        ``{annotator: [labels]}`` (the CSV importer's ``annotations``).

    Returns
    -------
    bool

    Example
    -------
    >>> annotators_all_disagree({"a1": ["angry"], "a2": ["sad"], "a3": ["neutral"]})
    True
    >>> annotators_all_disagree({"a1": ["angry"], "a2": ["sad", "Anger"], "a3": ["neutral"]})
    False
    >>> annotators_all_disagree({"a1": ["angry"]})
    False
    """
    label_sets = [{canonical_emotion(label) for label in labels} for labels in (annotations or {}).values() if labels]
    if len(label_sets) < 2:
        return False
    votes = Counter(label for labels in label_sets for label in labels)
    return max(votes.values()) < 2


def normalise_transcript(text):
    """Lower case, punctuation dropped, spaces collapsed: how transcripts are compared with the filler list.

    Example
    -------
    >>> normalise_transcript("  Mm... ¡EH! ")
    'mm eh'
    """
    return " ".join(re.sub(r"[^\w\s]", " ", str(text).lower()).split())


def filter_spontaneous(records, drop_all_disagree=True, max_neutral=2000, min_duration=None,
                       filler_transcripts=(), seed=0):
    """Apply the paper's cleaning of the spontaneous corpus (Section 3.2) and keep the 4 classes.

    Order: all-disagree utterances, too-short ones and filler transcripts are dropped, then the classes
    outside :data:`EMOTIONS`, then neutral is capped at ``max_neutral`` random utterances (drawn with ``seed``).

    Arguments
    ---------
    records : list of dict
        Records of the CSV importer (``emotion`` canonical; ``annotations`` and ``text`` optional).
    drop_all_disagree : bool
        Drop utterances on which all annotators disagree (records without annotations are kept).
    max_neutral : int or None
        Keep at most this many neutral utterances (``None``: all).
    min_duration : float or None
        Drop utterances shorter than this (s).
    filler_transcripts : sequence of str
        Drop utterances whose whole transcript is one of these (compared by :func:`normalise_transcript`).
    seed : int
        Seeds the neutral draw.

    Returns
    -------
    tuple
        ``(kept records, {reason: number dropped})``.

    Example
    -------
    >>> recs = [{"id": str(i), "emotion": e, "duration": 2.0, "text": t, "annotations": a} for i, (e, t, a) in
    ...         enumerate([("neutral", "eh", {}), ("neutral", "ok then", {}), ("neutral", "fine", {}),
    ...                    ("angry", "no", {"a1": ["sad"], "a2": ["angry"], "a3": ["happy"]}), ("fear", "x", {})])]
    >>> kept, dropped = filter_spontaneous(recs, max_neutral=1, filler_transcripts=["eh"])
    >>> len(kept), sorted(reason for reason, n in dropped.items() if n == 1)
    (1, ['all_annotators_disagree', 'filler_transcript', 'neutral_over_cap', 'other_emotion'])
    """
    fillers = {normalise_transcript(text) for text in filler_transcripts or ()}
    dropped = Counter({key: 0 for key in ("all_annotators_disagree", "shorter_than_min_duration",
                                          "filler_transcript", "other_emotion", "neutral_over_cap")})
    kept = []
    for record in records:
        if drop_all_disagree and annotators_all_disagree(record.get("annotations")):
            dropped["all_annotators_disagree"] += 1
        elif min_duration is not None and record["duration"] < float(min_duration):
            dropped["shorter_than_min_duration"] += 1
        elif fillers and normalise_transcript(record.get("text", "")) in fillers:
            dropped["filler_transcript"] += 1
        elif record["emotion"] not in EMOTIONS:
            dropped["other_emotion"] += 1
        else:
            kept.append(dict(record))
    neutral = [record["id"] for record in kept if record["emotion"] == "neutral"]
    if max_neutral is not None and len(neutral) > int(max_neutral):
        chosen = set(random.Random(seed).sample(sorted(neutral), int(max_neutral)))
        dropped["neutral_over_cap"] = len(neutral) - len(chosen)
        kept = [record for record in kept if record["emotion"] != "neutral" or record["id"] in chosen]
    return kept, dict(dropped)


def has_speakers(records):
    """True when the records name more than one speaker (the CSV importer gives ``<corpus>_unknown`` otherwise).

    Example
    -------
    >>> has_speakers([{"speaker": "calls_unknown"}, {"speaker": "calls_unknown"}])
    False
    """
    speakers = {record["speaker"] for record in records}
    return len(speakers) > 1 and not all(str(s).endswith("_unknown") for s in speakers)


def corpus_fold(corpus, records, fold, n_folds=5, seed=0, spont_split="auto", dev_fraction=0.1):
    """Fold ``fold`` (1-based) of one corpus: IEMOCAP leave-one-session-out, the spontaneous corpus k-fold.

    Arguments
    ---------
    corpus : str
        ``iemocap`` or ``spont``.
    records : list of dict
        The corpus's records after filtering.
    fold : int
        1 .. ``n_folds``.
    n_folds : int
        5 in the paper (Section 4.1); for IEMOCAP it must equal the number of sessions.
    seed : int
        Seeds fold assignment and dev draws.
    spont_split : str
        ``'auto'`` (speaker-grouped when speakers are known, else random), ``'speaker'`` or ``'random'``.
    dev_fraction : float
        Share of the spontaneous corpus's training speakers (or utterances) used as dev.

    Returns
    -------
    dict
        A split (see ``emo_lobes.data.splits``).

    Example
    -------
    >>> recs = [{"id": f"{s}_{i}", "speaker": s, "emotion": "sad"} for s in "abcdefghij" for i in range(2)]
    >>> split = corpus_fold("spont", recs, fold=2, seed=0)
    >>> len(split["test_speakers"]), len(split["dev_speakers"]), len(split["train_speakers"])
    (2, 1, 7)
    """
    if not 1 <= int(fold) <= int(n_folds):
        raise EmoLobesError(f"fold {fold} is not between 1 and {n_folds}", f"pass --fold=1 .. {n_folds}")
    if corpus == "iemocap":
        folds = leave_one_session_out(records, dev="next_session_speaker", seed=seed)
        if len(folds) != n_folds:
            raise EmoLobesError(f"IEMOCAP has {len(folds)} sessions but n_folds is {n_folds}",
                                f"pass --n_folds={len(folds)} or give all five sessions")
    else:
        if spont_split not in ("auto", "speaker", "random"):
            raise EmoLobesError(f"spont_split '{spont_split}' is not an option", "use auto, speaker or random")
        by_speaker = spont_split == "speaker" or (spont_split == "auto" and has_speakers(records))
        if by_speaker:
            folds = speaker_group_kfold(records, n_folds, dev_fraction=dev_fraction, seed=seed)
        else:
            folds = random_kfold(records, n_folds, dev_fraction=dev_fraction, seed=seed)
    return folds[int(fold) - 1]


def halve_training_set(partitions, seed=0):
    """Keep a random half of the combined training set, stratified by corpus and emotion (Table 3, "(half)").

    Arguments
    ---------
    partitions : dict
        ``{corpus: {"train": [records], ...}}``.
    seed : int
        Seeds the draw.

    Returns
    -------
    dict
        The same structure with each corpus's ``train`` list reduced.

    Example
    -------
    >>> parts = {"a": {"train": [{"id": f"a{i}", "emotion": "sad"} for i in range(8)]},
    ...          "b": {"train": [{"id": f"b{i}", "emotion": "sad"} for i in range(4)]}}
    >>> half = halve_training_set(parts)
    >>> len(half["a"]["train"]), len(half["b"]["train"])
    (4, 2)
    """
    combined = [(corpus, record) for corpus in sorted(partitions) for record in partitions[corpus]["train"]]
    strata = [f"{corpus}/{record['emotion']}" for corpus, record in combined]
    usable = strata if min(Counter(strata).values()) >= 2 else None
    keep, _ = train_test_split(list(range(len(combined))), train_size=0.5, random_state=seed, stratify=usable)
    kept = set(keep)
    halved = {corpus: dict(parts, train=[]) for corpus, parts in partitions.items()}
    for index, (corpus, record) in enumerate(combined):
        if index in kept:
            halved[corpus]["train"].append(record)
    return halved


def _class_counts(records):
    counts = Counter(record["emotion"] for record in records)
    return {emotion: counts.get(emotion, 0) for emotion in EMOTIONS}


def recipe_folder_error(corpus, err):
    """A corpus parser's error with the fix in this recipe's terms (``--<corpus>_folder``, ``--spont_csv_file``).

    The parsers name ``--data_folder`` in their fixes; here ``--data_folder`` holds both corpora, each in its own
    folder, so the fix names the option of that corpus's folder.

    Arguments
    ---------
    corpus : str
        ``iemocap`` or ``spont``.
    err : EmoLobesError
        The parser's error.

    Returns
    -------
    EmoLobesError

    Example
    -------
    >>> err = EmoLobesError("csv data folder /x/SPONT does not exist", "pass --data_folder=<a folder with a CSV>")
    >>> refined = recipe_folder_error("spont", err)
    >>> refined.problem
    'spont data folder /x/SPONT does not exist'
    >>> refined.fix
    'pass --spont_folder=<a folder with a CSV> (or --data_folder=<a folder holding IEMOCAP_full_release/ and SPONT/>)'
    """
    fix = (err.fix or "").replace("--data_folder=", f"--{corpus}_folder=").replace("csv_file=", "--spont_csv_file=")
    fix = f"{fix} (or --data_folder=<a folder holding IEMOCAP_full_release/ and SPONT/>)".strip()
    problem = err.problem.replace("csv data folder", f"{corpus} data folder", 1)
    if not problem.startswith(f"{corpus} data folder") and not problem.startswith("no IEMOCAP"):
        problem = f"{corpus} corpus: {problem}"  # e.g. the spontaneous corpus's CSV is missing
    return EmoLobesError(problem, fix)


def _load_corpus(corpus, folder, spont_options, seed):
    # Parse and filter one corpus; returns (records, dropped counts, problems).
    if not folder:
        raise EmoLobesError(f"no data folder for corpus '{corpus}'", f"pass --{corpus}_folder=<its folder>")
    try:
        if corpus == "iemocap":
            parsed = parse_corpus("iemocap", folder)
        else:
            parsed = parse_corpus("csv", folder, csv_file=spont_options["csv_file"])
    except EmoLobesError as err:
        raise recipe_folder_error(corpus, err) from None
    if corpus == "iemocap":
        records = iemocap_four_class(parsed.records)
        dropped = {"other_emotion": len(parsed.records) - len(records)}
    else:
        records, dropped = filter_spontaneous(
            parsed.records, spont_options["drop_all_disagree"], spont_options["max_neutral"],
            spont_options["min_duration"], spont_options["filler_transcripts"], seed,
        )
    for record in records:
        record["corpus"] = corpus
        record["style"] = CORPUS_STYLES[corpus]
    if not records:
        raise EmoLobesError(f"no {corpus} utterance of the classes {', '.join(EMOTIONS)} left after filtering",
                            "check the corpus folder and the spont_* filter options")
    return records, dropped, [f"{corpus}: {problem}" for problem in parsed.problems]


def print_counts(counts, partition_sizes):
    """Print Table 1 (utterances per class and corpus, the paper's counts beside) and the partition sizes.

    Arguments
    ---------
    counts : dict
        ``{corpus: {emotion: n}}``.
    partition_sizes : dict
        ``{corpus: {partition: n}}``.

    Example
    -------
    >>> print_counts({"iemocap": {"angry": 2, "sad": 1, "happy": 3, "neutral": 4}}, {"iemocap": {"train": 8}})
    [prep] iemocap: 10 utterances (angry 2, sad 1, happy 3, neutral 4); paper: 5531 (angry 1103, ...)
    [prep] iemocap partitions: train 8
    """
    for corpus, per_class in counts.items():
        ours = ", ".join(f"{emotion} {per_class[emotion]}" for emotion in EMOTIONS)
        paper = PAPER_COUNTS[corpus]
        theirs = ", ".join(f"{emotion} {paper[emotion]}" for emotion in EMOTIONS)
        print(f"[prep] {corpus}: {sum(per_class.values())} utterances ({ours}); "
              f"paper: {sum(paper.values())} ({theirs})", flush=True)
        sizes = ", ".join(f"{part} {n}" for part, n in partition_sizes[corpus].items())
        print(f"[prep] {corpus} partitions: {sizes}", flush=True)


def prepare_selective_mtl(
    save_folder, corpora, fold, iemocap_folder=None, spont_folder=None, spont_csv_file="metadata.csv",
    spont_drop_all_disagree=True, spont_max_neutral=2000, spont_min_duration=None, spont_filler_transcripts=(),
    spont_split="auto", spont_dev_fraction=0.1, half_training_set=False, n_folds=5, seed=0, skip_prep=False,
):
    """Write the manifests of one fold for the chosen corpora (see the module docstring for the rules).

    Arguments
    ---------
    save_folder : str
        Where manifests and reports go (never inside a data folder).
    corpora : list of str
        ``["iemocap"]``, ``["spont"]`` (baselines) or ``["iemocap", "spont"]``.
    fold : int
        1 .. ``n_folds``.
    iemocap_folder, spont_folder : str
        The corpora's folders (IEMOCAP_full_release; a folder with the spontaneous corpus's metadata CSV).
    spont_csv_file : str
        The spontaneous corpus's CSV, relative to its folder or absolute.
    spont_drop_all_disagree, spont_max_neutral, spont_min_duration, spont_filler_transcripts
        See :func:`filter_spontaneous`.
    spont_split, spont_dev_fraction
        See :func:`corpus_fold`.
    half_training_set : bool
        Keep a random half of the combined training set (the "(half)" rows of Table 3).
    n_folds : int
        Number of folds (5).
    seed : int
        Seeds every random choice.
    skip_prep : bool
        Do nothing (manifests made elsewhere).

    Returns
    -------
    dict
        The prep summary (also in ``prep_summary.json``), or ``None`` when skipped.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp()
    >>> summary = prepare_selective_mtl(os.path.join(root, "prep"), ["spont"], fold=1,
    ...                                 spont_folder=write_corpus("spont", root), spont_filler_transcripts=["eh"])
    [prep] spont: ...
    >>> sorted(os.listdir(os.path.join(root, "prep")))[:3], summary["dropped"]["spont"]["filler_transcript"] > 0
    (['dev_spont.json', 'prep_options.json', 'prep_summary.json'], True)
    """
    corpora = list(corpora)
    unknown = sorted(set(corpora) - set(CORPUS_STYLES))
    if not corpora or unknown or len(set(corpora)) != len(corpora):
        raise EmoLobesError(f"corpora {corpora} is not a list of distinct names among {', '.join(CORPUS_STYLES)}",
                            "pass --corpora=[iemocap], [spont] or [iemocap,spont]")
    folders = {"iemocap": iemocap_folder, "spont": spont_folder}
    spont_options = {
        "csv_file": spont_csv_file, "drop_all_disagree": bool(spont_drop_all_disagree),
        "max_neutral": None if spont_max_neutral is None else int(spont_max_neutral),
        "min_duration": None if spont_min_duration is None else float(spont_min_duration),
        "filler_transcripts": sorted(spont_filler_transcripts or ()),
    }
    options = {
        "corpora": corpora, "fold": int(fold), "n_folds": int(n_folds), "seed": int(seed),
        "folders": {corpus: os.path.abspath(folders[corpus]) if folders[corpus] else None for corpus in corpora},
        "spont": spont_options if "spont" in corpora else None, "spont_split": spont_split,
        "spont_dev_fraction": spont_dev_fraction, "half_training_set": bool(half_training_set),
    }
    outputs = [manifest_name(part, corpus) for part in PARTITIONS for corpus in corpora] + ["prep_summary.json"]
    if skip_prep:
        return None
    if prep_is_current(save_folder, options, outputs):
        with open(os.path.join(save_folder, "prep_summary.json"), encoding="utf-8") as summary_file:
            return json.load(summary_file)
    for corpus in corpora:
        if folders[corpus]:
            assert_not_inside(save_folder, folders[corpus])
    check_output_folder_writable(save_folder)

    partitions, counts, dropped, problems, splits = {}, {}, {}, [], {}
    for corpus in corpora:
        records, dropped[corpus], corpus_problems = _load_corpus(corpus, folders[corpus], spont_options, seed)
        problems += corpus_problems
        counts[corpus] = _class_counts(records)
        split = corpus_fold(corpus, records, fold, n_folds, seed, spont_split, spont_dev_fraction)
        by_id = {record["id"]: record for record in records}
        partitions[corpus] = {part: [by_id[utt] for utt in split[part]] for part in PARTITIONS}
        splits[corpus] = {"name": split["name"], "speaker_independent": split.get("speaker_independent", True),
                          **{f"{part}_speakers": split[f"{part}_speakers"] for part in PARTITIONS}}
    ids = Counter(record["id"] for parts in partitions.values() for part in parts.values() for record in part)
    clashes = sorted(utt for utt, n in ids.items() if n > 1)
    if clashes:
        raise EmoLobesError(f"utterance ids shared by the corpora (e.g. {clashes[0]})",
                            "rename the spontaneous corpus's files so its ids differ from IEMOCAP's")
    if half_training_set:
        partitions = halve_training_set(partitions, seed)
    sizes = {corpus: {part: len(partitions[corpus][part]) for part in PARTITIONS} for corpus in corpora}
    for corpus in corpora:
        for part in PARTITIONS:
            write_manifest(partitions[corpus][part], os.path.join(save_folder, manifest_name(part, corpus)),
                           data_root_key=root_key(corpus), fields=MANIFEST_FIELDS)
    summary = {
        "corpora": corpora, "fold": int(fold), "class_counts": counts, "paper_class_counts": PAPER_COUNTS,
        "dropped": dropped, "partition_sizes": sizes,
        "partition_class_counts": {c: {p: _class_counts(partitions[c][p]) for p in PARTITIONS} for c in corpora},
        "splits": splits, "half_training_set": bool(half_training_set),
    }
    write_json_atomic(summary, os.path.join(save_folder, "prep_summary.json"))
    write_problems_report(problems, os.path.join(save_folder, "problems.txt"))
    print_counts(counts, sizes)
    save_prep_options(save_folder, options)
    return summary


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iemocap_folder")
    parser.add_argument("--spont_folder")
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--corpora", nargs="+", default=["iemocap", "spont"])
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--spont_filler_transcripts", nargs="*", default=[])
    parser.add_argument("--spont_max_neutral", type=int, default=2000)
    parser.add_argument("--spont_min_duration", type=float, default=None)
    parser.add_argument("--half_training_set", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    prepare_selective_mtl(
        args.save_folder, args.corpora, args.fold, iemocap_folder=args.iemocap_folder,
        spont_folder=args.spont_folder, spont_filler_transcripts=args.spont_filler_transcripts,
        spont_max_neutral=args.spont_max_neutral, spont_min_duration=args.spont_min_duration,
        half_training_set=args.half_training_set, seed=args.seed,
    )


if __name__ == "__main__":
    main()
