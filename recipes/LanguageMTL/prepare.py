"""Language-ID MTL data prep: five shared emotions, a language per corpus, speaker-independent splits per corpus.

Run (normally called by train.py):
    python recipes/LanguageMTL/prepare.py --data_folder=synthetic_data --save_folder=results/LanguageMTL/prep
        --corpora emodb savee emovo masc iemocap
"""
import argparse
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.data.corpora import parse_corpus  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.data.manifest import (  # noqa: E402
    assert_not_inside, check_output_folder_writable, prep_is_current, save_prep_options, write_json_atomic,
    write_manifest, write_problems_report,
)
from emo_lobes.data.splits import (  # noqa: E402
    hold_out_speakers, leave_one_speaker_out, select, speaker_group_kfold, split_summary,
)

#: The five emotions common to all corpora (Section 4.1), in the paper's order.
EMOTION_CLASSES = ("happy", "sad", "fear", "anger", "neutral")
#: Canonical emotion (``record["emotion"]``) -> class. MASC's elation and panic (Table 1) count as happy and
#: fear, as the paper's five common emotions imply; every other emotion is dropped.
EMOTION_MAP = {
    "happy": "happy", "sad": "sad", "fear": "fear", "angry": "anger", "neutral": "neutral",
    "elation": "happy", "panic": "fear",
}
#: Each corpus: parser, its options, folder name under ``data_folder``, language (ISO 639-1), test speakers
#: held out (Section 4.1: one for the small corpora, two for IEMOCAP and MASC; URDU, not in the paper, two).
CORPORA = {
    "emodb": {"parser": "emodb", "options": {}, "folder": "EmoDB", "language": "de", "n_test_speakers": 1},
    "savee": {"parser": "savee", "options": {}, "folder": "SAVEE", "language": "en", "n_test_speakers": 1},
    "emovo": {"parser": "emovo", "options": {}, "folder": "EMOVO", "language": "it", "n_test_speakers": 1},
    "masc": {"parser": "csv", "options": {"corpus_name": "masc", "language": "zh"}, "folder": "MASC",
             "language": "zh", "n_test_speakers": 2},
    "iemocap": {"parser": "iemocap", "options": {}, "folder": "IEMOCAP_full_release", "language": "en",
                "n_test_speakers": 2},
    "urdu": {"parser": "urdu", "options": {}, "folder": "URDU", "language": "ur", "n_test_speakers": 2},
}
#: Split rules: ``holdout`` (the paper's held-out speakers), ``loso`` (rotate them: fold k holds out the
#: k-th speaker, or group of speakers, of each corpus), ``group_kfold`` (``n_folds`` speaker-disjoint folds).
SPLITS = ("holdout", "loso", "group_kfold")
PARTS = {"train": "train", "valid": "dev", "test": "test"}
MANIFEST_FIELDS = ("duration", "sample_rate", "speaker", "gender", "corpus", "language", "label", "emotion")
PREP_VERSION = 1


def emotion_class(record, merge_excited=False):
    """The recipe's class of a record, or ``None`` when its emotion is not one of the five.

    Arguments
    ---------
    record : dict
        A parsed record (``emotion`` canonical, ``label`` the corpus's own).
    merge_excited : bool
        Count IEMOCAP's ``excited`` as happy. Off by default: the paper keeps "happy" only (Section 4.1
        lists happiness and excitement as separate IEMOCAP labels, Table 1).

    Returns
    -------
    str or None
        One of :data:`EMOTION_CLASSES`.

    Example
    -------
    >>> [emotion_class({"emotion": e}) for e in ("angry", "happy", "excited", "disgust", "elation")]
    ['anger', 'happy', None, None, 'happy']
    >>> emotion_class({"emotion": "excited"}, merge_excited=True)
    'happy'
    """
    emotion = str(record.get("emotion", "")).lower()
    if merge_excited and emotion == "excited":
        return "happy"
    return EMOTION_MAP.get(emotion)


def five_class_records(records, corpus, merge_excited=False):
    """The records of the five classes, relabelled for the recipe, with ids made unique across corpora.

    Arguments
    ---------
    records : list of dict
        Parsed records of one corpus.
    corpus : str
        Key of :data:`CORPORA` (prefixes the ids, sets ``corpus`` and ``language``).
    merge_excited : bool
        See :func:`emotion_class`.

    Returns
    -------
    tuple
        ``(kept records, {dropped emotion: count})``. Kept records have ``emotion`` set to the class,
        ``canonical_emotion`` the parser's emotion, ``id`` ``<corpus>_<id>``.

    Example
    -------
    >>> recs = [{"id": "a", "emotion": "angry", "speaker": "s1"}, {"id": "b", "emotion": "boredom", "speaker": "s1"}]
    >>> kept, dropped = five_class_records(recs, "emodb")
    >>> [(r["id"], r["emotion"], r["language"]) for r in kept], dropped
    ([('emodb_a', 'anger', 'de')], {'boredom': 1})
    """
    kept, dropped = [], Counter()
    for record in records:
        label = emotion_class(record, merge_excited)
        if label is None:
            dropped[str(record.get("emotion"))] += 1
            continue
        kept.append(dict(record, id=f"{corpus}_{record['id']}", emotion=label, canonical_emotion=record.get("emotion"),
                         corpus=corpus, language=CORPORA[corpus]["language"]))
    return kept, dict(sorted(dropped.items()))


def corpus_split(records, n_test_speakers, n_dev_speakers=1, split="holdout", fold=1, n_folds=5, seed=0):
    """The speaker-independent split of one corpus for fold ``fold``.

    - ``holdout``: ``n_test_speakers`` test and ``n_dev_speakers`` dev speakers drawn (gender-balanced) with
      ``seed + fold - 1``, the rest train (Section 4.1; the paper has no dev set, we use one for early stopping).
    - ``loso``: one speaker out per fold (``leave_one_speaker_out``, dev = the next speaker) when
      ``n_test_speakers`` is 1, else ``n_speakers // n_test_speakers`` speaker-disjoint folds; fold k takes
      fold ``(k - 1) mod n`` so pooled runs rotate through every corpus.
    - ``group_kfold``: ``n_folds`` speaker-disjoint folds stratified by emotion (for corpora such as URDU whose
      speakers have very different numbers of clips); ``fold`` must be at most ``n_folds``.

    Arguments
    ---------
    records : list of dict
        Five-class records of one corpus.
    n_test_speakers, n_dev_speakers : int
        Held-out speakers.
    split : str
        One of :data:`SPLITS`.
    fold : int
        Fold number, from 1.
    n_folds : int
        Folds of ``group_kfold``.
    seed : int
        Seeds the draws.

    Returns
    -------
    tuple
        ``(split dict, number of folds this rule has for the corpus)``.

    Example
    -------
    >>> recs = [{"id": f"s{s}_{i}", "speaker": f"s{s}", "gender": "male", "emotion": "sad"}
    ...         for s in range(6) for i in range(2)]
    >>> split, n = corpus_split(recs, 1, split="loso", fold=8)
    >>> split["test_speakers"], n
    (['s1'], 6)
    >>> split, n = corpus_split(recs, 2, split="holdout")
    >>> len(split["test_speakers"]), len(split["dev_speakers"]), len(split["train_speakers"]), n
    (2, 1, 3, 1)
    """
    if split not in SPLITS:
        raise EmoLobesError(f"unknown split '{split}'", f"use one of {', '.join(SPLITS)}")
    if int(fold) < 1:
        raise EmoLobesError(f"fold {fold} is not a fold number", "number folds from 1")
    if split == "holdout":
        return hold_out_speakers(records, n_test_speakers, n_dev_speakers, seed=seed + int(fold) - 1), 1
    if split == "group_kfold":
        if int(fold) > n_folds:
            raise EmoLobesError(f"fold {fold} asked of a {n_folds}-fold split", f"use a fold from 1 to {n_folds}")
        n_speakers = len({r["speaker"] for r in records})
        folds = speaker_group_kfold(records, min(n_folds, n_speakers), n_dev_speakers=n_dev_speakers, seed=seed)
        return folds[int(fold) - 1], n_folds
    if n_test_speakers == 1:
        folds = leave_one_speaker_out(records, dev_rule="next" if n_dev_speakers else "none", seed=seed)
    else:
        n_speakers = len({r["speaker"] for r in records})
        folds = speaker_group_kfold(records, max(2, n_speakers // n_test_speakers), n_dev_speakers=n_dev_speakers,
                                    seed=seed)
    return folds[(int(fold) - 1) % len(folds)], len(folds)


def corpus_manifests(save_folder, corpus):
    """Paths of one corpus's manifests, ``{"train", "valid", "test"}``.

    Example
    -------
    >>> corpus_manifests("prep", "emodb")["valid"]
    'prep/emodb/valid.json'
    """
    return {part: os.path.join(save_folder, corpus, f"{part}.json") for part in PARTS}


def data_root_key(corpus):
    """The manifest placeholder of a corpus's folder (``{emodb_root}``), filled by train.py.

    Example
    -------
    >>> data_root_key("masc")
    'masc_root'
    """
    return f"{corpus}_root"


def prepare_language_mtl(corpus_folders, save_folder, split="holdout", fold=1, n_folds=5, seed=0,
                         n_test_speakers=None, n_dev_speakers=1, merge_excited=False, skip_prep=False):
    """Parse each corpus, keep the five classes, split it by speakers and write its manifests.

    Writes ``<save_folder>/<corpus>/{train,valid,test}.json`` (``wav`` as ``{<corpus>_root}/<path>``),
    ``split.json`` (speakers and counts per part) and ``problems.txt`` per corpus, then ``prep_options.json``.
    Nothing is written when the saved options match.

    Arguments
    ---------
    corpus_folders : dict
        ``{corpus: data folder}``; corpora are keys of :data:`CORPORA`.
    save_folder : str
        Output folder (outside every data folder).
    split, fold, n_folds, seed : see :func:`corpus_split`
    n_test_speakers : dict, optional
        ``{corpus: test speakers}`` overriding :data:`CORPORA`'s.
    n_dev_speakers : int
        Dev speakers per corpus.
    merge_excited : bool
        IEMOCAP's excited as happy.
    skip_prep : bool
        Do nothing.

    Returns
    -------
    dict
        ``{corpus: manifest paths}``.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp()
    >>> paths = prepare_language_mtl({"emodb": write_corpus("emodb", root)}, os.path.join(root, "prep"))
    >>> import json
    >>> test = json.load(open(paths["emodb"]["test"]))
    >>> len(test), sorted({entry["emotion"] for entry in test.values()}), next(iter(test.values()))["wav"][:18]
    (10, ['anger', 'fear', 'happy', 'neutral', 'sad'], '{emodb_root}/wav/1')
    """
    unknown = sorted(set(corpus_folders) - set(CORPORA))
    if unknown:
        raise EmoLobesError(f"unknown corpus {', '.join(unknown)}", f"use corpora from {', '.join(CORPORA)}")
    if not corpus_folders:
        raise EmoLobesError("no corpus to prepare", "list corpora in train_corpora / test_corpora")
    n_test = {corpus: spec["n_test_speakers"] for corpus, spec in CORPORA.items()}
    n_test.update(n_test_speakers or {})
    folders = {corpus: os.path.abspath(str(folder)) for corpus, folder in sorted(corpus_folders.items())}
    paths = {corpus: corpus_manifests(save_folder, corpus) for corpus in folders}
    options = {"version": PREP_VERSION, "folders": folders, "split": split, "fold": int(fold), "n_folds": n_folds,
               "seed": seed, "n_test_speakers": {c: n_test[c] for c in folders}, "n_dev_speakers": n_dev_speakers,
               "merge_excited": merge_excited}
    outputs = [path for corpus in folders for path in paths[corpus].values()]
    if skip_prep or prep_is_current(save_folder, options, outputs):
        return paths
    for folder in folders.values():
        assert_not_inside(save_folder, folder)
    check_output_folder_writable(save_folder)
    for corpus, folder in folders.items():
        spec = CORPORA[corpus]
        parsed = parse_corpus(spec["parser"], folder, **spec["options"])
        records, dropped = five_class_records(parsed.records, corpus, merge_excited)
        if not records:
            raise EmoLobesError(f"{corpus} in {folder} has none of the classes {', '.join(EMOTION_CLASSES)}",
                                f"point {corpus}_folder at the {corpus} corpus")
        split_dict, n_corpus_folds = corpus_split(records, n_test[corpus], n_dev_speakers, split, fold, n_folds, seed)
        for part, split_part in PARTS.items():
            write_manifest(select(records, split_dict[split_part]), paths[corpus][part],
                           data_root_key=data_root_key(corpus), fields=list(MANIFEST_FIELDS))
        summary = {"corpus": corpus, "split": split_dict["name"], "n_folds": n_corpus_folds,
                   "dropped_emotions": dropped, **{f"{p}_speakers": split_dict[f"{p}_speakers"] for p in PARTS.values()},
                   "counts": split_summary(split_dict, records)}
        write_json_atomic(summary, os.path.join(save_folder, corpus, "split.json"))
        write_problems_report(parsed.problems, os.path.join(save_folder, corpus, "problems.txt"))
    save_prep_options(save_folder, options)
    return paths


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True, help="folder holding the corpora in their usual names")
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--corpora", nargs="+", default=["emodb", "savee", "emovo", "masc", "iemocap"])
    parser.add_argument("--split", default="holdout", choices=SPLITS)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folders = {corpus: os.path.join(args.data_folder, CORPORA.get(corpus, {"folder": corpus})["folder"])
               for corpus in args.corpora}
    paths = prepare_language_mtl(folders, args.save_folder, split=args.split, fold=args.fold, seed=args.seed)
    for corpus in paths:
        print(open(os.path.join(args.save_folder, corpus, "split.json"), encoding="utf-8").read())


if __name__ == "__main__":
    main()
