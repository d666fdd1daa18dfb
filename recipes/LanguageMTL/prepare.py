"""Language-ID MTL data prep: the paper's five emotions where each corpus has them, one manifest set per corpus.

Run (normally called by train.py under run_on_main):
    python recipes/LanguageMTL/prepare.py --data_folder=synthetic_data --save_folder=results/LanguageMTL/prep \
        --corpora emodb savee emovo iemocap ravdess

The corpora, their folders, classes and splits are the hparams' declarations (``corpora: {name: {parser, folder,
options, emotions, merge, split}}``, read by :mod:`emo_lobes.data.declarations`; see the root README, "Data and
splits"): class selection, merging, splitting and manifests are the shared ones. What this recipe adds is the
paper's class set (Section 4.1: "5 emotions common in all datasets i.e. happy, sad, fear, anger and neutral"),
applied to any corpus where the corpus has them, with MASC's elation and panic (Table 1) as happy and fear.

Per corpus it writes, in ``save_folder``, ``<corpus>/{train,valid,test}.json`` (SpeechBrain manifests, wav as
``{data_root}/<path>``; ``{}`` for an empty partition, e.g. ``dev: none``), ``<corpus>/split.json`` (classes,
what was dropped, the split's info) and ``<corpus>/problems.txt``, and ``splits/<corpus>.json`` (the split used,
in split-file form: ``--split_file`` reads it back).
"""
import argparse
import json
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.data.declarations import (  # noqa: E402
    check_corpus_folders, copy_run_splits, declare_corpora, load_corpus_split,
)
from emo_lobes.data.manifest import (  # noqa: E402
    assert_not_inside, check_output_folder_writable, prep_is_current, save_prep_options, write_json_atomic,
    write_manifest, write_problems_report,
)
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402

#: The five emotions common to all corpora (Section 4.1), in the paper's order: the model's output order.
EMOTION_CLASSES = ("happy", "sad", "fear", "angry", "neutral")
#: The paper's merges into those classes: MASC's elation and panic (Table 1). The canonical ``emotion`` of the CSV
#: importer already names them happy and fear; these also hold for a declaration with ``label_key: label``. A
#: declaration's own ``merge`` is applied on top (``corpora.iemocap.merge: {excited: happy}`` counts IEMOCAP's
#: excited as happy).
PAPER_MERGE = {"elation": "happy", "panic": "fear"}
#: Arousal levels, as some corpora label their utterances (BAVED): not emotion categories.
AROUSAL_LEVELS = {"low", "medium", "neutral", "high"}
#: Manifest name -> partition of the split.
PARTS = {"train": "train", "valid": "dev", "test": "test"}
MANIFEST_FIELDS = ("duration", "sample_rate", "speaker", "gender", "corpus", "language", "label", "emotion")
PREP_VERSION = 2


def recipe_declarations(corpora, data_folder, names, split_file=None, default_split=None, split=None,
                        classes=EMOTION_CLASSES):
    """The declarations of the corpora a run uses, with the recipe's merges and split for what they do not give.

    Arguments
    ---------
    corpora : dict
        The hparams' ``corpora``.
    data_folder : str
        Where the corpus folders are (in a single-corpus run, possibly the corpus root).
    names : list of str
        The corpora the run uses; a name without a declaration is read by the parser of that name.
    split_file : str, optional
        ``--split_file``: replaces the split of a single-corpus run.
    default_split : dict, optional
        The split of a corpus whose declaration gives none.
    classes : sequence of str
        The run's classes (hparam ``emotion_classes``; the paper's five by default): a declaration's listed
        classes must be among them.

    Returns
    -------
    dict
        ``{name: CorpusDeclaration}``; ``emotions`` is ``None`` unless the declaration lists classes (otherwise the
        run's classes are kept where the corpus has them, see :func:`class_filter`).

    Example
    -------
    >>> import tempfile
    >>> decls = recipe_declarations({"iemocap": {"merge": {"excited": "happy"}}}, tempfile.mkdtemp(),
    ...                             ["iemocap", "ravdess"], default_split={"method": "holdout", "n_test": 2})
    >>> decls["iemocap"].merge == {"elation": "happy", "panic": "fear", "excited": "happy"}
    True
    >>> decls["ravdess"].split, decls["ravdess"].emotions, os.path.basename(decls["ravdess"].folder)
    ({'method': 'holdout', 'n_test': 2}, None, 'RAVDESS')
    """
    corpora = {name: dict(spec or {}) for name, spec in dict(corpora or {}).items()}
    for spec in corpora.values():
        if spec.get("merge") is not None:
            spec["merge"] = dict(PAPER_MERGE, **dict(spec["merge"]))
    defaults = {str(name): {"merge": dict(PAPER_MERGE), "split": default_split} for name in names}
    declarations = declare_corpora(corpora, data_folder, names, split_file=split_file, defaults=defaults, split=split)
    for name, decl in declarations.items():
        extra = [cls for cls in decl.emotions or () if cls not in classes]
        if extra:
            raise EmoLobesError(
                f"corpora.{name}.emotions lists {', '.join(extra)}, not among the run's classes "
                f"({', '.join(classes)}: hparam emotion_classes)",
                f"list classes among those, or map yours onto them with corpora.{name}.merge",
            )
    return declarations


def used_corpora(hparams):
    """The corpora a run reads: training, test and fine-tuning corpora, each once, in that order.

    Example
    -------
    >>> used_corpora({"train_corpora": ["iemocap"], "test_corpora": ["iemocap", "emodb"]})
    ['iemocap', 'emodb']
    """
    return list(dict.fromkeys(list(hparams["train_corpora"]) + list(hparams["test_corpora"])
                              + list(hparams.get("finetune_corpora") or [])))


def run_declarations(hparams):
    """The declarations of the run's corpora (``corpora``, ``data_folder``, ``split_file``, ``split``, ``default_split``).

    Example
    -------
    >>> import tempfile
    >>> hp = {"corpora": {"masc": {"parser": "csv", "folder": "MASC"}}, "data_folder": tempfile.mkdtemp(),
    ...       "split_file": None, "default_split": {"method": "holdout"}, "train_corpora": ["masc", "ravdess"],
    ...       "test_corpora": ["masc"]}
    >>> [(d.name, d.parser) for d in run_declarations(hp).values()]
    [('masc', 'csv'), ('ravdess', 'ravdess')]
    """
    return recipe_declarations(hparams["corpora"], hparams["data_folder"], used_corpora(hparams),
                               split_file=hparams.get("split_file"), default_split=hparams.get("default_split"),
                               split=hparams.get("split"), classes=emotion_classes(hparams))


def emotion_classes(hparams):
    """The run's classes, in the model's output order: hparam ``emotion_classes``, else the paper's five.

    Example
    -------
    >>> emotion_classes({}), emotion_classes({"emotion_classes": ["angry", "excited", "neutral", "sad"]})[1]
    (('happy', 'sad', 'fear', 'angry', 'neutral'), 'excited')
    """
    return tuple(str(cls) for cls in (hparams.get("emotion_classes") or EMOTION_CLASSES))


def class_filter(declaration, dropped=None, classes=EMOTION_CLASSES):
    """The record filter that keeps the run's classes (the paper's five by default) where the corpus has them
    (``None`` when the declaration lists its own classes: those are kept as listed, and one the corpus lacks is an
    error).

    Arguments
    ---------
    declaration : CorpusDeclaration
        The corpus.
    dropped : Counter, optional
        Filled with the classes left out and their counts.
    classes : sequence of str
        The run's classes.

    Returns
    -------
    callable or None
        ``records -> records`` for :func:`emo_lobes.data.declarations.load_corpus_split`.

    Example
    -------
    >>> from emo_lobes.data.declarations import CorpusDeclaration
    >>> recs = [{"id": str(i), "emotion": e} for i, e in enumerate(["angry", "elation", "boredom", "sad"])]
    >>> dropped = Counter()
    >>> keep = class_filter(CorpusDeclaration("masc", "csv", "/d", merge=PAPER_MERGE), dropped)
    >>> [r["emotion"] for r in keep(recs)], dict(dropped)   # as parsed: read_corpus merges them, once
    (['angry', 'elation', 'sad'], {'boredom': 1})
    >>> levels = [{"id": str(i), "emotion": e} for i, e in enumerate(["low", "neutral", "high"])]
    >>> try:
    ...     keep(levels)
    ... except EmoLobesError as err:
    ...     print(err.problem)
    corpus masc is labelled high, low, neutral (arousal levels, not emotion categories): it has 1 of the run's 5 emotions (neutral)
    """
    if declaration.emotions is not None:
        return None
    name, key, wanted = declaration.name, declaration.label_key, tuple(classes)

    def keep(records):
        found = Counter(str(declaration.merge.get(str(r[key]), r[key])) for r in records if key in r)
        present = [cls for cls in wanted if found[cls]]
        if len(present) < 2:
            kind = (" (arousal levels, not emotion categories)"
                    if set(found) <= AROUSAL_LEVELS and set(found) - {"neutral"} else "")
            raise EmoLobesError(
                f"corpus {name} is labelled {', '.join(sorted(found)) or 'with nothing'}{kind}: it has "
                f"{len(present)} of the run's {len(wanted)} emotions ({', '.join(present) or 'none'})",
                f"this run classifies {', '.join(wanted)}: use a corpus labelled with them, or map its "
                f"classes onto them with corpora.{name}.merge",
            )
        if dropped is not None:
            dropped.update({cls: n for cls, n in found.items() if cls not in present})
        # The records are returned as parsed: class selection (read_corpus) merges them once after this filter, so
        # a chained merge ({a: b, b: c}) takes a to b, not on to c.
        return [record for record in records
                if key not in record or str(declaration.merge.get(str(record[key]), record[key])) in present]

    return keep


def corpus_manifests(save_folder, corpus):
    """Paths of one corpus's manifests, ``{"train", "valid", "test"}``.

    Example
    -------
    >>> corpus_manifests("prep", "emodb")["valid"]
    'prep/emodb/valid.json'
    """
    return {part: os.path.join(save_folder, corpus, f"{part}.json") for part in PARTS}


def read_corpus_info(save_folder, corpus):
    """What prep recorded of one corpus (``<save_folder>/<corpus>/split.json``): ``labels``, ``dropped``, ``split``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp(); os.makedirs(os.path.join(folder, "emodb"))
    >>> _ = write_json_atomic({"labels": ["sad", "angry"]}, os.path.join(folder, "emodb", "split.json"))
    >>> read_corpus_info(folder, "emodb")["labels"]
    ['sad', 'angry']
    """
    path = os.path.join(save_folder, corpus, "split.json")
    if not os.path.isfile(path):
        raise EmoLobesError(f"{path} does not exist", "run the data preparation (skip_prep: False)")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def prepare_language_mtl(declarations, save_folder, fold=1, seed=0, output_folder=None, skip_prep=False,
                         classes=EMOTION_CLASSES):
    """Read each declared corpus, keep its classes, split it and write its manifests and split.

    Nothing is rewritten when the saved options (the declarations, fold, seed) match. The split of each corpus is
    also copied to ``<output_folder>/splits/<corpus>.json`` when ``output_folder`` is given.

    Arguments
    ---------
    declarations : dict
        ``{name: CorpusDeclaration}`` from :func:`recipe_declarations`.
    save_folder : str
        Output folder (outside every data folder).
    fold : int
        The fold of each corpus's split.
    seed : int
        Seeds the split draws.
    output_folder : str, optional
        The run's folder, which gets a copy of each split.
    skip_prep : bool
        Do nothing but the copies.
    classes : sequence of str
        The run's classes (:func:`emotion_classes`), kept where each corpus has them.

    Returns
    -------
    dict
        ``{corpus: manifest paths}``.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp(); _ = write_corpus("emodb", root)
    >>> decls = recipe_declarations({}, root, ["emodb"], default_split={"method": "holdout", "n_test": 1, "n_dev": 0})
    >>> paths = prepare_language_mtl(decls, os.path.join(root, "prep"), output_folder=os.path.join(root, "run"))
    [prep] emodb: 5 of the 5 classes; train 90, dev 0, test 10
    >>> test, dev = (json.load(open(paths["emodb"][part])) for part in ("test", "valid"))
    >>> len(test), len(dev), sorted({entry["emotion"] for entry in test.values()})
    (10, 0, ['angry', 'fear', 'happy', 'neutral', 'sad'])
    >>> os.listdir(os.path.join(root, "run", "splits"))
    ['emodb.json']
    """
    names = list(declarations)
    paths = {name: corpus_manifests(save_folder, name) for name in names}
    options = {"version": PREP_VERSION, "classes": list(classes), "fold": int(fold), "seed": int(seed),
               "corpora": {name: decl.as_dict() for name, decl in declarations.items()}}  # given splits' digests too
    outputs = [path for name in names for path in paths[name].values()]
    outputs += [os.path.join(save_folder, name, "split.json") for name in names]
    outputs += [os.path.join(save_folder, "splits", f"{name}.json") for name in names]
    if not skip_prep and not prep_is_current(save_folder, options, outputs):
        check_corpus_folders(declarations)
        for decl in declarations.values():
            assert_not_inside(save_folder, decl.folder)
        check_output_folder_writable(save_folder)
        for name, decl in declarations.items():
            _prepare_corpus(decl, paths[name], save_folder, fold, seed, tuple(classes))
        save_prep_options(save_folder, options)
    if output_folder is not None:
        copy_run_splits(save_folder, output_folder)
    return paths


def _prepare_corpus(decl, paths, save_folder, fold, seed, classes):
    # One corpus: classes, split, manifests, split info, problems report, split file.
    dropped = Counter()
    data = load_corpus_split(decl, fold, seed, record_filter=class_filter(decl, dropped, classes))
    labels = [cls for cls in classes if cls in data.labels]
    for manifest, part in PARTS.items():
        records = data.partition(part)
        if records:
            write_manifest(records, paths[manifest], fields=list(MANIFEST_FIELDS))
        else:  # dev: none (or a split file with an empty dev list)
            write_json_atomic({}, paths[manifest])
    counts = {part: dict(Counter(r["emotion"] for r in records)) for part, records in data.partitions.items()}
    info = {"corpus": decl.name, "labels": labels, "missing_classes": [c for c in classes if c not in labels],
            "dropped_classes": dict(sorted(dropped.items())), "counts": counts, "split": data.split_info()}
    write_json_atomic(info, os.path.join(save_folder, decl.name, "split.json"))
    write_problems_report(data.problems, os.path.join(save_folder, decl.name, "problems.txt"))
    data.write_split(save_folder)
    sizes = ", ".join(f"{part} {len(ids)}" for part, ids in ((p, data.split[p]) for p in PARTS.values()))
    lacks = f" (no {', '.join(info['missing_classes'])})" if info["missing_classes"] else ""
    print(f"[prep] {decl.name}: {len(labels)} of the {len(classes)} classes{lacks}; {sizes}", flush=True)


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True, help="folder holding the corpora in their usual names")
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--corpora", nargs="+", default=["emodb", "savee", "emovo", "iemocap"],
                        help="corpus (parser) names; a CSV corpus needs train.py and a declaration")
    parser.add_argument("--split_file", default=None, help="a split file (single corpus)")
    parser.add_argument("--n_test", type=int, default=1, help="held-out test speakers per corpus")
    parser.add_argument("--n_dev", type=int, default=0, help="dev speakers per corpus (0: no dev set, the paper)")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    split = {"method": "holdout", "n_test": args.n_test, "n_dev": args.n_dev}
    declarations = recipe_declarations({}, args.data_folder, args.corpora, args.split_file, split)
    prepare_language_mtl(declarations, args.save_folder, fold=args.fold, seed=args.seed)
    for name in declarations:
        print(json.dumps(read_corpus_info(args.save_folder, name)["split"], indent=1))


if __name__ == "__main__":
    main()
