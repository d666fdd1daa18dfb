"""EmoNet data prep: one declared corpus, or several pooled onto arousal/valence (Table 2), as train/dev/test manifests.

Run by train.py (under run_on_main); by hand:
python recipes/EmoNet/prepare.py --corpus urdu --data_folder /data/URDU --save_folder results/EmoNet/prep/urdu \
    --split "{method: holdout, n_test: 2, folds: 5, dev: {speaker_fraction: 0.15}}" --fold 1

The corpora, their classes and their splits are declarations (``corpora: {name: {parser, folder, options, emotions,
merge, split}}``, :mod:`emo_lobes.data.declarations`): reading, class selection, merging and splitting are the
shared ones. What this file adds is the paper's:

- the class sets EmoNet uses where it does not use every class of a corpus (:data:`PAPER_DEFAULTS`: IEMOCAP with 4
  classes, Table 1), and the recipe's split for every corpus whose declaration gives none;
- the arousal / valence pooling of Section 6.2 (modes 4 and 5): each corpus's emotions mapped with Table 2, each
  corpus's partitions balanced by subsampling every mapped class to the rarest one, the corpora pooled.
"""
import argparse
import json
import os
import random
import sys
from collections import Counter

import yaml

from emo_lobes.data.declarations import PARTITIONS, declare_corpora, load_corpus_split
from emo_lobes.data.label_tables import arousal_valence
from emo_lobes.data.manifest import (
    assert_not_inside,
    check_output_folder_writable,
    load_manifest,
    prep_is_current,
    save_prep_options,
    write_json_atomic,
    write_manifest,
    write_problems_report,
)
from emo_lobes.data.splits import class_counts_table
from emo_lobes.errors import EmoLobesError, cli_errors

#: EmoNet's class sets where the paper does not use every class of a corpus: IEMOCAP with 4 classes (Table 1,
#: "IEMOCAP (4 classes)"), excited merged into happy as is customary (the merge is not stated in the paper).
#: Every other corpus keeps its own classes (all but ``undecided``), as EmoSet does.
PAPER_DEFAULTS = {
    "iemocap": {"emotions": ["angry", "happy", "neutral", "sad"], "merge": {"excited": "happy"}},
}
#: Manifest fields train.py needs besides ``wav`` (and ``rel_wav``, which write_manifest adds).
MANIFEST_FIELDS = ["duration", "sample_rate", "emotion", "speaker", "corpus"]
#: Dimensions of EmoNet's Table 2, in the order arousal_valence() returns them.
AGGREGATE_TARGETS = ("arousal", "valence")
#: Manifest file of each partition.
MANIFEST_NAMES = {"train": "train.json", "dev": "valid.json", "test": "test.json"}
OUTPUTS = ["train.json", "valid.json", "test.json", "labels.json", "split.json", "problems.txt"]
#: Bumped when the prep's outputs change for the same options (older prep folders are then rebuilt).
PREP_VERSION = 2


def emonet_declarations(corpora, data_folder, names=None, default_split=None, split_file=None, split=None):
    """The run's corpus declarations, with EmoNet's defaults for what a declaration does not give.

    Arguments
    ---------
    corpora : dict
        The hparams' ``corpora`` (``{name: {parser, folder, options, emotions, merge, split}}``).
    data_folder : str
        Where the corpus folders are (a single-corpus run's corpus root also works).
    names : str or list of str, optional
        The corpora of the run (default: every declared one); a name not declared is read by the parser of
        that name.
    default_split : dict, optional
        The split of every corpus whose declaration gives none (the hparams' ``default_split``).
    split_file : str, optional
        A split file replacing the split of a single-corpus run.
    split : dict, optional
        A split declaration replacing the split of a single-corpus run (the hparams' ``split``).

    Returns
    -------
    dict
        ``{name: CorpusDeclaration}``.

    Example
    -------
    >>> import tempfile
    >>> decls = emonet_declarations({"calls": {"parser": "csv", "folder": "Calls"}}, tempfile.mkdtemp(),
    ...                             ["iemocap", "calls"], default_split={"method": "speaker_kfold", "k": 4})
    >>> decls["iemocap"].emotions, decls["iemocap"].merge, decls["calls"].emotions, decls["calls"].split
    (['angry', 'happy', 'neutral', 'sad'], {'excited': 'happy'}, None, {'method': 'speaker_kfold', 'k': 4})
    """
    corpora = dict(corpora or {})
    if isinstance(names, str):
        names = [names]
    names = list(corpora) if names is None else [str(name) for name in names]
    defaults = {}
    for name in names:
        parser = (corpora.get(name) or {}).get("parser") or name
        defaults[name] = dict(PAPER_DEFAULTS.get(name) or PAPER_DEFAULTS.get(parser) or {})
    return declare_corpora(corpora, data_folder, names, split_file=split_file, defaults=defaults, split=split,
                           default_split=default_split)


def output_paths(save_folder, names):
    """``{output name: path}`` of a prep folder; ``split_<name>``: the split file of each corpus in it."""
    paths = {os.path.splitext(name)[0]: os.path.join(save_folder, name) for name in OUTPUTS}
    paths.update({f"split_{name}": os.path.join(save_folder, "splits", f"{name}.json") for name in names})
    return paths


def check_prep_folder(save_folder, names):
    """Fail in one line unless ``save_folder`` holds an EmoNet prep (what ``--skip_prep=True`` relies on).

    Each manifest entry must carry the fields train.py reads (SpeechBrain's IEMOCAP manifests, say, have
    ``length`` and ``emo`` instead of ``duration`` and ``emotion``).

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_json_atomic({"u1": {"wav": "/d/u1.wav", "length": 1.2, "emo": "neu"}}, os.path.join(folder, "train.json"))
    >>> try:
    ...     check_prep_folder(folder, ["iemocap"])
    ... except EmoLobesError as err:
    ...     print(err.problem.replace(folder, "PREP"))
    --skip_prep=True, but PREP/train.json is not an EmoNet manifest: entry u1 has no rel_wav, duration, sample_rate, emotion, speaker, corpus
    """
    paths = output_paths(save_folder, names)
    fix = ("drop --skip_prep=True so that EmoNet writes its manifests from the corpus; to reuse another recipe's "
           "split, give it as the corpus's split (corpora.<name>.split: {speechbrain: FOLDER} or {file: PATH})")
    for part in MANIFEST_NAMES.values():
        path = os.path.join(save_folder, part)
        for utt, entry in (load_manifest(path) if os.path.isfile(path) else {}).items():
            absent = [key for key in ["wav", "rel_wav"] + MANIFEST_FIELDS if key not in entry]
            if absent:
                raise EmoLobesError(f"--skip_prep=True, but {path} is not an EmoNet manifest: entry {utt} has no "
                                    f"{', '.join(absent)}", fix)
    missing = [os.path.relpath(path, save_folder) for path in paths.values() if not os.path.isfile(path)]
    if missing:
        raise EmoLobesError(f"--skip_prep=True, but {save_folder} is not an EmoNet prep folder: it lacks "
                            f"{', '.join(missing)}", fix)


def _write_partition(records, path):
    # A partition's manifest; an empty partition (dev: none) is an empty manifest.
    if not records:
        return write_json_atomic({}, path)
    return write_manifest(records, path, fields=MANIFEST_FIELDS)


def _as_emonet_records(data):
    # The corpus's selected records with the class EmoNet trains on in ``emotion`` (label_key may be ``label``).
    key = data.declaration.label_key
    return {record["id"]: dict(record, emotion=str(record[key])) for record in data.records}


def prepare_emonet(declaration, save_folder, fold=1, seed=0, skip_prep=False):
    """Write one corpus's ``train.json``, ``valid.json``, ``test.json``, ``labels.json``, ``split.json``,
    ``splits/<name>.json`` and ``problems.txt``.

    Skips the work when the saved options match (``prep_options.json``); rebuilds when any option changes.
    Nothing is written under the corpus folder.

    Arguments
    ---------
    declaration : emo_lobes.data.declarations.CorpusDeclaration
        The corpus (see :func:`emonet_declarations`).
    save_folder : str
        Where the manifests go.
    fold : int
        The fold of the corpus's split.
    seed : int
        Seeds the split's draws.
    skip_prep : bool
        Write nothing; check that ``save_folder`` holds an EmoNet prep.

    Returns
    -------
    dict
        ``{output name without .json: path}``.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp()
    >>> folder = write_corpus("urdu", root)
    >>> decl = emonet_declarations({}, folder, ["urdu"], split={"method": "speaker_kfold", "k": 4,
    ...                                                         "dev": {"speakers": 1}})["urdu"]
    >>> paths = prepare_emonet(decl, os.path.join(root, "prep"))
    >>> json.load(open(paths["labels"]))
    ['angry', 'happy', 'neutral', 'sad']
    >>> split = json.load(open(paths["split"]))
    >>> split["corpus"], len(split["test_speakers"]), len(split["dev_speakers"]), len(split["train_speakers"])
    ('urdu', 2, 1, 5)
    """
    name = declaration.name
    paths = output_paths(save_folder, [name])
    if skip_prep:
        check_prep_folder(save_folder, [name])
        return paths
    options = {"version": PREP_VERSION, "corpus": declaration.as_dict(), "fold": fold, "seed": seed}
    if prep_is_current(save_folder, options, list(paths.values())):
        return paths
    assert_not_inside(save_folder, declaration.folder)
    check_output_folder_writable(save_folder)
    data = load_corpus_split(declaration, fold=fold, seed=seed)
    records = _as_emonet_records(data)
    for part, manifest in MANIFEST_NAMES.items():
        _write_partition([records[utt] for utt in data.split[part]], os.path.join(save_folder, manifest))
    write_json_atomic(data.labels, paths["labels"])
    write_json_atomic(dict(data.split_info(), corpus=name,
                           counts=class_counts_table(data.split, data.records, declaration.label_key)),
                      paths["split"])
    data.write_split(save_folder)
    write_problems_report(data.problems, paths["problems"])
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


def prepare_aggregated(target, declarations, save_folder, fold=1, seed=0, skip_prep=False):
    """Map several corpora onto arousal (low/high) or valence (negative/neutral/positive) with EmoNet's Table 2,
    balance each corpus's partitions, and pool them into one train/dev/test set (Section 6.2, modes 4 and 5).

    Each corpus is split on its own (its declaration's split); per corpus and partition every mapped class is
    subsampled to the rarest class present there; then the corpora are pooled. Ids become ``<corpus>__<id>``;
    ``wav`` stays relative to its corpus's root (``corpus`` says which), ``source_emotion`` keeps the corpus's
    emotion. Emotions without a Table 2 row are dropped and listed in ``problems.txt``. Each corpus's split is
    written to ``splits/<corpus>.json``.

    Arguments
    ---------
    target : str
        ``arousal`` or ``valence``.
    declarations : dict
        ``{name: CorpusDeclaration}`` of the pooled corpora.
    save_folder : str
        Where the pooled manifests go (the same files as :func:`prepare_emonet`).
    fold : int
        The fold of every corpus's split.
    seed : int
        Seeds the splits and the subsampling.
    skip_prep : bool
        Write nothing; check that ``save_folder`` holds an EmoNet prep.

    Returns
    -------
    dict
        ``{output name: path}``.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp()
    >>> _ = [write_corpus(name, root) for name in ("urdu", "emodb")]
    >>> decls = emonet_declarations({}, root, ["urdu", "emodb"], default_split={"method": "speaker_kfold", "k": 4})
    >>> paths = prepare_aggregated("arousal", decls, os.path.join(root, "prep"))
    >>> json.load(open(paths["labels"]))
    ['high', 'low']
    >>> train = json.load(open(paths["train"]))
    >>> sorted({entry["corpus"] for entry in train.values()}), sorted(json.load(open(paths["split"]))["corpora"])
    (['emodb', 'urdu'], ['emodb', 'urdu'])
    """
    if target not in AGGREGATE_TARGETS:
        raise EmoLobesError(f"unknown aggregate target '{target}'", f"use one of {', '.join(AGGREGATE_TARGETS)}")
    paths = output_paths(save_folder, list(declarations))
    if skip_prep:
        check_prep_folder(save_folder, list(declarations))
        return paths
    options = {"version": PREP_VERSION, "target": target, "fold": fold, "seed": seed,
               "corpora": [decl.as_dict() for decl in declarations.values()]}
    if prep_is_current(save_folder, options, list(paths.values())):
        return paths
    for decl in declarations.values():
        assert_not_inside(save_folder, decl.folder)
    check_output_folder_writable(save_folder)
    pooled, problems, splits = {part: [] for part in PARTITIONS}, [], {}
    for name, decl in declarations.items():
        data = load_corpus_split(decl, fold=fold, seed=seed)
        problems += [f"{name}: {problem}" for problem in data.problems]
        mapped, unmapped = {}, Counter()
        for utt, record in _as_emonet_records(data).items():
            try:
                pair = arousal_valence(record["emotion"])
            except EmoLobesError:
                unmapped[record["emotion"]] += 1
                continue
            mapped[utt] = dict(record, id=f"{name}__{utt}", source_emotion=record["emotion"],
                               emotion=pair[AGGREGATE_TARGETS.index(target)])
        problems += [f"{name}: emotion '{emotion}' has no Table 2 row, {n} clips dropped"
                     for emotion, n in sorted(unmapped.items())]
        for part in PARTITIONS:
            part_records = [mapped[utt] for utt in data.split[part] if utt in mapped]
            pooled[part] += balance_classes(part_records, seed=f"{seed}-{name}-{part}")
        splits[name] = data.split_info()
        data.write_split(save_folder)
    labels = sorted({record["emotion"] for records in pooled.values() for record in records})
    for part, manifest in MANIFEST_NAMES.items():
        path = os.path.join(save_folder, manifest)
        if pooled[part]:
            write_manifest(pooled[part], path, fields=MANIFEST_FIELDS + ["source_emotion"])
        else:
            write_json_atomic({}, path)
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
    """Command line: prepare one corpus (a parser name; its classes and split are EmoNet's defaults)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="a parser name, e.g. urdu")
    parser.add_argument("--data_folder", required=True, help="the corpus root, or the folder holding it")
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--split", default="{method: speaker_kfold, k: 5, dev: {speaker_fraction: 0.15}}",
                        help="the split declaration, YAML (default: hparams/scratch.yaml's default_split)")
    parser.add_argument("--split_file", help="a split file (replaces --split)")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1986, help="split seed (train.py's default seed is 1986)")
    args = parser.parse_args(argv)
    split = yaml.safe_load(args.split)
    if not isinstance(split, dict):
        raise EmoLobesError(f"--split {args.split} is not a YAML mapping", "write it as '{method: holdout, n_test: 2}'")
    decl = emonet_declarations({}, args.data_folder, [args.corpus], split, args.split_file)[args.corpus]
    paths = prepare_emonet(decl, args.save_folder, args.fold, args.seed)
    print(f"manifests in {os.path.dirname(paths['train'])}")


if __name__ == "__main__":
    sys.exit(main())
