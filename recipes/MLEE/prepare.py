"""MLEE data prep: IEMOCAP improvised utterances -> one LOSO fold's manifests with dominant, existence and soft targets.

Run (normally called by train.py): python recipes/MLEE/prepare.py --data_folder=/path/IEMOCAP_full_release
    --save_folder=results/MLEE/prep_fold_1 --fold=1
"""
import argparse
import json
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.data.corpora import parse_corpus  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.lobes.existence import (  # noqa: E402
    SOFT_TARGET_ALPHA, TARGET_CODES, annotator_counts, existence_ratios, existence_vector, soft_target,
)
from emo_lobes.data.manifest import (  # noqa: E402
    assert_not_inside, check_output_folder_writable, prep_is_current, save_prep_options, write_json_atomic,
    write_manifest, write_problems_report, write_text_atomic,
)
from emo_lobes.data.splits import leave_one_speaker_out  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table  # noqa: E402

#: Training sets of the paper (Section 4.1): utterances with a dominant target emotion, or every utterance.
TRAINING_SETS = ("dominant", "all")
#: Manifests written per fold.
OUTPUTS = ("train_dominant.json", "train_all.json", "dev.json", "test.json", "split.json", "existence_ratios.md")
#: Table 1 of the paper (% of utterances in which each target exists), printed beside ours.
PAPER_TABLE1 = {"dominant": [58.2, 15.4, 30.5, 15.9], "all": [45.2, 24.0, 19.8, 17.8]}
#: Dominant counts the paper reports for the real corpus's improvised utterances (Section 4.1).
PAPER_DOMINANT_COUNTS = {"neu": 1099, "hap": 284, "sad": 608, "ang": 289, "other": 2504}
PREP_VERSION = 1


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
        The record's ``id``, ``wav``, ``duration``, ``speaker``, ``label`` plus ``dominant`` (a target code or
        ``other``), ``hard_index`` (0-3, or -1 without a dominant target), ``existence`` (4 ints),
        ``soft_target`` (4 floats), ``target_votes`` (annotators per target) and ``speed`` (1.0).

    Example
    -------
    >>> rec = {"id": "Ses01F_impro01_F000", "wav": "a.wav", "duration": 2.0, "speaker": "Ses01F", "label": "neu",
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


def prepare_mlee(
    data_folder,
    save_folder,
    fold,
    include_self_evaluations=False,
    alpha=SOFT_TARGET_ALPHA,
    speed_factors=(0.9, 1.1),
    dev_rule="session_partner",
    seed=0,
    skip_prep=False,
):
    """Write one leave-one-speaker-out fold of IEMOCAP's improvised utterances for the MLEE recipe.

    Outputs in ``save_folder``: ``train_dominant.json`` and ``train_all.json`` (training speakers, with the
    speed-perturbed copies added), ``dev.json`` and ``test.json`` (dominant utterances only, unperturbed),
    ``split.json`` (speakers and ids), ``existence_ratios.md`` (Table 1 layout and class counts, also printed)
    and ``problems.txt``. Nothing is written under ``data_folder``.

    Arguments
    ---------
    data_folder : str
        IEMOCAP_full_release.
    save_folder : str
        Where the manifests go.
    fold : int
        1-10: the test speaker is the fold-th of the sorted speakers (Ses01F, Ses01M, ..., Ses05M).
    include_self_evaluations : bool
        Count the actors' self-evaluations (C-F1/C-M1) in existence and soft targets (default: evaluators only).
    alpha : float
        Soft-target smoothing (eq. 4).
    speed_factors : list of float
        Speed-perturbed copies added to the training sets (the paper: 0.9 and 1.1).
    dev_rule : str
        Dev-speaker rule of :func:`emo_lobes.data.splits.leave_one_speaker_out` (``session_partner``: the other
        speaker of the test speaker's session).
    seed : int
        Seed of the ``next`` dev rule's order.
    skip_prep : bool
        Do nothing (manifests already there).

    Returns
    -------
    dict
        The split (``train_speakers``, ``dev_speakers``, ``test_speakers`` and id lists).
    """
    options = {
        "version": PREP_VERSION, "data_folder": os.path.abspath(data_folder), "fold": int(fold),
        "include_self_evaluations": bool(include_self_evaluations), "alpha": float(alpha),
        "speed_factors": [float(s) for s in speed_factors], "dev_rule": dev_rule, "seed": int(seed),
    }
    split_path = os.path.join(save_folder, "split.json")
    if skip_prep or prep_is_current(save_folder, options, OUTPUTS):
        if os.path.isfile(split_path):
            with open(split_path, encoding="utf-8") as split_file:
                return json.load(split_file)
        return None
    assert_not_inside(save_folder, data_folder)
    check_output_folder_writable(save_folder)

    parsed = parse_corpus("iemocap", data_folder, include_self_evaluations=include_self_evaluations)
    improvised = [r for r in parsed.records if r.get("improvised")]
    if not improvised:
        raise EmoLobesError(f"no improvised IEMOCAP utterance in {data_folder}",
                            "point --data_folder at IEMOCAP_full_release (dialogs named Ses0<n><F|M>_impro...)")
    folds = leave_one_speaker_out(improvised, dev_rule=dev_rule, seed=seed)
    if not 1 <= int(fold) <= len(folds):
        raise EmoLobesError(f"fold {fold} does not exist: leave-one-speaker-out gives {len(folds)} folds",
                            f"use --fold between 1 and {len(folds)}")
    split = folds[int(fold) - 1]
    entries = {r["id"]: mlee_entry(r, alpha) for r in improvised}

    train = [entries[i] for i in split["train"]]
    dev = [entries[i] for i in split["dev"] if entries[i]["hard_index"] >= 0]
    test = [entries[i] for i in split["test"] if entries[i]["hard_index"] >= 0]
    if not dev or not test:
        empty = "dev" if not dev else "test"
        raise EmoLobesError(f"fold {fold} has no {empty} utterance with a dominant neu/hap/sad/ang label",
                            "check the corpus (problems.txt) or use another fold")
    for name in TRAINING_SETS:
        chosen = [e for e in train if in_training_set(e, name)]
        write_manifest(speed_perturbed_copies(chosen, speed_factors), os.path.join(save_folder, f"train_{name}.json"))
    write_manifest(speed_perturbed_copies(dev, []), os.path.join(save_folder, "dev.json"))
    write_manifest(speed_perturbed_copies(test, []), os.path.join(save_folder, "test.json"))

    corpus_sets = {name: [e for e in entries.values() if in_training_set(e, name)] for name in TRAINING_SETS}
    fold_sets = {f"train {name}": [e for e in train if in_training_set(e, name)] for name in TRAINING_SETS}
    paper_counts = " ".join(f"{code} {count}" for code, count in PAPER_DOMINANT_COUNTS.items())
    report = "\n\n".join([
        f"# MLEE prep, fold {fold}: test {split['test_speakers']}, dev {split['dev_speakers']}",
        "Existence ratios (%), improvised utterances of the whole corpus (the paper's Table 1 layout; "
        f"{'evaluators and self-evaluations' if include_self_evaluations else 'evaluators C-E* only'}):",
        existence_table(corpus_sets),
        "Existence ratios (%), this fold's training speakers (before speed perturbation):",
        existence_table(fold_sets),
        f"Dominant emotions (consensus codes; the paper's real corpus: {paper_counts}):",
        dominant_count_table({"corpus (improvised)": list(entries.values()), "train": train,
                              "dev (dominant only)": dev, "test (dominant only)": test}),
    ])
    write_text_atomic(report + "\n", os.path.join(save_folder, "existence_ratios.md"))
    print(report, flush=True)
    write_problems_report(parsed.problems, os.path.join(save_folder, "problems.txt"))
    write_json_atomic(split, split_path)
    save_prep_options(save_folder, options)
    return split


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--save_folder", required=True)
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--include_self_evaluations", action="store_true")
    parser.add_argument("--speed_factors", type=float, nargs="*", default=[0.9, 1.1])
    args = parser.parse_args(argv)
    prepare_mlee(args.data_folder, args.save_folder, args.fold, args.include_self_evaluations,
                 speed_factors=args.speed_factors)


if __name__ == "__main__":
    main()
