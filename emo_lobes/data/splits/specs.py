"""A corpus's split from its declaration (``corpora.<name>.split``): one form, class coverage checked, dev as asked.

Forms (exactly one per declaration)::

    {method: speaker_kfold, k: 5}                 # speaker-group k-fold, stratified by class
    {method: loso}                                # leave one speaker out
    {method: loso_session}                        # leave one session out (IEMOCAP: 5 folds)
    {method: holdout, n_test: 2, folds: 5}        # test speakers drawn to cover every class, 5 draws
    {method: random_kfold, k: 5}                  # utterance-level folds, for corpora without speakers
    {dev_speakers: [...], test_speakers: [...]}   # named speakers, the rest train
    {file: split.json}                            # a split file (ids or wav paths relative to the corpus root)
    {emobox: <EmoBox data/<corpus> folder>}       # EmoBox fold files (fold_<k>/..._{train,test}_fold_<k>.jsonl)
    {speechbrain: <folder of train/valid/test.json>}   # SpeechBrain's IEMOCAP recipe manifests

Options for every form:

- ``dev``: ``none`` (no dev set: train a fixed number of epochs and test the last), ``next_fold`` (k-fold: the
  next fold's speakers), ``session_partner`` / ``next`` (LOSO), ``next_session`` / ``next_session_speaker``
  (leave one session out), ``{speakers: N}`` or ``{speaker_fraction: f}`` (drawn from the training speakers so that
  dev holds every class), or ``{utterance_fraction: f}`` (training utterances, stratified: the split is then
  flagged ``speaker_dependent_dev``). ``n_dev: N`` is short for ``{speakers: N}`` (``0``: ``none``), named speakers
  included. A split file that holds a ``dev`` list keeps it.
- ``min_per_class`` (default 1): generated splits whose dev or test partition (or the training part) holds fewer
  utterances of a class are redrawn, and refused in one line naming the speakers and the class when no draw fits;
  given splits (named speakers, files, published folds) are checked the same way and warned about in one line.
- ``allow_speaker_overlap`` (default false): given splits that share speakers between partitions are refused
  unless this is true; the split then says ``speaker_independent: false``.

A command-line override is merged into the hparams' split, not put in its place (HyperPyYAML): a declaration that
mixes two forms is refused; ``null`` in an override removes a key of the hparams' split (``method: null``,
``dev_speakers: null``).
"""
import random
from collections import Counter

from emo_lobes.data.splits.files import (
    read_emobox_fold,
    read_speechbrain_manifests,
    read_split_file,
    split_from_lists,
)
from emo_lobes.data.splits.generated import (
    PARTITIONS,
    _make_split,
    _speakers_of_sessions,
    check_no_leakage,
    leave_one_session_out,
    leave_one_speaker_out,
    random_kfold,
    speaker_group_kfold,
)
from emo_lobes.errors import EmoLobesError

#: The generated methods and the dev rule each uses when the declaration gives none.
SPLIT_METHODS = {
    "speaker_kfold": "next_fold",
    "loso": "session_partner",
    "loso_session": "next_session_speaker",
    "holdout": {"speakers": 1},
    "random_kfold": {"utterance_fraction": 0.1},
}
#: The given forms, each named by its one key.
GIVEN_FORMS = ("file", "emobox", "speechbrain")
#: Keys every form accepts.
COMMON_KEYS = ("dev", "min_per_class", "allow_speaker_overlap")
#: Parameters of the generated methods.
METHOD_KEYS = ("k", "n_test", "n_dev", "folds")
#: Dev rules given as a word, and the methods they belong to (None: any).
NAMED_DEV_RULES = {"none": None, "next_fold": ("speaker_kfold",), "session_partner": ("loso",), "next": ("loso",),
                   "next_session": ("loso_session",), "next_session_speaker": ("loso_session",)}
#: Dev rules given as a one-key mapping.
DRAWN_DEV_RULES = ("speakers", "speaker_fraction", "utterance_fraction")
#: How many seeded draws a generated split tries before it refuses.
MAX_DRAWS = 200
#: Default dev of a given split without a dev list.
GIVEN_DEFAULT_DEV = {"speaker_fraction": 0.1}


def _integer(spec, key, default, corpus):
    # spec[key] as an int, or a one-line refusal.
    value = spec.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EmoLobesError(f"split of {corpus} has {key}: {value!r}", f"give {key} as a whole number") from None


def _present(spec):
    # The declaration without its null keys: ``null`` in an override removes a key of the hparams' split.
    if spec is not None and not isinstance(spec, dict):
        raise EmoLobesError(f"a split declaration is {spec!r}, not a mapping",
                            "write it as {method: loso}, {file: PATH}, {dev_speakers: [...], test_speakers: [...]} ...")
    return {key: value for key, value in dict(spec or {}).items() if value is not None}


def _form(spec, corpus):
    # The one form a declaration has, or a one-line refusal naming the clash.
    spec = _present(spec)
    known = set(COMMON_KEYS) | set(METHOD_KEYS) | set(GIVEN_FORMS) | {"method", "dev_speakers", "test_speakers"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise EmoLobesError(f"split of {corpus} has unknown keys {', '.join(unknown)}",
                            f"use {', '.join(sorted(known))} (see emo_lobes.data.splits)")
    forms = []
    if spec.get("method") is not None:
        forms.append(f"method '{spec['method']}'")
    if "dev_speakers" in spec or "test_speakers" in spec:
        forms.append("dev_speakers/test_speakers")
    forms += [key for key in GIVEN_FORMS if spec.get(key) is not None]
    if len(forms) > 1:
        raise EmoLobesError(
            f"split of {corpus} mixes {' and '.join(forms)} (a command-line override is merged into the hparams' "
            "split, not put in its place)",
            "give one form: pass --split_file=PATH, or add method: null to the override to drop the hparams' method",
        )
    if not forms:
        return "speaker_kfold"
    if spec.get("method") is not None:
        if spec["method"] not in SPLIT_METHODS:
            raise EmoLobesError(f"split of {corpus} has unknown method '{spec['method']}'",
                                f"use one of {', '.join(SPLIT_METHODS)}")
        return spec["method"]
    return "speakers" if forms[0].startswith("dev_speakers") else forms[0]


def _dev_rule(spec, form, corpus):
    # The dev rule: a word of NAMED_DEV_RULES or a one-key mapping of DRAWN_DEV_RULES.
    rule = spec.get("dev")
    if rule is None and "n_dev" in spec:
        n_dev = _integer(spec, "n_dev", 0, corpus)
        rule = {"speakers": n_dev} if n_dev > 0 else "none"
    if rule is None:
        rule = SPLIT_METHODS.get(form, "none" if form == "speakers" else GIVEN_DEFAULT_DEV)
    if rule is False:
        rule = "none"
    if isinstance(rule, str):
        rule = rule.lower()
        if rule not in NAMED_DEV_RULES:
            raise EmoLobesError(f"split of {corpus} has unknown dev rule '{rule}'",
                                f"use one of {', '.join(NAMED_DEV_RULES)} or {{speakers: N}}, {{speaker_fraction: f}}, "
                                "{utterance_fraction: f}")
        allowed = NAMED_DEV_RULES[rule]
        if allowed is not None and form not in allowed:
            raise EmoLobesError(f"split of {corpus}: dev rule '{rule}' belongs to method {' / '.join(allowed)}, "
                                f"not {form}", "use dev: {speakers: N}, {speaker_fraction: f} or none")
        return rule
    if not (isinstance(rule, dict) and len(rule) == 1 and next(iter(rule)) in DRAWN_DEV_RULES):
        raise EmoLobesError(f"split of {corpus} has dev {rule!r}",
                            "give dev as none, next_fold, {speakers: N}, {speaker_fraction: f} or {utterance_fraction: f}")
    key, value = next(iter(rule.items()))
    try:
        value = int(value) if key == "speakers" else float(value)
    except (TypeError, ValueError):
        raise EmoLobesError(f"split of {corpus} has dev {rule!r}", "give a number: speakers >= 1, a fraction in (0, 1)") from None
    if (key == "speakers" and value < 1) or (key != "speakers" and not 0 < value < 1):
        raise EmoLobesError(f"split of {corpus} has dev {rule!r}", "speakers >= 1, fractions between 0 and 1")
    return {key: value}


def class_counts_table(split, records, label_key="emotion"):
    """Utterances per partition and class.

    Arguments
    ---------
    split : dict
        A split (``train``, ``dev``, ``test`` id lists).
    records : list of dict
        The records it was made from.
    label_key : str
        The record field holding the class.

    Returns
    -------
    dict
        ``{partition: {class: count}}``, every class of the records in every partition (0 where absent).

    Example
    -------
    >>> recs = [{"id": "a", "emotion": "sad"}, {"id": "b", "emotion": "angry"}, {"id": "c", "emotion": "sad"}]
    >>> class_counts_table({"train": ["a", "b"], "dev": [], "test": ["c"]}, recs)["test"]
    {'angry': 0, 'sad': 1}
    """
    label_of = {record["id"]: str(record[label_key]) for record in records}
    classes = sorted(set(label_of.values()))
    table = {}
    for part in PARTITIONS:
        counts = Counter(label_of[utt] for utt in split.get(part, []))
        table[part] = {cls: counts.get(cls, 0) for cls in classes}
    return table


def check_class_coverage(split, records, min_per_class=1, label_key="emotion"):
    """The problems of a split's class coverage, one line each (an empty list when every class is everywhere).

    Train must hold every class; dev (when not empty) and test must hold ``min_per_class`` of each.

    Arguments
    ---------
    split : dict
        A split.
    records : list of dict
        Its records.
    min_per_class : int
        Fewest utterances of a class a dev or test partition may hold.
    label_key : str
        The record field holding the class.

    Returns
    -------
    list of str
        E.g. ``"test (speakers s3) holds 0 'angry' utterances (at least 1 needed)"``.

    Example
    -------
    >>> recs = [{"id": f"{s}{e}", "speaker": s, "emotion": e} for s in ("s1", "s2") for e in ("sad", "angry")]
    >>> recs.append({"id": "s3sad", "speaker": "s3", "emotion": "sad"})
    >>> split = {"train": ["s1sad", "s1angry", "s2sad", "s2angry"], "dev": [], "test": ["s3sad"],
    ...          "test_speakers": ["s3"]}
    >>> check_class_coverage(split, recs)
    ["test (speakers s3) holds 0 'angry' utterances (at least 1 needed)"]
    """
    problems = []
    for part, counts in class_counts_table(split, records, label_key).items():
        if part == "dev" and not split.get("dev"):
            continue
        need = 1 if part == "train" else int(min_per_class)
        for cls, count in counts.items():
            if count < need:
                speakers = split.get(f"{part}_speakers") or []
                who = f" (speakers {', '.join(speakers[:8])}{' ...' if len(speakers) > 8 else ''})" if speakers else ""
                problems.append(f"{part}{who} holds {count} '{cls}' utterances (at least {need} needed)")
    return problems


def _shadow(records, label_key):
    # What the generators read: id, speaker, session, gender and the class as 'emotion'.
    keep = ("id", "wav", "speaker", "session", "gender")
    return [dict({key: record[key] for key in keep if key in record}, emotion=str(record[label_key]))
            for record in records]


def _has_speakers(records):
    return all(record.get("speaker") not in (None, "") for record in records)


def _covers(split, records, min_per_class, parts=("train", "dev", "test")):
    # True when the named partitions cover every class (train once, dev/test min_per_class times).
    problems = check_class_coverage(split, records, min_per_class)
    return not [line for line in problems if line.split(" ", 1)[0] in parts]


def covering_speaker_draw(speaker_classes, rng, n_speakers=1, min_per_class=1):
    """Draw speakers at random until they hold ``min_per_class`` utterances of every class and number ``n_speakers``.

    Classes are visited in random order; a class not yet covered takes a random speaker who has it, one of its
    smaller speakers first. Corpora whose
    speakers each hold few classes (URDU's talk-show speakers mostly one) then still get every class.

    Arguments
    ---------
    speaker_classes : dict
        ``{speaker: Counter of classes}`` of the speakers to draw from.
    rng : random.Random
        The draw's generator.
    n_speakers : int
        Fewest speakers drawn.
    min_per_class : int
        Utterances of each class the drawn speakers must hold together.

    Returns
    -------
    list of str
        The drawn speakers, sorted.

    Example
    -------
    >>> from collections import Counter
    >>> pool = {"a": Counter(sad=3), "b": Counter(angry=2), "c": Counter(sad=1), "d": Counter(happy=4)}
    >>> drawn = covering_speaker_draw(pool, random.Random(0), n_speakers=1)
    >>> len(drawn), "b" in drawn and "d" in drawn   # angry and happy have one speaker each
    (3, True)
    """
    order = sorted(speaker_classes)
    rng.shuffle(order)
    classes = sorted({cls for counts in speaker_classes.values() for cls in counts})
    rng.shuffle(classes)
    chosen, held = [], Counter()
    size = {speaker: sum(counts.values()) for speaker, counts in speaker_classes.items()}
    for cls in classes:
        # Cover a class with its smaller speakers first (at most the median size of its speakers), so that a class
        # held mostly by one large speaker keeps that speaker for training.
        holders = [speaker for speaker in order if speaker_classes[speaker][cls]]
        median = sorted(size[speaker] for speaker in holders)[(len(holders) - 1) // 2] if holders else 0
        for speaker in [s for s in holders if size[s] <= median] + [s for s in holders if size[s] > median]:
            if held[cls] >= min_per_class:
                break
            if speaker not in chosen:
                chosen.append(speaker)
                held.update(speaker_classes[speaker])
    for speaker in order:
        if len(chosen) >= n_speakers:
            break
        if speaker not in chosen:
            chosen.append(speaker)
    return sorted(chosen)


def _speaker_classes(records, ids=None):
    # {speaker: Counter of classes} over the records (or those with the given ids).
    keep = None if ids is None else set(ids)
    table = {}
    for record in records:
        if keep is None or record["id"] in keep:
            table.setdefault(str(record["speaker"]), Counter())[record["emotion"]] += 1
    return table


def _moved(split, records, ids, speakers, part):
    # The split with the given speakers' utterances among ids moved from train to ``part``.
    speaker_of = {record["id"]: str(record.get("speaker")) for record in records}
    moved = sorted(u for u in ids if speaker_of[u] in speakers)
    rest = sorted(u for u in ids if speaker_of[u] not in speakers)
    out = dict(split, train=rest, train_speakers=sorted({speaker_of[u] for u in rest}))
    out[part], out[f"{part}_speakers"] = moved, sorted(speakers)
    return out


def _draw_dev(split, records, rule, seed, fold, min_per_class, corpus):
    # Move dev speakers (or utterances) out of the split's training part, drawn so dev and train cover every class.
    key, value = next(iter(rule.items()))
    train_ids = sorted(set(split["train"]) | set(split.get("dev", [])))
    if key == "utterance_fraction":
        label_of = {record["id"]: record["emotion"] for record in records}
        speaker_of = {record["id"]: str(record.get("speaker")) for record in records}
        rng = random.Random(f"{seed}-{fold}-dev")
        by_class = {}
        for utt in train_ids:
            by_class.setdefault(label_of[utt], []).append(utt)
        dev = []
        for cls in sorted(by_class):
            members = sorted(by_class[cls])
            n_dev = max(min_per_class, round(value * len(members)))
            if n_dev >= len(members):
                raise EmoLobesError(f"split of {corpus}: class '{cls}' has {len(members)} training utterances, too "
                                    f"few for a dev share of {value}", "use dev: none or a smaller utterance_fraction")
            rng.shuffle(members)
            dev += members[:n_dev]
        moved = dict(split, train=sorted(set(train_ids) - set(dev)), dev=sorted(dev), dev_speakers=[],
                     speaker_independent=False, speaker_dependent_dev=True)
        moved["train_speakers"] = sorted({speaker_of[u] for u in moved["train"]} - {"None"})
        return moved
    pool = _speaker_classes(records, train_ids)
    n_dev = value if key == "speakers" else max(1, round(value * len(pool)))
    if n_dev >= len(pool):
        raise EmoLobesError(f"split of {corpus} has {len(pool)} training speakers, too few for {n_dev} dev speakers",
                            "ask for fewer dev speakers, or dev: none")
    candidate = None
    for draw in range(MAX_DRAWS):
        rng = random.Random(f"{seed}-{fold}-dev-{draw}")
        dev_speakers = covering_speaker_draw(pool, rng, n_dev, min_per_class)
        candidate = _moved(split, records, train_ids, set(dev_speakers), "dev")
        if _covers(candidate, records, min_per_class, parts=("train", "dev")):
            return candidate
    lines = check_class_coverage(candidate, records, min_per_class)
    raise EmoLobesError(
        f"split of {corpus}: no draw of dev speakers out of {len(pool)} training speakers leaves every class in both "
        f"dev and train ({lines[0] if lines else 'too few utterances'})",
        "a class has too few speakers for train, dev and test: use dev: {utterance_fraction: 0.1} (speaker-dependent "
        "dev), dev: none, or fewer test speakers",
    )


def _class_speaker_counts(records):
    # {class: number of speakers who have it}.
    counts = Counter()
    for classes in _speaker_classes(records).values():
        counts.update(set(classes))
    return counts


def _generated_test_folds(records, form, spec, seed, min_per_class, corpus):
    # All folds of a generated method (test partitions only), from the first seeded draw whose folds all cover
    # every class; the same draw for every fold number, so the folds stay a partition of the corpus.
    if form == "speaker_kfold":
        k = _integer(spec, "k", 5, corpus)
        last = None
        for draw in range(MAX_DRAWS):
            folds = speaker_group_kfold(records, k, dev_fraction=0, seed=seed if draw == 0 else seed * 7919 + draw)
            bad = [(fold["name"], line) for fold in folds
                   for line in check_class_coverage(fold, records, min_per_class) if line.startswith("test")]
            if not bad:
                return folds
            last = bad[0]
        few = sorted((n, cls) for cls, n in _class_speaker_counts(records).items() if n < k)
        why = (f"class '{few[0][1]}' has {few[0][0]} speakers, fewer than {k} folds" if few
               else f"{last[0]}: {last[1]}")
        raise EmoLobesError(
            f"split of {corpus}: no draw of {k} speaker folds gives every test fold every class ({why})",
            f"use k <= {few[0][0] if few else k - 1}, or method: holdout with folds: {k} (repeated draws of test "
            "speakers that cover every class)",
        )
    if form == "loso":
        return leave_one_speaker_out(records, dev_rule="none", seed=seed)
    if form == "loso_session":
        return leave_one_session_out(records, dev="none", seed=seed)
    if form == "random_kfold":
        return random_kfold(records, _integer(spec, "k", 5, corpus), dev_fraction=0, seed=seed)
    # holdout: fold f is the f-th of ``folds`` seeded draws of test speakers covering every class
    n_test = _integer(spec, "n_test", 2, corpus)
    pool = _speaker_classes(records)
    if n_test >= len(pool):
        raise EmoLobesError(f"split of {corpus}: cannot hold out {n_test} of {len(pool)} speakers",
                            "hold out fewer speakers (n_test)")
    folds = []
    for number in range(1, _integer(spec, "folds", 1, corpus) + 1):
        for draw in range(MAX_DRAWS):
            rng = random.Random(f"{seed}-holdout-{number}-{draw}")
            test = set(covering_speaker_draw(pool, rng, n_test, min_per_class))
            split = _make_split(f"holdout_{number}", records, set(pool) - test, set(), test, allow_empty_dev=True)
            if _covers(split, records, min_per_class, parts=("train", "test")):
                folds.append(split)
                break
        else:
            raise EmoLobesError(
                f"split of {corpus}: no draw of test speakers leaves every class in both train and test "
                f"({check_class_coverage(split, records, min_per_class)[0]})",
                "a class has too few speakers to hold some out: use method: random_kfold (not speaker-independent)",
            )
    return folds


def n_folds_of_spec(records, spec, corpus="corpus"):
    """How many folds a declaration gives (1 for hold-out, named speakers and split files).

    Example
    -------
    >>> recs = [{"id": f"s{s}_{e}", "speaker": f"s{s}", "emotion": e} for s in range(6) for e in ("sad", "angry")]
    >>> n_folds_of_spec(recs, {"method": "speaker_kfold", "k": 3}), n_folds_of_spec(recs, {"method": "loso"})
    (3, 6)
    """
    spec = _present(spec)
    form = _form(spec, corpus)
    if form in ("speaker_kfold", "random_kfold"):
        return _integer(spec, "k", 5, corpus)
    if form == "holdout":
        return _integer(spec, "folds", 1, corpus)
    if form == "loso":
        return len({str(record["speaker"]) for record in records})
    if form == "loso_session":
        return len(_speakers_of_sessions(records))
    if form == "emobox":
        return None
    return 1


def _given_split(records, spec, form, fold, corpus_root, corpus, known=None, unusable=()):
    # A split from a split file, EmoBox folds or SpeechBrain manifests (lists of ids or wav paths).
    allow_overlap = bool(spec.get("allow_speaker_overlap", False))
    if form == "file":
        lists, meta = read_split_file(spec["file"])
        name = meta.get("name", "split_file")
        # a split file that says it shares speakers (random_kfold, a speaker-dependent dev, an accepted overlap)
        allow_overlap = allow_overlap or bool(meta.get("allow_speaker_overlap")) or meta.get("speaker_independent") is False
    elif form == "emobox":
        lists = read_emobox_fold(spec["emobox"], fold)
        name = f"emobox_fold_{int(fold)}"
    elif form == "speechbrain":
        lists = read_speechbrain_manifests(spec["speechbrain"])
        name = "speechbrain_manifests"
    else:
        lists = {"dev": spec.get("dev_speakers"), "test": spec.get("test_speakers")}
        return _named_speaker_split(records, lists, spec, corpus)
    return split_from_lists(records, lists, name=name, corpus=corpus, allow_speaker_overlap=allow_overlap,
                            suffix_match=form != "file", known=known, unusable=unusable, root=corpus_root)


def _named_speaker_split(records, lists, spec, corpus):
    # Named dev and test speakers; every other speaker trains.
    dev = {str(s) for s in (lists.get("dev") or [])}
    test = {str(s) for s in (lists.get("test") or [])}
    speakers = {str(record["speaker"]) for record in records}
    missing = sorted((dev | test) - speakers)
    if missing:
        known = sorted(speakers)
        raise EmoLobesError(f"split of {corpus} names speakers absent from the corpus: {', '.join(missing)}",
                            f"use speaker ids of the corpus ({', '.join(known[:12])}{' ...' if len(known) > 12 else ''})")
    if not test:
        raise EmoLobesError(f"split of {corpus} names no test speakers", "give test_speakers: [...]")
    both = sorted(dev & test)
    if both:
        raise EmoLobesError(f"split of {corpus} puts speakers {', '.join(both)} in both dev and test",
                            "list each speaker once")
    return _make_split("named_speakers", records, speakers - dev - test, dev, test, allow_empty_dev=True,
                       fix="name dev and test speakers so that some speakers are left to train on")


def split_from_spec(records, spec, fold=1, seed=0, corpus="corpus", corpus_root=None, label_key="emotion",
                    known=None, unusable=()):
    """One split of a corpus from its declaration (see the module docstring for the forms and options).

    Arguments
    ---------
    records : list of dict
        The corpus's records after class selection (``id``, ``speaker``, ``wav``, the class in ``label_key``;
        ``session`` and ``gender`` where the method uses them).
    spec : dict
        The declaration's ``split`` (``None``: 5-fold speaker k-fold).
    fold : int
        1-based fold (k-fold: the test fold; LOSO: the fold-th speaker in sorted order; EmoBox: ``fold_<fold>``).
    seed : int
        Seeds every draw.
    corpus : str
        The corpus's name, for messages.
    corpus_root : str, optional
        The corpus folder (given splits list wav paths relative to it).
    label_key : str
        The record field holding the class.
    known : list of dict, optional
        Every record the parser gave, before class selection: a given split's entries are matched against these,
        so an entry of a class the recipe does not use is left out (counted in ``n_not_selected``), and only an
        entry that matches no file of the corpus is an error.
    unusable : iterable of str
        Wav paths (relative to the corpus root) the parser skipped as unusable: a given split's entries naming
        them are left out with a warning (``n_unusable``) instead of failing to match.

    Returns
    -------
    dict
        The split (``train``/``dev``/``test`` ids, ``<part>_speakers``, ``name``, ``method``, ``fold``,
        ``speaker_independent``, ``speaker_dependent_dev``, ``allow_speaker_overlap``, ``n_left_out``,
        ``warnings``), leakage-checked.

    Example
    -------
    >>> recs = [{"id": f"s{s}_{e}{i}", "speaker": f"s{s}", "emotion": e} for s in range(6)
    ...         for e in ("sad", "angry") for i in range(2)]
    >>> split = split_from_spec(recs, {"method": "speaker_kfold", "k": 3}, fold=2)
    >>> split["name"], len(split["train_speakers"]), len(split["dev_speakers"]), len(split["test_speakers"])
    ('fold_2', 2, 2, 2)
    >>> split = split_from_spec(recs, {"dev_speakers": ["s0"], "test_speakers": ["s5"]})
    >>> split["test"], split["method"]
    (['s5_angry0', 's5_angry1', 's5_sad0', 's5_sad1'], 'speakers')
    >>> split = split_from_spec(recs, {"test_speakers": ["s5"], "n_dev": 1})   # one dev speaker drawn from the rest
    >>> len(split["dev_speakers"]), split_from_spec(recs, {"test_speakers": ["s5"], "n_dev": 0})["dev"]
    (1, [])
    >>> split_from_spec(recs, {"method": "speaker_kfold", "k": 3, "dev": "none"})["dev"]
    []
    """
    spec = _present(spec)
    form = _form(spec, corpus)
    dev_rule = _dev_rule(spec, form, corpus)
    min_per_class = _integer(spec, "min_per_class", 1, corpus)
    shadow = _shadow(records, label_key)
    if form in ("speaker_kfold", "loso", "loso_session", "holdout") and not _has_speakers(records):
        raise EmoLobesError(f"split of {corpus}: method {form} needs a speaker for every utterance",
                            "use method: random_kfold for corpora without speaker information")
    warnings = []
    if form in SPLIT_METHODS:
        folds = _generated_test_folds(shadow, form, spec, seed, min_per_class, corpus)
        index = int(fold) - 1
        if not 0 <= index < len(folds):
            raise EmoLobesError(f"fold {fold} asked for, but the split of {corpus} has {len(folds)} folds",
                                f"pass --fold between 1 and {len(folds)}")
        split = dict(folds[index])
        if form in ("loso", "loso_session", "random_kfold"):  # test sets these methods do not draw: warned about
            lines = [line for line in check_class_coverage(split, shadow, min_per_class) if line.startswith("test")]
            warnings += [f"{split['name']}: {line}" + (" (LOSO scores are pooled over folds)" if form == "loso" else "")
                         for line in lines]
        if isinstance(dev_rule, str) and dev_rule != "none":
            split = _rule_dev(split, folds, index, shadow, form, dev_rule, seed, corpus)
            _refuse_uncovered(split, shadow, min_per_class, corpus, parts=("train", "dev"))
        elif isinstance(dev_rule, dict):
            split = _draw_dev(split, shadow, dev_rule, seed, fold, min_per_class, corpus)
    else:
        if form != "emobox" and int(fold) != 1:
            raise EmoLobesError(f"fold {fold} asked for, but the {form} split of {corpus} is a single split",
                                "pass --fold=1 (folds are for speaker_kfold, loso, loso_session, holdout with folds, "
                                "random_kfold and EmoBox fold folders)")
        split = _given_split(shadow, spec, form, fold, corpus_root, corpus, known, unusable)
        given_dev = form in GIVEN_FORMS and split.get("has_dev_list")
        if not given_dev and form != "speakers" and isinstance(dev_rule, dict):
            split = _draw_dev(split, shadow, dev_rule, seed, fold, min_per_class, corpus)
        elif (form == "speakers" and not split["dev"] and isinstance(dev_rule, dict)
              and ("dev" in spec or "n_dev" in spec)):
            split = _draw_dev(split, shadow, dev_rule, seed, fold, min_per_class, corpus)
        warnings += check_class_coverage(split, shadow, min_per_class)
    split.pop("has_dev_list", None)
    asked = {"dev": dev_rule.get("speakers") if isinstance(dev_rule, dict) else None,
             "test": _integer(spec, "n_test", 2, corpus) if form == "holdout" else None}
    for part, n in asked.items():  # covering every class can take more speakers than asked: say so
        if n is not None and len(split.get(f"{part}_speakers", [])) > n:
            warnings.append(f"{part} holds {len(split[f'{part}_speakers'])} speakers, more than the {n} asked, so that "
                            "it covers every class")
    split.update(method=form, fold=int(fold), warnings=[f"{corpus}: {line}" for line in warnings])
    split.setdefault("speaker_dependent_dev", False)
    split.setdefault("allow_speaker_overlap", False)
    split.setdefault("n_left_out", 0)
    if not split["test"]:
        raise EmoLobesError(f"split {split['name']} of {corpus} has an empty test partition", "check the split")
    check_no_leakage(split, shadow)
    for line in split["warnings"]:
        print(f"[splits] warning: {line}", flush=True)
    return split


def _rule_dev(split, folds, index, records, form, rule, seed, corpus):
    # Dev by a named rule of a generated method (next fold, session partner, next session ...).
    if form == "speaker_kfold":  # next_fold
        dev = set(folds[(index + 1) % len(folds)]["test_speakers"])
    elif form == "loso":
        chosen = leave_one_speaker_out(records, dev_rule=rule, seed=seed)[index]
        dev = set(chosen["dev_speakers"])
    else:
        chosen = leave_one_session_out(records, dev=rule, seed=seed)[index]
        dev = set(chosen["dev_speakers"])
    test = set(split["test_speakers"])
    train = {str(record["speaker"]) for record in records} - dev - test
    name = split["name"]
    return _make_split(name, records, train, dev, test,
                       fix="use more folds or speakers so that train, dev and test each keep a speaker")


def _refuse_uncovered(split, records, min_per_class, corpus, parts):
    # One-line refusal when a drawn partition misses a class.
    lines = [line for line in check_class_coverage(split, records, min_per_class) if line.split(" ", 1)[0] in parts]
    if lines:
        raise EmoLobesError(f"split {split['name']} of {corpus}: {lines[0]}",
                            "use dev: {speakers: N} (drawn to cover every class), fewer folds, or dev: none")
