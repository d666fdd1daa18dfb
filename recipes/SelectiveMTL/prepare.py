"""Data preparation of the selective MTL recipe: an acted and a spontaneous corpus, 4 classes, one fold's manifests.

Run (normally called by train.py under run_on_main):
    python recipes/SelectiveMTL/prepare.py recipes/SelectiveMTL/hparams/selective_mtl.yaml \
        --data_folder=synthetic_data --output_folder=results/SelectiveMTL/prep_check --fold=1

The corpora, their classes and splits are the hparams' declarations (``corpora: {name: {parser, folder, options,
emotions, merge, split}}``, read by :mod:`emo_lobes.data.declarations`: class selection, merging and splitting are
the shared ones). What this file adds is the paper's:

- each corpus's **style** (Section 2.2, the auxiliary task's label): ``corpora.<name>.style`` when declared, else
  the style its parser gives every record (IEMOCAP: acted; a CSV corpus: its ``style`` column);
- the **cleaning of spontaneous corpora** (Section 3.2), a record filter run before class selection: utterances
  whose annotators all disagree, shorter than ``spont_min_duration`` or with a filler transcript are dropped,
  then neutral is capped at ``spont_max_neutral`` random utterances (2000 in the paper);
- the **"(half)"** training sets of Table 3: a random half of the combined training set, after splitting.

Per fold it writes, in ``save_folder``, ``{train,dev,test}_<corpus>.json`` (one SpeechBrain manifest per corpus,
with the corpus's own ``{<corpus>_root}`` placeholder; ``{}`` for an empty partition, e.g. ``dev: none``),
``splits/<corpus>.json`` (the split used, in split-file form), ``prep_summary.json`` (class counts, what each
filter dropped, partition sizes, split info) and ``problems.txt``, and prints the Table 1 counts.
"""
import argparse
import json
import os
import random
import re
import sys
from collections import Counter

from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.data.declarations import (  # noqa: E402
    CorpusData, PARTITIONS, check_corpus_folders, copy_run_splits, declare_corpora, load_corpus_split,
)
from emo_lobes.data.labels import canonical_emotion  # noqa: E402
from emo_lobes.data.manifest import (  # noqa: E402
    assert_not_inside, check_output_folder_writable, prep_is_current, save_prep_options, write_json_atomic,
    write_manifest, write_problems_report,
)
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402

#: The 4 classes, in the order of Table 1 (Anger, Sadness, Happiness, Neutral).
EMOTIONS = ("angry", "sad", "happy", "neutral")
#: The styles of the auxiliary task (Section 3: ACT and SPON), in the style head's order.
STYLES = ("acted", "spontaneous")
#: The paper's data for corpora a run names without declaring them (IEMOCAP: Section 3.1 and 4.1; any other
#: corpus: the 4 classes, 5 speaker folds); no dev set (Section 4.1: 100 epochs, the last one tested).
PAPER_DEFAULTS = {
    "iemocap": {"emotions": list(EMOTIONS), "merge": {"excited": "happy"},
                "split": {"method": "loso_session", "dev": "none"}},
}
OTHER_CORPUS_DEFAULTS = {"emotions": list(EMOTIONS), "split": {"method": "speaker_kfold", "k": 5, "dev": "none"}}
#: The paper's counts after the 4-class mapping (Table 1), printed beside ours for corpora of these names.
PAPER_COUNTS = {
    "iemocap": {"angry": 1103, "sad": 1084, "happy": 1636, "neutral": 1708},
    "spont": {"angry": 3029, "sad": 692, "happy": 876, "neutral": 2000},
}
MANIFEST_FIELDS = ["duration", "sample_rate", "emotion", "corpus", "style", "speaker"]
#: Reasons the spontaneous filter drops an utterance, in the order they are checked.
DROP_REASONS = ("all_annotators_disagree", "shorter_than_min_duration", "filler_transcript", "neutral_over_cap")
PREP_VERSION = 2


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


def split_styles(corpora):
    """Take the recipe's ``style`` key out of the hparams' corpus declarations.

    Arguments
    ---------
    corpora : dict
        The hparams' ``corpora`` (``{name: {parser, folder, ..., style}}``).

    Returns
    -------
    tuple
        ``(declarations without style, {name: declared style})``.

    Example
    -------
    >>> split_styles({"calls": {"parser": "csv", "style": "spontaneous"}, "iemocap": {}})
    ({'calls': {'parser': 'csv'}, 'iemocap': {}}, {'calls': 'spontaneous'})
    """
    plain, styles = {}, {}
    for name, spec in dict(corpora or {}).items():
        spec = dict(spec or {})
        if spec.get("style") is not None:
            styles[str(name)] = str(spec["style"])
        spec.pop("style", None)
        plain[str(name)] = spec
    return plain, styles


def recipe_declarations(corpora, data_folder, corpus=None, split_file=None, split=None):
    """The run's corpus declarations, with the paper's classes and splits for corpora named but not declared.

    Arguments
    ---------
    corpora : dict
        The hparams' ``corpora`` (``style`` keys allowed).
    data_folder : str
        Where the corpus folders are (a single-corpus run's corpus root also works).
    corpus : str, optional
        A single-corpus run (the baselines): the one corpus used; default: every declared corpus.
    split_file : str, optional
        A split file for a single-corpus run.

    Returns
    -------
    tuple
        ``({name: CorpusDeclaration}, {name: declared style})``.

    Example
    -------
    >>> import tempfile
    >>> decls, styles = recipe_declarations({}, tempfile.mkdtemp(), corpus="iemocap")
    >>> decls["iemocap"].merge, decls["iemocap"].split["method"], styles
    ({'excited': 'happy'}, 'loso_session', {})
    """
    plain, styles = split_styles(corpora)
    names = [str(corpus)] if corpus else None
    defaults = {}
    for name in names or list(plain):
        parser = plain.get(name, {}).get("parser") or name
        defaults[name] = PAPER_DEFAULTS.get(name) or PAPER_DEFAULTS.get(parser) or OTHER_CORPUS_DEFAULTS
    return declare_corpora(plain, data_folder, names, split_file, defaults, split=split), styles


def corpus_style(name, records, declared=None):
    """The style of a corpus: the declared one, else the one style its records carry.

    Arguments
    ---------
    name : str
        The corpus.
    records : list of dict
        Its parsed records (``style`` where the parser gives it).
    declared : str, optional
        ``corpora.<name>.style``.

    Returns
    -------
    str
        One of :data:`STYLES`.

    Example
    -------
    >>> corpus_style("calls", [{"style": "spontaneous"}, {"style": "spontaneous"}])
    'spontaneous'
    >>> corpus_style("calls", [{"style": "acted"}], declared="spontaneous")
    'spontaneous'
    """
    found = sorted({str(record.get("style") or "") for record in records})
    style = declared if declared is not None else (found[0] if len(found) == 1 and found[0] else None)
    if style not in STYLES:
        given = f"is declared '{declared}'" if declared is not None else f"has records of style {found or 'none'}"
        raise EmoLobesError(f"corpus {name} {given}, not one of {', '.join(STYLES)}",
                            f"declare corpora.{name}.style: acted or spontaneous")
    return style


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
                       filler_transcripts=(), seed=0, merge=None, label_key="emotion"):
    """The paper's cleaning of a spontaneous corpus (Section 3.2), run on parsed records before class selection.

    Order: all-disagree utterances, too-short ones and filler transcripts are dropped, then neutral (after the
    declaration's ``merge``) is capped at ``max_neutral`` random utterances (drawn with ``seed``). Classes are
    selected afterwards, by the declaration.

    Arguments
    ---------
    records : list of dict
        Records of the corpus's parser (``annotations`` and ``text`` optional).
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
    merge : dict, optional
        The declaration's class merges (a class merged into neutral counts as neutral).
    label_key : str
        The record field holding the class.

    Returns
    -------
    tuple
        ``(kept records, {reason: number dropped})``.

    Example
    -------
    >>> recs = [{"id": str(i), "emotion": e, "duration": 2.0, "text": t, "annotations": a} for i, (e, t, a) in
    ...         enumerate([("neutral", "eh", {}), ("neutral", "ok then", {}), ("calm", "fine", {}),
    ...                    ("angry", "no", {"a1": ["sad"], "a2": ["angry"], "a3": ["happy"]}), ("fear", "x", {})])]
    >>> kept, dropped = filter_spontaneous(recs, max_neutral=1, filler_transcripts=["eh"], merge={"calm": "neutral"})
    >>> [r["id"] for r in kept], sorted(reason for reason, n in dropped.items() if n == 1)
    (['2', '4'], ['all_annotators_disagree', 'filler_transcript', 'neutral_over_cap'])
    """
    merge = dict(merge or {})
    fillers = {normalise_transcript(text) for text in filler_transcripts or ()}
    dropped = Counter({key: 0 for key in DROP_REASONS})
    kept = []
    for record in records:
        if drop_all_disagree and annotators_all_disagree(record.get("annotations")):
            dropped["all_annotators_disagree"] += 1
        elif min_duration is not None and record["duration"] < float(min_duration):
            dropped["shorter_than_min_duration"] += 1
        elif fillers and normalise_transcript(record.get("text", "")) in fillers:
            dropped["filler_transcript"] += 1
        else:
            kept.append(dict(record))
    neutral = [r["id"] for r in kept if merge.get(str(r[label_key]), str(r[label_key])) == "neutral"]
    if max_neutral is not None and len(neutral) > int(max_neutral):
        chosen = set(random.Random(seed).sample(sorted(neutral), int(max_neutral)))
        dropped["neutral_over_cap"] = len(neutral) - len(chosen)
        kept = [record for record in kept if record["id"] not in set(neutral) - chosen]
    return kept, dict(dropped)


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


def _class_counts(records, emotions):
    counts = Counter(record["emotion"] for record in records)
    return {emotion: counts.get(emotion, 0) for emotion in emotions}


def corpus_error(name, err, single):
    """A parser's error with the fix in this recipe's terms: in a two-corpus run, the corpus's declaration.

    The parsers name ``--data_folder`` (and ``csv_file=``) in their fixes; with two corpora ``--data_folder``
    holds both, each in its own folder, so the fix names ``corpora.<name>.folder`` (and ``.options.csv_file``).

    Arguments
    ---------
    name : str
        The corpus.
    err : EmoLobesError
        The parser's error.
    single : bool
        Whether the run has this corpus only (then ``--data_folder`` is the right fix).

    Returns
    -------
    EmoLobesError

    Example
    -------
    >>> err = EmoLobesError("csv data folder /x/SPONT is empty", "pass --data_folder=<a folder with a CSV>")
    >>> print(corpus_error("spont", err, single=False))
    spont data folder /x/SPONT is empty. Fix: set corpora.spont.folder to <a folder with a CSV>
    """
    problem = err.problem.replace("csv data folder", f"{name} data folder", 1)
    if name not in problem and not problem.startswith("no IEMOCAP"):
        problem = f"{name} corpus: {problem}"  # e.g. the CSV corpus's metadata file is missing
    fix = err.fix or ""
    if not single:
        fix = fix.replace("pass --data_folder=", f"set corpora.{name}.folder to ").replace(
            "pass csv_file=", f"set corpora.{name}.options.csv_file to ")
    return EmoLobesError(problem, fix)


def print_counts(counts, partition_sizes, styles):
    """Print Table 1 (utterances per class and corpus, the paper's counts beside) and the partition sizes.

    Arguments
    ---------
    counts : dict
        ``{corpus: {emotion: n}}``.
    partition_sizes : dict
        ``{corpus: {partition: n}}``.
    styles : dict
        ``{corpus: style}``.

    Example
    -------
    >>> print_counts({"iemocap": {"angry": 2, "sad": 1, "happy": 3, "neutral": 4}}, {"iemocap": {"train": 8}},
    ...              {"iemocap": "acted"})
    [prep] iemocap (acted): 10 utterances (angry 2, sad 1, happy 3, neutral 4); paper: 5531 (angry 1103, ...)
    [prep] iemocap partitions: train 8
    """
    for corpus, per_class in counts.items():
        ours = ", ".join(f"{emotion} {n}" for emotion, n in per_class.items())
        line = f"[prep] {corpus} ({styles[corpus]}): {sum(per_class.values())} utterances ({ours})"
        if corpus in PAPER_COUNTS:
            paper = PAPER_COUNTS[corpus]
            theirs = ", ".join(f"{emotion} {paper[emotion]}" for emotion in EMOTIONS)
            line += f"; paper: {sum(paper.values())} ({theirs})"
        print(line, flush=True)
        sizes = ", ".join(f"{part} {n}" for part, n in partition_sizes[corpus].items())
        print(f"[prep] {corpus} partitions: {sizes}", flush=True)


def _style_filter(name, declaration, declared_style, spont_options, seed, report):
    # The record filter of one corpus: its style on every record, the spontaneous cleaning where it applies.
    def record_filter(records):
        style = corpus_style(name, records, declared_style)
        records = [dict(record, style=style) for record in records]
        dropped = {}
        if style == "spontaneous":
            records, dropped = filter_spontaneous(records, seed=seed, merge=declaration.merge,
                                                  label_key=declaration.label_key, **spont_options)
        report[name] = {"style": style, "dropped": dropped, "n_filtered": len(records)}
        return records
    return record_filter


def prepare_selective_mtl(
    save_folder, declarations, fold, styles=None, emotions=EMOTIONS, spont_drop_all_disagree=True,
    spont_max_neutral=2000, spont_min_duration=None, spont_filler_transcripts=(), half_training_set=False, seed=0,
    output_folder=None, skip_prep=False,
):
    """Write the manifests of one fold for the declared corpora (see the module docstring for the rules).

    Arguments
    ---------
    save_folder : str
        Where manifests and reports go (never inside a data folder).
    declarations : dict
        ``{name: CorpusDeclaration}`` (:func:`recipe_declarations`): one corpus (baselines) or several.
    fold : int
        The fold of every corpus's split.
    styles : dict, optional
        ``{name: style}`` declared in the hparams (others: the style of the corpus's records).
    emotions : sequence of str
        The model's classes: every corpus's classes must be among them.
    spont_drop_all_disagree, spont_max_neutral, spont_min_duration, spont_filler_transcripts
        See :func:`filter_spontaneous` (applied to the corpora of style spontaneous).
    half_training_set : bool
        Keep a random half of the combined training set (the "(half)" rows of Table 3).
    seed : int
        Seeds every random choice (splits, neutral cap, halving).
    output_folder : str, optional
        The run's output folder: the splits used are copied to ``<output_folder>/splits/<corpus>.json``.
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
    >>> root = tempfile.mkdtemp(); _ = write_corpus("spont", root)
    >>> decls, styles = recipe_declarations({"spont": {"parser": "csv", "folder": "SPONT"}}, root)
    >>> summary = prepare_selective_mtl(os.path.join(root, "prep"), decls, fold=1, spont_filler_transcripts=["eh"])
    [prep] spont (spontaneous): ...
    >>> sorted(os.listdir(os.path.join(root, "prep")))[:3], summary["dropped"]["spont"]["filler_transcript"] > 0
    (['dev_spont.json', 'prep_options.json', 'prep_summary.json'], True)
    """
    if skip_prep:
        return None
    names = list(declarations)
    styles = dict(styles or {})
    spont_options = {
        "drop_all_disagree": bool(spont_drop_all_disagree),
        "max_neutral": None if spont_max_neutral is None else int(spont_max_neutral),
        "min_duration": None if spont_min_duration is None else float(spont_min_duration),
        "filler_transcripts": sorted(spont_filler_transcripts or ()),
    }
    options = {
        "version": PREP_VERSION, "corpora": {name: decl.as_dict() for name, decl in declarations.items()},
        "styles": styles, "emotions": list(emotions), "fold": int(fold), "seed": int(seed),
        "spont": spont_options, "half_training_set": bool(half_training_set),
    }
    outputs = [manifest_name(part, name) for part in PARTITIONS for name in names] + ["prep_summary.json"]
    outputs += [os.path.join("splits", f"{name}.json") for name in names]
    if not prep_is_current(save_folder, options, outputs):
        check_corpus_folders(declarations)
        for decl in declarations.values():
            assert_not_inside(save_folder, decl.folder)
        check_output_folder_writable(save_folder)
        _prepare(save_folder, declarations, fold, styles, emotions, spont_options, half_training_set, seed)
        save_prep_options(save_folder, options)
    with open(os.path.join(save_folder, "prep_summary.json"), encoding="utf-8") as summary_file:
        summary = json.load(summary_file)
    if output_folder is not None:
        copy_run_splits(save_folder, output_folder)  # the run's copy of its splits
    return summary


def _prepare(save_folder, declarations, fold, styles, emotions, spont_options, half_training_set, seed):
    # Read, filter, select, split every corpus; halve; write manifests, splits and the summary.
    single = len(declarations) == 1
    data, report, problems = {}, {}, []
    for name, decl in declarations.items():
        record_filter = _style_filter(name, decl, styles.get(name), spont_options, seed, report)
        try:
            data[name] = load_corpus_split(decl, fold, seed, record_filter=record_filter)
        except EmoLobesError as err:
            raise corpus_error(name, err, single) from None
        extra = sorted(set(data[name].labels) - set(emotions))
        if extra:
            raise EmoLobesError(f"corpus {name} gives classes {', '.join(extra)} the model does not have "
                                f"({', '.join(emotions)})", f"set corpora.{name}.emotions to classes among those")
        problems += [f"{name}: {problem}" for problem in data[name].problems]
    ids = Counter(record["id"] for corpus in data.values() for record in corpus.records)
    clashes = sorted(utt for utt, n in ids.items() if n > 1)
    if clashes:
        raise EmoLobesError(f"utterance ids shared by the corpora (e.g. {clashes[0]})",
                            "rename one corpus's files so that its ids differ from the other's")
    partitions = {name: corpus.partitions for name, corpus in data.items()}
    if half_training_set:
        partitions = halve_training_set(partitions, seed)
    used = {}
    for name, corpus in data.items():
        split = dict(corpus.split)
        if half_training_set:  # the split actually used: the halved training part
            split["train"] = sorted(record["id"] for record in partitions[name]["train"])
            split["train_speakers"] = sorted({str(record["speaker"]) for record in partitions[name]["train"]})
            split["name"] = f"{split['name']}_half"
        used[name] = CorpusData(corpus.declaration, corpus.records, corpus.labels, split, corpus.problems)
        used[name].write_split(save_folder)
        for part in PARTITIONS:
            path = os.path.join(save_folder, manifest_name(part, name))
            if partitions[name][part]:
                write_manifest(partitions[name][part], path, data_root_key=root_key(name), fields=MANIFEST_FIELDS)
            else:  # e.g. dev: none
                write_json_atomic({}, path)
    counts = {name: _class_counts(corpus.records, corpus.labels) for name, corpus in data.items()}
    dropped = {name: dict(report[name]["dropped"], other_class=report[name]["n_filtered"] - len(corpus.records))
               for name, corpus in data.items()}
    sizes = {name: {part: len(partitions[name][part]) for part in PARTITIONS} for name in data}
    summary = {
        "corpora": list(data), "fold": int(fold), "styles": {name: report[name]["style"] for name in data},
        "labels": {name: corpus.labels for name, corpus in data.items()}, "class_counts": counts,
        "paper_class_counts": PAPER_COUNTS, "dropped": dropped, "partition_sizes": sizes,
        "partition_class_counts": {name: {part: _class_counts(partitions[name][part], data[name].labels)
                                          for part in PARTITIONS} for name in data},
        "split": {name: corpus.split_info() for name, corpus in used.items()},
        "half_training_set": bool(half_training_set),
    }
    write_json_atomic(summary, os.path.join(save_folder, "prep_summary.json"))
    write_problems_report(problems, os.path.join(save_folder, "problems.txt"))
    print_counts(counts, sizes, summary["styles"])
    return summary


def prepare_options(hparams):
    """The keyword arguments of :func:`prepare_selective_mtl` from the loaded hparams (declarations resolved).

    Example
    -------
    >>> import tempfile
    >>> hp = {"corpora": {"calls": {"parser": "csv", "folder": "Calls", "style": "spontaneous"}}, "corpus": None,
    ...       "data_folder": tempfile.mkdtemp(), "split_file": None, "emotions": list(EMOTIONS), "fold": 2,
    ...       "prep_folder": "p", "output_folder": "o", "seed": 1, "half_training_set": False, "skip_prep": False,
    ...       "spont_drop_all_disagree": True, "spont_max_neutral": 2000, "spont_min_duration": None,
    ...       "spont_filler_transcripts": []}
    >>> options = prepare_options(hp)
    >>> list(options["declarations"]), options["styles"], options["save_folder"]
    (['calls'], {'calls': 'spontaneous'}, 'p')
    """
    declarations, styles = recipe_declarations(hparams["corpora"], hparams["data_folder"], hparams.get("corpus"),
                                               hparams.get("split_file"), hparams.get("split"))
    options = {"save_folder": hparams["prep_folder"], "declarations": declarations, "styles": styles,
               "output_folder": hparams["output_folder"]}
    for key in ("fold", "emotions", "spont_drop_all_disagree", "spont_max_neutral", "spont_min_duration",
                "spont_filler_transcripts", "half_training_set", "seed", "skip_prep"):
        options[key] = hparams[key]
    return options


@cli_errors
def main(argv=None):
    from emo_lobes.training.hparams_check import load_hparams_checked

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hparams_file")
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--fold", type=int, default=1)
    args = parser.parse_args(argv)
    hparams = load_hparams_checked(args.hparams_file, {"data_folder": args.data_folder,
                                                       "output_folder": args.output_folder, "fold": args.fold})
    prepare_selective_mtl(**prepare_options(hparams))


if __name__ == "__main__":
    main()
