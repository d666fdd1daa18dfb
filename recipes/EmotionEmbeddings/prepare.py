"""Emotion-embedding data prep: the declared corpora (read, selected and split by emo_lobes), oversampled to one size.

Run by train.py (under run_on_main); by hand (synthetic corpora under synthetic_data/):
python recipes/EmotionEmbeddings/prepare.py --data_folder synthetic_data --save_folder results/EmotionEmbeddings/prep \
    --train_corpora emodb cafe
"""
import argparse
import json
import os
import random
import sys
from collections import Counter

import yaml

from emo_lobes.data.declarations import check_corpus_folders, declare_corpora, load_corpus_split
from emo_lobes.data.manifest import (
    assert_not_inside,
    check_output_folder_writable,
    prep_is_current,
    save_prep_options,
    write_json_atomic,
    write_manifest,
    write_problems_report,
)
from emo_lobes.errors import EmoLobesError, cli_errors

#: Fields train.py reads from the manifests besides ``wav`` and ``rel_wav``: ``utt_id`` is the corpus's own id
#: (manifest keys are ``<corpus>/<utt_id>``, copies ``...#copy<k>``), ``target`` the head's class (the record's
#: ``label_key`` field), ``source_id`` the utterance a copy was made from.
MANIFEST_FIELDS = ["corpus", "utt_id", "target", "label", "emotion", "speaker", "duration", "source_id"]
#: Separator between a copy's source id and its copy number.
COPY_MARK = "#copy"
#: The dev rule of a LOSO split that names none (Section III: one speaker tests, the rest train; no dev).
LOSO_DEV = "none"
#: Manifest name of each partition of a split.
MANIFEST_OF_PART = {"train": "train", "dev": "valid", "test": "test"}


def run_declarations(corpora, data_folder, train_corpora, eval_corpora=None, split_file=None, split=None):
    """The declarations of the corpora a run trains and tests on (:func:`emo_lobes.data.declarations.declare_corpora`).

    A single-corpus run (one training corpus) may take the corpus root as ``data_folder`` and replace that
    corpus's split by a split file (``--split_file``) or by another split declaration (``--split``, put in
    place of the declared one, not merged into it: Table II's LOSO row is ``{method: loso, dev: none}``).
    A LOSO split without a ``dev`` rule gets ``dev: none`` (Section III: "we use one speaker for evaluation and
    the rest for training the model"): the paper holds no dev speaker out of its LOSO folds. Model selection on
    a dev speaker (not in the paper) is the option ``dev: session_partner`` (or ``next``, ``{speakers: [...]}``).

    Arguments
    ---------
    corpora : dict
        The hparams' ``corpora`` (``{name: {parser, folder, options, emotions, merge, label_key, split}}``).
    data_folder : str
        Where relative corpus folders are.
    train_corpora : list of str
        Corpora trained on (one head each), by name; a name without a declaration is read by its parser.
    eval_corpora : list of str, optional
        Corpora whose test sets go through every head (default ``train_corpora``); must hold them all.
    split_file : str, optional
        A split file for the single training corpus.
    split : dict, optional
        A split declaration for the single training corpus (``None`` or ``{}``: none).

    Returns
    -------
    dict
        ``{name: CorpusDeclaration}``, training corpora first.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "EmoDB")); os.makedirs(os.path.join(root, "CaFE"))
    >>> decls = run_declarations({"cafe": {"label_key": "label"}}, root, ["emodb"], ["emodb", "cafe"],
    ...                          split={"method": "loso", "dev": "none"})
    >>> [(d.name, d.label_key, d.split) for d in decls.values()]
    [('emodb', 'emotion', {'method': 'loso', 'dev': 'none'}), ('cafe', 'label', {})]
    >>> run_declarations({}, root, ["emodb"], split={"method": "loso"})["emodb"].split  # the paper's LOSO: no dev
    {'method': 'loso', 'dev': 'none'}
    >>> run_declarations({}, os.path.join(root, "EmoDB"), ["emodb"])["emodb"].folder == os.path.join(root, "EmoDB")
    True
    """
    train = [str(name) for name in (train_corpora or [])]
    evals = list(train) if eval_corpora is None else [str(name) for name in eval_corpora]
    if not train:
        raise EmoLobesError("no training corpus", "pass --corpus=NAME, or list corpora in --train_corpora")
    untested = [name for name in train if name not in evals]
    if untested:
        raise EmoLobesError(f"training corpora {', '.join(untested)} are not in eval_corpora",
                            "add them to eval_corpora: each head is tested on its own corpus's test set")
    split = dict(split or {})
    if split and split_file:
        raise EmoLobesError("both --split and --split_file are given", "give one of them")
    corpora = {name: dict(spec or {}) for name, spec in dict(corpora or {}).items()}
    if split:
        if len(train) != 1:
            raise EmoLobesError(f"--split is for single-corpus runs, but this run trains on {', '.join(train)}",
                                "give each corpus its split in corpora.<name>.split")
        corpora[train[0]] = dict(corpora.get(train[0]) or {}, split=split)
    for name, spec in corpora.items():  # the paper's LOSO: all other speakers train, no dev speaker
        declared = dict(spec.get("split") or {})
        if declared.get("method") == "loso" and "dev" not in declared:
            corpora[name] = dict(spec, split=dict(declared, dev=LOSO_DEV))
    used = train + [name for name in evals if name not in train]
    declarations = declare_corpora(corpora, data_folder, names=used)
    if len(train) == 1 or split_file:  # a single training corpus: the corpus root may be data_folder
        declarations.update(declare_corpora(corpora, data_folder, names=train, split_file=split_file))
    return declarations


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


def label_table(corpus, records, label_key, problems):
    """``{class: canonical emotion}`` of one corpus: what cross-corpus scoring compares (Table III).

    The classes are the records' ``label_key`` values (the corpus's own labels with ``label``); a class seen
    with two emotions keeps the commoner, noted in ``problems``.

    Example
    -------
    >>> recs = [{"label": "W", "emotion": "angry"}, {"label": "T", "emotion": "sad"}, {"label": "T", "emotion": "sad"}]
    >>> label_table("emodb", recs, "label", [])
    {'T': 'sad', 'W': 'angry'}
    """
    votes = {}
    for record in records:
        votes.setdefault(str(record[label_key]), Counter())[record["emotion"]] += 1
    table = {}
    for label, counts in sorted(votes.items()):
        table[label] = counts.most_common(1)[0][0]
        if len(counts) > 1:
            problems.append(f"{corpus}: label '{label}' has emotions {dict(counts)}; '{table[label]}' kept")
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


def _manifest_records(data, part):
    # One partition's records as the manifests hold them: ids qualified by the corpus, the head's class.
    key = data.declaration.label_key
    return [dict(record, id=f"{data.name}/{record['id']}", utt_id=record["id"], target=str(record[key]))
            for record in data.partition(part)]


def prepare_emotion_embeddings(
    declarations,
    save_folder,
    train_corpora,
    eval_corpora=None,
    fold=1,
    seed=0,
    balance=True,
    split_folder=None,
    skip_prep=False,
):
    """Read and split the declared corpora, oversample training and dev sets, write the manifests.

    Writes, per corpus, ``<corpus>/train.json`` and ``<corpus>/valid.json`` (training corpora, oversampled to
    the largest corpus when ``balance``; ``valid.json`` is ``{}`` when the split has no dev set) and
    ``<corpus>/test.json`` (evaluation corpora, never oversampled), with ``{data_root}`` placeholders;
    ``labels.json`` (``{corpus: {class: emotion}}``), ``split.json`` (``{corpus: CorpusData.split_info()}``) and
    ``problems.txt``; and each corpus's split as a split file ``<split_folder>/splits/<corpus>.json``. Manifest
    ids are ``<corpus>/<utterance id>``. Skips the work when the saved options match.

    Arguments
    ---------
    declarations : dict
        ``{name: CorpusDeclaration}`` of every corpus used (:func:`run_declarations`).
    save_folder : str
        Where the manifests go.
    train_corpora : list of str
        Corpora trained on (one head each).
    eval_corpora : list of str, optional
        Corpora whose test sets are written (cross-corpus evaluation); default ``train_corpora``.
    fold : int
        The fold of each corpus's split.
    seed : int
        Seeds the splits' draws and the oversampling.
    balance : bool
        Oversample training and dev sets (Section III-D).
    split_folder : str, optional
        Where ``splits/<corpus>.json`` go (the run's output folder; default ``save_folder``).
    skip_prep : bool
        Do nothing.

    Returns
    -------
    dict
        ``{"train": {corpus: path}, "valid": {...}, "test": {...}, "labels", "split": path, "splits": {corpus:
        split file}, "roots": {corpus: its folder}}``.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp(); _ = write_corpus("emodb", root); _ = write_corpus("cafe", root)
    >>> paper = {"emodb": {"label_key": "label", "split": {"dev_speakers": ["emodb_11", "emodb_13"],
    ...                                                    "test_speakers": ["emodb_15", "emodb_16"]}}}
    >>> decls = run_declarations(paper, root, ["emodb", "cafe"])
    >>> paths = prepare_emotion_embeddings(decls, os.path.join(root, "prep"), ["emodb", "cafe"])
    [EmotionEmbeddings prep] manifests written to .../prep (entries: emodb 151, cafe 162)
    >>> {c: len(json.load(open(p))) for c, p in paths["train"].items()}   # oversampled to the larger
    {'emodb': 84, 'cafe': 84}
    >>> labels = json.load(open(paths["labels"]))   # EmoDB's own labels; CaFE's canonical emotions (the default)
    >>> labels["emodb"]["W"], sorted(labels["cafe"])[:3], sorted(os.listdir(os.path.join(root, "prep", "splits")))
    ('angry', ['angry', 'disgust', 'fear'], ['cafe.json', 'emodb.json'])
    """
    train_corpora = list(train_corpora)
    eval_corpora = list(train_corpora) if eval_corpora is None else list(eval_corpora)
    used = train_corpora + [name for name in eval_corpora if name not in train_corpora]
    unknown = [name for name in used if name not in declarations]
    if unknown:
        raise EmoLobesError(f"corpora {', '.join(unknown)} have no declaration", "declare them with run_declarations")
    split_folder = save_folder if split_folder is None else split_folder
    options = {
        "corpora": {name: declarations[name].as_dict() for name in used}, "train_corpora": train_corpora,
        "eval_corpora": eval_corpora, "fold": int(fold), "seed": seed, "balance": bool(balance),
        "split_folder": os.path.abspath(split_folder),
    }
    paths = {"train": {}, "valid": {}, "test": {}}
    outputs = output_files(train_corpora, eval_corpora)
    for name in used:
        for part in ("train", "valid", "test"):
            if f"{name}/{part}.json" in outputs:
                paths[part][name] = os.path.join(save_folder, name, f"{part}.json")
    paths.update(labels=os.path.join(save_folder, "labels.json"), split=os.path.join(save_folder, "split.json"),
                 splits={name: os.path.join(split_folder, "splits", f"{name}.json") for name in used},
                 roots={name: declarations[name].folder for name in used})
    if skip_prep or prep_is_current(save_folder, options, outputs + list(paths["splits"].values())):
        return paths
    chosen = {name: declarations[name] for name in used}
    check_corpus_folders(chosen)
    for declaration in chosen.values():
        assert_not_inside(save_folder, declaration.folder)
        assert_not_inside(split_folder, declaration.folder)
    check_output_folder_writable(save_folder)
    problems, labels, split_info, partitions = [], {}, {}, {"train": {}, "dev": {}, "test": {}}
    for name in used:
        data = load_corpus_split(chosen[name], fold=fold, seed=seed)
        problems += [f"{name}: {problem}" for problem in data.problems] + list(data.split["warnings"])
        labels[name] = label_table(name, data.records, data.declaration.label_key, problems)
        split_info[name] = data.split_info()
        for part in partitions:
            partitions[part][name] = _manifest_records(data, part)
        data.write_split(split_folder)
    with_dev = [name for name in train_corpora if partitions["dev"][name]]
    if with_dev and len(with_dev) < len(train_corpora):
        without = [name for name in train_corpora if name not in with_dev]
        raise EmoLobesError(f"corpora {', '.join(with_dev)} have a dev set but {', '.join(without)} have none",
                            "give every training corpus a dev set, or every one dev: none (the last epoch is "
                            "then tested)")
    for part in ("train", "dev"):
        kept = {name: partitions[part][name] for name in train_corpora}
        partitions[part] = oversample(kept, seed=seed) if balance and (part == "train" or with_dev) else kept
    for part in ("train", "dev", "test"):
        for name, path in paths[MANIFEST_OF_PART[part]].items():
            records = [dict(record, source_id=record.get("source_id", record["id"]))
                       for record in partitions[part][name]]
            if records:
                write_manifest(records, path, fields=MANIFEST_FIELDS)
            else:  # dev: none
                write_json_atomic({}, path)
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
    parser.add_argument("--data_folder", required=True, help="the folder holding the corpus folders")
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--train_corpora", nargs="+", required=True)
    parser.add_argument("--eval_corpora", nargs="*", default=None)
    parser.add_argument("--corpora", default="{}", help="declarations, YAML: '{emodb: {label_key: label}}'")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    declarations = run_declarations(yaml.safe_load(args.corpora), args.data_folder, args.train_corpora,
                                    args.eval_corpora)
    paths = prepare_emotion_embeddings(declarations, args.save_folder, args.train_corpora, args.eval_corpora,
                                       fold=args.fold, seed=args.seed)
    print(json.dumps(paths, indent=2))


if __name__ == "__main__":
    sys.exit(main())
