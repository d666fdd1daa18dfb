"""MLEE data prep: declared IEMOCAP improvised -> one fold's manifests with dominant, existence, soft targets.

Run (normally called by train.py under run_on_main):
    python recipes/MLEE/prepare.py recipes/MLEE/hparams/mlee.yaml --data_folder=/path/IEMOCAP_full_release \
        --output_folder=results/MLEE/prep_check --fold=1

The corpus, its classes and its split come from the hparams' declaration (``corpus: iemocap`` and
``corpora.iemocap: {parser, folder, options, label_key, emotions, merge, split}``, read by
:mod:`emo_lobes.data.declarations`; ``--split_file`` replaces the split). What this file adds is the paper's:
improvised utterances only (Section 4.1, a record filter before class selection), the targets from the annotators
(dominant code, existence vector of eq. 5, soft target of eq. 4), the ``dominant`` / ``all`` training sets,
dominant-only dev and test sets, and the speed-perturbed training copies.
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
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.lobes.existence import (  # noqa: E402
    SOFT_TARGET_ALPHA, TARGET_CODES, annotator_counts, existence_ratios, existence_vector, soft_target,
)
from emo_lobes.data.manifest import (  # noqa: E402
    assert_not_inside, check_output_folder_writable, prep_is_current, save_prep_options, write_json_atomic,
    write_manifest, write_problems_report, write_text_atomic,
)
from emo_lobes.evaluation.tables import markdown_table  # noqa: E402

#: IEMOCAP's consensus codes that are not a target: one class, ``other`` (the paper's "others", Section 4.1).
OTHER_CODES = ("exc", "fru", "sur", "fea", "dis", "oth", "xxx")
#: The paper's data for a corpus named without a declaration (IEMOCAP, Section 4.1): the consensus codes, the four
#: targets and the rest as ``other``; leave-one-speaker-out, dev = the test speaker's session partner; folds whose
#: dev speaker lacks a class are kept (min_per_class 0: dev and test hold the dominant utterances they have).
PAPER_DEFAULTS = {
    "iemocap": {"label_key": "label", "emotions": list(TARGET_CODES) + ["other"],
                "merge": {code: "other" for code in OTHER_CODES},
                "split": {"method": "loso", "dev": "session_partner", "min_per_class": 0}},
}
#: Training sets of the paper (Section 4.1): utterances with a dominant target emotion, or every utterance.
TRAINING_SETS = ("dominant", "all")
#: Files written per fold (``splits/<corpus>.json`` too).
OUTPUTS = ("train_dominant.json", "train_all.json", "dev.json", "test.json", "split.json", "existence_ratios.md")
#: Table 1 of the paper (% of utterances in which each target exists), printed beside ours.
PAPER_TABLE1 = {"dominant": [58.2, 15.4, 30.5, 15.9], "all": [45.2, 24.0, 19.8, 17.8]}
#: Dominant counts the paper reports for the real corpus's improvised utterances (Section 4.1).
PAPER_DOMINANT_COUNTS = {"neu": 1099, "hap": 284, "sad": 608, "ang": 289, "other": 2504}
PREP_VERSION = 2


def mlee_entry(record, alpha=SOFT_TARGET_ALPHA):
    """The manifest fields of one IEMOCAP record: dominant target, existence (eq. 5) and soft target (eq. 4).

    Arguments
    ---------
    record : dict
        A parsed IEMOCAP record (``label`` is the consensus code, ``annotations`` the evaluators' words).
    alpha : float
        Soft-target smoothing.

    Returns
    -------
    dict
        The record's ``id``, ``wav``, ``duration``, ``speaker``, ``corpus``, ``label`` plus ``dominant`` (a target
        code or ``other``), ``hard_index`` (0-3, or -1 without a dominant target), ``existence`` (4 ints),
        ``soft_target`` (4 floats), ``target_votes`` (annotators per target) and ``speed`` (1.0).

    Example
    -------
    >>> rec = {"id": "Ses01F_impro01_F000", "wav": "a.wav", "duration": 2.0, "speaker": "Ses01F", "label": "neu",
    ...        "corpus": "iemocap",
    ...        "annotations": {"C-E1": ["Neutral"], "C-E2": ["Neutral", "Sadness"], "C-E3": ["Frustration"]}}
    >>> entry = mlee_entry(rec)
    >>> entry["dominant"], entry["hard_index"], entry["existence"], entry["target_votes"]
    ('neu', 0, [1, 0, 1, 0], [2, 0, 1, 0])
    >>> [round(q, 3) for q in entry["soft_target"]]
    [0.458, 0.125, 0.292, 0.125]
    """
    label = record["label"]
    return {
        "id": record["id"],
        "wav": record["wav"],
        "duration": record["duration"],
        "speaker": record["speaker"],
        "corpus": record["corpus"],
        "label": label,
        "dominant": label if label in TARGET_CODES else "other",
        "hard_index": TARGET_CODES.index(label) if label in TARGET_CODES else -1,
        "existence": existence_vector(record["annotations"]),
        "soft_target": soft_target(record["annotations"], alpha=alpha),
        "target_votes": annotator_counts(record["annotations"]),
        "speed": 1.0,
    }


def speed_perturbed_copies(entries, speed_factors):
    """The entries followed by one added copy per speed factor (ids ``<id>_sp<factor>``, duration scaled).

    The audio pipeline of train.py resamples each copy by its ``speed`` with SpeechBrain's ``SpeedPerturb``.

    Arguments
    ---------
    entries : list of dict
        Manifest entries (``speed`` 1.0).
    speed_factors : list of float
        E.g. ``[0.9, 1.1]`` (the paper); ``[]`` adds none.

    Returns
    -------
    list of dict
        Originals, then the copies of each factor.

    Example
    -------
    >>> out = speed_perturbed_copies([{"id": "u", "duration": 1.8, "speed": 1.0}], [0.9, 1.1])
    >>> [(e["id"], e["speed"], e["source_id"], round(e["duration"], 3)) for e in out]
    [('u', 1.0, 'u', 1.8), ('u_sp0.9', 0.9, 'u', 2.0), ('u_sp1.1', 1.1, 'u', 1.636)]
    """
    out = [dict(entry, source_id=entry["id"]) for entry in entries]
    for factor in speed_factors:
        factor = float(factor)
        if not 0.5 <= factor <= 2.0 or factor == 1.0:
            raise EmoLobesError(f"speed factor {factor} is not a perturbation in [0.5, 2.0] other than 1.0",
                                "use factors such as [0.9, 1.1], or [] for no perturbation")
        for entry in entries:
            out.append(dict(entry, id=f"{entry['id']}_sp{factor:g}", source_id=entry["id"], speed=factor,
                            duration=entry["duration"] / factor))
    return out


def in_training_set(entry, training_set):
    """Whether an (unperturbed) entry belongs to training set ``dominant`` or ``all`` (Section 4.1).

    Example
    -------
    >>> in_training_set({"hard_index": -1}, "all"), in_training_set({"hard_index": -1}, "dominant")
    (True, False)
    """
    if training_set not in TRAINING_SETS:
        raise EmoLobesError(f"unknown training_set '{training_set}'", "use 'dominant' or 'all'")
    return training_set == "all" or entry["hard_index"] >= 0


def existence_table(entries_by_set):
    """Table 1's layout for our data (existence ratios in %) with the paper's rows beside.

    Arguments
    ---------
    entries_by_set : dict
        ``{"dominant": [entries], "all": [entries]}``.

    Returns
    -------
    str
        A markdown table.

    Example
    -------
    >>> table = existence_table({"dominant": [{"existence": [1, 0, 1, 0]}], "all": [{"existence": [1, 0, 0, 0]}]})
    >>> print(table.splitlines()[2])
    | dominant (ours, 1 utt) | 100.0 |  0.0 | 100.0 |  0.0 |
    """
    rows = []
    for name, entries in entries_by_set.items():
        rows.append([f"{name} (ours, {len(entries)} utt)"] + existence_ratios([e["existence"] for e in entries]))
    for name, entries in entries_by_set.items():
        if name in PAPER_TABLE1:
            rows.append([f"{name} (paper)"] + PAPER_TABLE1[name])
    return markdown_table(["set"] + list(TARGET_CODES), rows)


def dominant_count_table(entries_by_part):
    """Counts of dominant emotions (targets and ``other``) per partition.

    Example
    -------
    >>> print(dominant_count_table({"test": [{"dominant": "sad"}, {"dominant": "other"}]}).splitlines()[2])
    | test | 0 | 0 | 1 | 0 | 1 | 2 |
    """
    header = list(TARGET_CODES) + ["other"]
    rows = []
    for part, entries in entries_by_part.items():
        counts = Counter(e["dominant"] for e in entries)
        rows.append([part] + [counts.get(code, 0) for code in header] + [len(entries)])
    return markdown_table(["partition"] + header + ["total"], rows)


def improvised_only(records):
    """The improvised utterances (Section 4.1: "we used only the improvised speech"), a record filter.

    Example
    -------
    >>> [r["id"] for r in improvised_only([{"id": "a", "improvised": True}, {"id": "b", "improvised": False}])]
    ['a']
    """
    if not any("improvised" in record for record in records):
        raise EmoLobesError("the corpus's records do not say which utterances are improvised",
                            "use IEMOCAP (parser: iemocap), or pass --improvised_only=False")
    kept = [record for record in records if record.get("improvised")]
    if not kept:
        raise EmoLobesError("no improvised utterance in the corpus",
                            "point --data_folder at IEMOCAP_full_release (dialogs named Ses0<n><F|M>_impro...)")
    return kept


def mlee_declaration(corpora, data_folder, corpus="iemocap", split_file=None, split=None):
    """The run's corpus declaration: the hparams' ``corpora.<corpus>``, the paper's values for keys it lacks.

    Arguments
    ---------
    corpora : dict
        The hparams' ``corpora``.
    data_folder : str
        The corpus root (IEMOCAP_full_release) or the folder holding it.
    corpus : str
        The corpus's name (``corpus`` in the hparams).
    split_file : str, optional
        A split file replacing the declared split (``--split_file``).

    Returns
    -------
    CorpusDeclaration

    Example
    -------
    >>> import tempfile
    >>> decl = mlee_declaration({}, tempfile.mkdtemp())
    >>> decl.name, decl.label_key, decl.split["method"], decl.merge["exc"]
    ('iemocap', 'label', 'loso', 'other')
    """
    parser = (dict(corpora or {}).get(corpus) or {}).get("parser") or corpus
    defaults = {corpus: PAPER_DEFAULTS.get(corpus) or PAPER_DEFAULTS.get(parser) or {}}
    return declare_corpora(corpora, data_folder, [corpus], split_file, defaults, split=split)[corpus]


def prepare_mlee(
    declaration,
    save_folder,
    fold,
    alpha=SOFT_TARGET_ALPHA,
    speed_factors=(0.9, 1.1),
    improvised=True,
    seed=0,
    output_folder=None,
    skip_prep=False,
):
    """Write one fold of a declared corpus (IEMOCAP's improvised utterances) for the MLEE recipe.

    Outputs in ``save_folder``: ``train_dominant.json`` and ``train_all.json`` (training utterances, with the
    speed-perturbed copies added), ``dev.json`` and ``test.json`` (dominant utterances only, unperturbed; ``{}``
    without a dev set), ``split.json`` (speakers and ids of the split), ``splits/<corpus>.json`` (the split in
    split-file form, also copied to ``<output_folder>/splits/``), ``existence_ratios.md`` (Table 1 layout and
    class counts, also printed) and ``problems.txt``. Nothing is written under the corpus folder.

    Arguments
    ---------
    declaration : CorpusDeclaration
        The corpus (:func:`mlee_declaration`): its parser options (``include_self_evaluations``: count the
        actors' self-evaluations in existence and soft targets), classes (consensus codes, non-targets merged into
        ``other``) and split (the paper's: leave-one-speaker-out, fold k tests the k-th of the sorted speakers
        Ses01F, Ses01M, ..., Ses05M, dev = its session partner).
    save_folder : str
        Where the manifests go.
    fold : int
        The fold of the split.
    alpha : float
        Soft-target smoothing (eq. 4).
    speed_factors : list of float
        Speed-perturbed copies added to the training sets (the paper: 0.9 and 1.1).
    improvised : bool
        Keep the improvised utterances only (the paper).
    seed : int
        Seeds the split's draws.
    output_folder : str, optional
        The run's output folder (gets ``splits/<corpus>.json``).
    skip_prep : bool
        Do nothing (manifests already there).

    Returns
    -------
    dict
        The split (``train_speakers``, ``dev_speakers``, ``test_speakers``, id lists, ``info``: the split info).
    """
    options = {
        "version": PREP_VERSION, "corpus": declaration.as_dict(), "fold": int(fold), "alpha": float(alpha),
        "speed_factors": [float(s) for s in speed_factors], "improvised": bool(improvised), "seed": int(seed),
    }
    split_path = os.path.join(save_folder, "split.json")
    copy = os.path.join("splits", f"{declaration.name}.json")
    if skip_prep or prep_is_current(save_folder, options, OUTPUTS + (copy,)):
        split = _read_json(split_path) if os.path.isfile(split_path) else None
    else:
        check_corpus_folders({declaration.name: declaration})
        assert_not_inside(save_folder, declaration.folder)
        check_output_folder_writable(save_folder)
        split = _prepare(declaration, save_folder, fold, alpha, speed_factors, improvised, seed)
        save_prep_options(save_folder, options)
    if split is not None and output_folder is not None and os.path.isfile(os.path.join(save_folder, copy)):
        copy_run_splits(save_folder, output_folder)
    return split


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _prepare(declaration, save_folder, fold, alpha, speed_factors, improvised, seed):
    # Read, select and split the corpus; write the manifests, the split and the report.
    data = load_corpus_split(declaration, fold, seed, record_filter=improvised_only if improvised else None)
    split = dict(data.split, info=data.split_info())
    entries = {r["id"]: mlee_entry(r, alpha) for r in data.records}
    train = [entries[i] for i in split["train"]]
    dev = [entries[i] for i in split["dev"] if entries[i]["hard_index"] >= 0]
    test = [entries[i] for i in split["test"] if entries[i]["hard_index"] >= 0]
    if (split["dev"] and not dev) or not test:
        empty = "test" if not test else "dev"
        raise EmoLobesError(f"fold {fold} has no {empty} utterance with a dominant neu/hap/sad/ang label",
                            "check the corpus (problems.txt) or use another fold")
    for name in TRAINING_SETS:
        chosen = [e for e in train if in_training_set(e, name)]
        write_manifest(speed_perturbed_copies(chosen, speed_factors), os.path.join(save_folder, f"train_{name}.json"))
    if dev:
        write_manifest(speed_perturbed_copies(dev, []), os.path.join(save_folder, "dev.json"))
    else:  # no dev set (dev: none): train the fixed number of epochs, test the last
        write_json_atomic({}, os.path.join(save_folder, "dev.json"))
    write_manifest(speed_perturbed_copies(test, []), os.path.join(save_folder, "test.json"))
    data.write_split(save_folder)

    corpus_sets = {name: [e for e in entries.values() if in_training_set(e, name)] for name in TRAINING_SETS}
    fold_sets = {f"train {name}": [e for e in train if in_training_set(e, name)] for name in TRAINING_SETS}
    paper_counts = " ".join(f"{code} {count}" for code, count in PAPER_DOMINANT_COUNTS.items())
    self_evaluations = declaration.options.get("include_self_evaluations")
    report = "\n\n".join([
        f"# MLEE prep, fold {fold}: test {split['test_speakers']}, dev {split['dev_speakers']}",
        f"Existence ratios (%), {'improvised ' if improvised else ''}utterances of the whole corpus (the paper's "
        f"Table 1 layout; {'evaluators and self-evaluations' if self_evaluations else 'evaluators C-E* only'}):",
        existence_table(corpus_sets),
        "Existence ratios (%), this fold's training speakers (before speed perturbation):",
        existence_table(fold_sets),
        f"Dominant emotions (consensus codes; the paper's real corpus: {paper_counts}):",
        dominant_count_table({"corpus (improvised)": list(entries.values()), "train": train,
                              "dev (dominant only)": dev, "test (dominant only)": test}),
    ])
    write_text_atomic(report + "\n", os.path.join(save_folder, "existence_ratios.md"))
    print(report, flush=True)
    write_problems_report(data.problems, os.path.join(save_folder, "problems.txt"))
    write_json_atomic(split, os.path.join(save_folder, "split.json"))
    return split


def prepare_options(hparams):
    """The keyword arguments of :func:`prepare_mlee` from the loaded hparams (the declaration resolved).

    Example
    -------
    >>> import tempfile
    >>> hp = {"corpora": {}, "corpus": "iemocap", "data_folder": tempfile.mkdtemp(), "split_file": None,
    ...       "prep_folder": "p", "output_folder": "o", "fold": 3, "soft_target_alpha": 0.75, "speed_factors": [],
    ...       "improvised_only": True, "seed": 1, "skip_prep": False}
    >>> options = prepare_options(hp)
    >>> options["declaration"].name, options["save_folder"], options["fold"]
    ('iemocap', 'p', 3)
    """
    declaration = mlee_declaration(hparams["corpora"], hparams["data_folder"], hparams["corpus"],
                                   hparams.get("split_file"), hparams.get("split"))
    return {"declaration": declaration, "save_folder": hparams["prep_folder"], "fold": hparams["fold"],
            "alpha": hparams["soft_target_alpha"], "speed_factors": hparams["speed_factors"],
            "improvised": hparams["improvised_only"], "seed": hparams["seed"],
            "output_folder": hparams["output_folder"], "skip_prep": hparams["skip_prep"]}


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
    prepare_mlee(**prepare_options(hparams))


if __name__ == "__main__":
    main()
