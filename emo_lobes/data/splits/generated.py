"""Speaker-independent train/dev/test splits, deterministic from a seed, with leakage checked in code.

A split is a dict::

    {"name": "speaker_Ses01F",
     "train": [ids], "dev": [ids], "test": [ids],                       # sorted
     "train_speakers": [...], "dev_speakers": [...], "test_speakers": [...],   # sorted
     "speaker_independent": True}

Every function takes records (dicts with at least ``id`` and ``speaker``; ``session``, ``gender`` and
``emotion`` are used where present) and returns one split or a list of folds. Each split passes
:func:`check_no_leakage` before it is returned: no speaker is ever in two partitions.
"""
import random
import warnings
from collections import Counter, defaultdict

from sklearn.model_selection import (
    GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold, train_test_split,
)

from emo_lobes.errors import EmoLobesError

PARTITIONS = ("train", "dev", "test")


def _speakers_by_id(records):
    # id -> speaker, refusing records without a speaker and duplicate ids.
    speakers = {}
    for record in records:
        if record.get("speaker") in (None, ""):
            raise EmoLobesError(
                f"record {record.get('id')} has no speaker; speaker-independent splits need one",
                "use random_kfold for corpora without speaker information",
            )
        if record["id"] in speakers:
            raise EmoLobesError(f"utterance id {record['id']} appears twice", "make ids unique in the parser")
        speakers[record["id"]] = str(record["speaker"])
    if not speakers:
        raise EmoLobesError("no records to split", "check --data_folder and the prep options")
    return speakers


def _sorted_speakers(records):
    return sorted(set(_speakers_by_id(records).values()))


def _make_split(name, records, train_speakers, dev_speakers, test_speakers, allow_empty_dev=False, fix=None):
    # Assemble a split from speaker sets, refusing empty partitions, then check it for leakage.
    groups = {"train": set(train_speakers), "dev": set(dev_speakers), "test": set(test_speakers)}
    for part in PARTITIONS:
        if not groups[part] and not (part == "dev" and allow_empty_dev):
            raise EmoLobesError(
                f"split '{name}' leaves the {part} partition empty",
                fix or "use fewer folds or held-out speakers so train, dev and test each keep a speaker",
            )
    speaker_of = _speakers_by_id(records)
    split = {"name": name, "speaker_independent": True}
    for part in PARTITIONS:
        split[part] = sorted(utt for utt, spk in speaker_of.items() if spk in groups[part])
        split[f"{part}_speakers"] = sorted(groups[part])
    check_no_leakage(split, records)
    return split


def check_no_leakage(split, records):
    """Fail unless the partitions share no utterance and, for a speaker-independent split, no speaker.

    Also checks that every id is known and that each ``<part>_speakers`` list names exactly the speakers of
    that partition's utterances.

    Arguments
    ---------
    split : dict
        A split (see the module docstring). ``speaker_independent: False`` (from :func:`random_kfold`)
        checks utterances only.
    records : list of dict
        The records the split was made from.

    Raises
    ------
    EmoLobesError
        Naming the first shared utterance or speaker.

    Example
    -------
    >>> recs = [{"id": "a", "speaker": "s1"}, {"id": "b", "speaker": "s1"}, {"id": "c", "speaker": "s2"}]
    >>> good = {"name": "ok", "train": ["a", "b"], "dev": [], "test": ["c"],
    ...         "train_speakers": ["s1"], "dev_speakers": [], "test_speakers": ["s2"]}
    >>> check_no_leakage(good, recs)
    >>> bad = dict(good, train=["a"], test=["b", "c"], test_speakers=["s1", "s2"])
    >>> try:
    ...     check_no_leakage(bad, recs)
    ... except EmoLobesError as e:
    ...     print(e.problem)
    split 'ok' puts speaker s1 in both train and test
    """
    name = split.get("name", "?")
    speaker_of = {record["id"]: record.get("speaker") for record in records}
    part_of_id = {}
    for part in PARTITIONS:
        for utt in split.get(part, []):
            if utt not in speaker_of:
                raise EmoLobesError(f"split '{name}' lists unknown utterance {utt} in {part}",
                                    "rebuild the split from the current records")
            if utt in part_of_id:
                raise EmoLobesError(f"split '{name}' puts utterance {utt} in both {part_of_id[utt]} and {part}",
                                    "rebuild the split")
            part_of_id[utt] = part
    if not split.get("speaker_independent", True):
        return
    part_of_speaker = {}
    for part in PARTITIONS:
        found = sorted({str(speaker_of[utt]) for utt in split.get(part, [])})
        for speaker in found:
            if part_of_speaker.setdefault(speaker, part) != part:
                raise EmoLobesError(
                    f"split '{name}' puts speaker {speaker} in both {part_of_speaker[speaker]} and {part}",
                    "give each speaker to one partition only",
                )
        if found != sorted(split.get(f"{part}_speakers", [])):
            raise EmoLobesError(
                f"split '{name}' lists {part} speakers {split.get(f'{part}_speakers')} but its utterances "
                f"are from {found}",
                "rebuild the split",
            )


def _cyclic_order(speakers, seed):
    # Sorted then seed-shuffled: the same speakers and seed always give the same order.
    order = sorted(speakers)
    random.Random(seed).shuffle(order)
    return order


def leave_one_speaker_out(records, dev_rule="session_partner", seed=0):
    """One fold per speaker: that speaker is the test set.

    Dev-speaker rules:

    - ``'session_partner'``: the other speaker recorded in the test speaker's session (IEMOCAP: Ses01F is
      tested with Ses01M as dev, giving 8 train / 1 dev / 1 test speakers). When the test speaker has no
      session, or nobody else shares it, the ``'next'`` rule picks the dev speaker. With several partners,
      the first one after the test speaker in the ``'next'`` order is taken.
    - ``'next'``: the next speaker in a cyclic order of the speakers (sorted, then shuffled with ``seed``),
      so dev always differs from test and each speaker is dev exactly once.
    - ``'none'``: no dev set (train on all other speakers).

    Arguments
    ---------
    records : list of dict
        Records with ``id``, ``speaker`` and optionally ``session``.
    dev_rule : str
        ``'session_partner'``, ``'next'`` or ``'none'``.
    seed : int
        Seeds the cyclic order.

    Returns
    -------
    list of dict
        One split per speaker, in sorted speaker order, named ``speaker_<speaker>``.

    Example
    -------
    >>> recs = [{"id": f"{s}_{i}", "speaker": s, "session": s[:5]} for s in
    ...         ("Ses01F", "Ses01M", "Ses02F", "Ses02M") for i in range(2)]
    >>> folds = leave_one_speaker_out(recs)
    >>> len(folds), folds[0]["name"], folds[0]["dev_speakers"], folds[0]["train_speakers"]
    (4, 'speaker_Ses01F', ['Ses01M'], ['Ses02F', 'Ses02M'])
    >>> folds[0]["test"]
    ['Ses01F_0', 'Ses01F_1']
    """
    if dev_rule not in ("session_partner", "next", "none"):
        raise EmoLobesError(f"unknown dev_rule '{dev_rule}'", "use 'session_partner', 'next' or 'none'")
    speakers = _sorted_speakers(records)
    needed = 2 if dev_rule == "none" else 3
    if len(speakers) < needed:
        raise EmoLobesError(
            f"leave-one-speaker-out with dev_rule '{dev_rule}' needs at least {needed} speakers, found {len(speakers)}",
            "use random_kfold for corpora with fewer speakers",
        )
    order = _cyclic_order(speakers, seed)
    position = {speaker: index for index, speaker in enumerate(order)}
    sessions = defaultdict(set)
    for record in records:
        if record.get("session") not in (None, ""):
            sessions[str(record["speaker"])].add(record["session"])

    folds = []
    for test_speaker in speakers:
        after = [order[(position[test_speaker] + step) % len(order)] for step in range(1, len(order))]
        if dev_rule == "none":
            dev = []
        else:
            partners = [spk for spk in after if sessions[spk] & sessions[test_speaker]]
            dev = [partners[0]] if dev_rule == "session_partner" and partners else [after[0]]
        train = [spk for spk in speakers if spk != test_speaker and spk not in dev]
        folds.append(_make_split(f"speaker_{test_speaker}", records, train, dev, [test_speaker],
                                 allow_empty_dev=dev_rule == "none"))
    return folds


def _speakers_of_sessions(records):
    # session -> set of speakers; each speaker must belong to one session only.
    members = defaultdict(set)
    session_of = {}
    for record in records:
        session = record.get("session")
        if session in (None, ""):
            raise EmoLobesError(f"record {record.get('id')} has no session",
                                "use leave_one_speaker_out or speaker_group_kfold for this corpus")
        speaker = str(record["speaker"])
        if session_of.setdefault(speaker, session) != session:
            raise EmoLobesError(
                f"speaker {speaker} appears in sessions {session_of[speaker]} and {session}; "
                "leave-one-session-out would leak that speaker",
                "use leave_one_speaker_out for this corpus",
            )
        members[session].add(speaker)
    return members


def _n_dev_speakers(n_available, dev_fraction, n_dev_speakers):
    # How many dev speakers to draw: an explicit count, else a fraction rounded and at least one.
    if n_dev_speakers is not None:
        return int(n_dev_speakers)
    if not dev_fraction:
        return 0
    return max(1, round(dev_fraction * n_available))


def leave_one_session_out(records, dev="next_session_speaker", seed=0, dev_fraction=0.1):
    """One fold per session (IEMOCAP: 5 folds): all speakers of that session are the test set.

    Dev rules:

    - ``'next_session_speaker'``: one speaker of the next session (sessions in sorted, cyclic order), drawn
      with ``seed`` (IEMOCAP: 7 train / 1 dev / 2 test speakers).
    - ``'next_session'``: every speaker of the next session (IEMOCAP: 3 / 1 / 1 sessions).
    - ``'speaker_fraction'``: ``max(1, round(dev_fraction * n_train_speakers))`` training speakers drawn with
      ``seed``.
    - ``'none'``: no dev set.

    Arguments
    ---------
    records : list of dict
        Records with ``id``, ``speaker`` and ``session``; each speaker in one session.
    dev : str
        The dev rule above.
    seed : int
        Seeds the draw of dev speakers.
    dev_fraction : float
        Fraction of training speakers for ``'speaker_fraction'``.

    Returns
    -------
    list of dict
        One split per session, in sorted session order, named ``session_<session>``.

    Example
    -------
    >>> recs = [{"id": f"{s}{g}_{i}", "speaker": f"{s}{g}", "session": s}
    ...         for s in ("Ses01", "Ses02", "Ses03") for g in "FM" for i in range(2)]
    >>> folds = leave_one_session_out(recs, dev="next_session")
    >>> [f["name"] for f in folds], folds[0]["dev_speakers"], folds[2]["dev_speakers"]
    (['session_Ses01', 'session_Ses02', 'session_Ses03'], ['Ses02F', 'Ses02M'], ['Ses01F', 'Ses01M'])
    >>> len(leave_one_session_out(recs)[0]["dev_speakers"])
    1
    """
    rules = ("next_session_speaker", "next_session", "speaker_fraction", "none")
    if dev not in rules:
        raise EmoLobesError(f"unknown leave-one-session-out dev rule '{dev}'", f"use one of {', '.join(rules)}")
    members = _speakers_of_sessions(records)
    sessions = sorted(members)
    if len(sessions) < (2 if dev in ("none", "speaker_fraction") else 3):
        raise EmoLobesError(f"leave-one-session-out with dev '{dev}' needs more sessions, found {len(sessions)}",
                            "use leave_one_speaker_out")
    folds = []
    for index, session in enumerate(sessions):
        rng = random.Random(f"{seed}-{session}")
        test = members[session]
        next_members = sorted(members[sessions[(index + 1) % len(sessions)]])
        if dev == "next_session_speaker":
            dev_speakers = {rng.choice(next_members)}
        elif dev == "next_session":
            dev_speakers = set(next_members)
        elif dev == "speaker_fraction":
            pool = sorted(set().union(*members.values()) - test)
            dev_speakers = set(rng.sample(pool, _n_dev_speakers(len(pool), dev_fraction, None)))
        else:
            dev_speakers = set()
        train = set().union(*members.values()) - test - dev_speakers
        folds.append(_make_split(f"session_{session}", records, train, dev_speakers, test,
                                 allow_empty_dev=dev == "none"))
    return folds


def speaker_group_kfold(records, k, dev_fraction=0.1, n_dev_speakers=None, seed=0):
    """K speaker-disjoint folds (scikit-learn ``StratifiedGroupKFold`` by emotion, shuffled with ``seed``).

    Without ``emotion`` in the records, ``GroupKFold`` (shuffled) is used. In each fold the dev speakers are
    drawn with ``seed`` from that fold's training speakers: ``n_dev_speakers`` of them, or else
    ``max(1, round(dev_fraction * n_training_speakers))`` (``dev_fraction=0``: no dev set).

    Arguments
    ---------
    records : list of dict
        Records with ``id``, ``speaker`` and ideally ``emotion``.
    k : int
        Number of folds (at most the number of speakers).
    dev_fraction : float
        Fraction of training speakers moved to dev.
    n_dev_speakers : int, optional
        Exact number of dev speakers (overrides ``dev_fraction``).
    seed : int
        Seeds the fold assignment and the dev draw.

    Returns
    -------
    list of dict
        ``k`` splits named ``fold_1`` .. ``fold_k``; every speaker is tested exactly once.

    Example
    -------
    >>> recs = [{"id": f"s{s}_{e}", "speaker": f"s{s}", "emotion": e} for s in range(6) for e in ("sad", "angry")]
    >>> folds = speaker_group_kfold(recs, k=3, n_dev_speakers=1, seed=0)
    >>> [(len(f["train_speakers"]), len(f["dev_speakers"]), len(f["test_speakers"])) for f in folds]
    [(3, 1, 2), (3, 1, 2), (3, 1, 2)]
    >>> sorted(s for f in folds for s in f["test_speakers"]) == [f"s{s}" for s in range(6)]
    True
    """
    speaker_of = _speakers_by_id(records)
    speakers = sorted(set(speaker_of.values()))
    if not 2 <= k <= len(speakers):
        raise EmoLobesError(f"speaker_group_kfold asks for {k} folds over {len(speakers)} speakers",
                            "choose k between 2 and the number of speakers")
    ids = [record["id"] for record in records]
    groups = [speaker_of[utt] for utt in ids]
    if all(record.get("emotion") is not None for record in records):
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        labels = [str(record["emotion"]) for record in records]
    else:
        splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        labels = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare classes: stratification is best effort
        fold_indices = [test for _, test in splitter.split(ids, labels, groups)]
    folds = []
    for number, test_index in enumerate(fold_indices, start=1):
        test = {groups[i] for i in test_index}
        pool = sorted(set(speakers) - test)
        n_dev = _n_dev_speakers(len(pool), dev_fraction, n_dev_speakers)
        if n_dev >= len(pool):
            raise EmoLobesError(f"fold_{number} has {len(pool)} training speakers, too few for {n_dev} dev speakers",
                                "use fewer dev speakers or fewer folds")
        dev = set(random.Random(f"{seed}-{number}").sample(pool, n_dev))
        folds.append(_make_split(f"fold_{number}", records, set(pool) - dev, dev, test, allow_empty_dev=n_dev == 0))
    return folds


def _stratify_labels(labels, n_groups):
    # Labels to stratify by, or None when a class is too rare for n_groups-way stratification.
    if labels is None or min(Counter(labels).values()) < n_groups:
        return None
    return labels


def random_kfold(records, k, dev_fraction=0.1, seed=0):
    """K utterance-level folds for corpora without speaker information (NOT speaker-independent).

    Uses scikit-learn ``StratifiedKFold`` by emotion when every emotion has at least ``k`` utterances, else
    ``KFold``; both shuffled with ``seed``. The dev set is ``max(1, round(dev_fraction * n_train))``
    utterances of the training part (stratified where possible; ``dev_fraction=0``: none).
    The splits carry ``speaker_independent: False`` and empty speaker lists.

    Arguments
    ---------
    records : list of dict
        Records with ``id`` and ideally ``emotion``.
    k : int
        Number of folds.
    dev_fraction : float
        Fraction of each training part moved to dev.
    seed : int
        Seeds the folds and the dev draw.

    Returns
    -------
    list of dict
        ``k`` splits named ``random_fold_1`` .. ``random_fold_k``.

    Example
    -------
    >>> recs = [{"id": f"u{i}", "emotion": ("sad", "happy")[i % 2]} for i in range(20)]
    >>> folds = random_kfold(recs, k=4, dev_fraction=0.2, seed=1)
    >>> [(len(f["train"]), len(f["dev"]), len(f["test"])) for f in folds]
    [(12, 3, 5), (12, 3, 5), (12, 3, 5), (12, 3, 5)]
    """
    ids = [record["id"] for record in records]
    if len(set(ids)) != len(ids):
        raise EmoLobesError("utterance ids are not unique", "make ids unique in the parser")
    if not 2 <= k <= len(ids):
        raise EmoLobesError(f"random_kfold asks for {k} folds over {len(ids)} utterances",
                            "choose k between 2 and the number of utterances")
    emotions = [str(r["emotion"]) for r in records] if all(r.get("emotion") is not None for r in records) else None
    stratify = _stratify_labels(emotions, k)
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for number, (train_index, test_index) in enumerate(splitter.split(ids, stratify), start=1):
        train = [ids[i] for i in train_index]
        dev = []
        n_dev = _n_dev_speakers(len(train), dev_fraction, None)
        if n_dev:
            if n_dev >= len(train):
                raise EmoLobesError(f"dev_fraction {dev_fraction} leaves no training utterances",
                                    "use a dev_fraction below 1")
            train_labels = [emotions[i] for i in train_index] if emotions else None
            n_classes = len(set(train_labels)) if train_labels else 0
            usable = _stratify_labels(train_labels, 2) if min(n_dev, len(train) - n_dev) >= n_classes else None
            train, dev = train_test_split(train, test_size=n_dev, random_state=seed + number, stratify=usable)
        split = {"name": f"random_fold_{number}", "speaker_independent": False,
                 "train": sorted(train), "dev": sorted(dev), "test": sorted(ids[i] for i in test_index),
                 "train_speakers": [], "dev_speakers": [], "test_speakers": []}
        check_no_leakage(split, records)
        folds.append(split)
    return folds


def fixed_speaker_split(records, dev_speakers, test_speakers, name="fixed"):
    """A split given by speaker lists (e.g. CaFE with actors 9, 10 as dev and 11, 12 as test); the rest train.

    Arguments
    ---------
    records : list of dict
        Records with ``id`` and ``speaker``.
    dev_speakers, test_speakers : list
        Speaker ids as they are in the records (compared as strings).
    name : str
        The split's name.

    Returns
    -------
    dict
        The split.

    Raises
    ------
    EmoLobesError
        When a listed speaker is absent, listed twice, or a partition would be empty.

    Example
    -------
    >>> recs = [{"id": f"cafe_{a:02d}_{i}", "speaker": f"cafe_{a:02d}"} for a in range(1, 13) for i in range(2)]
    >>> split = fixed_speaker_split(recs, ["cafe_09", "cafe_10"], ["cafe_11", "cafe_12"])
    >>> len(split["train_speakers"]), split["dev"][:2]
    (8, ['cafe_09_0', 'cafe_09_1'])
    >>> try:
    ...     fixed_speaker_split(recs, ["cafe_09"], ["9"])
    ... except EmoLobesError as e:
    ...     print(e.problem)
    split 'fixed' names speakers absent from the records: 9
    """
    dev = {str(s) for s in dev_speakers}
    test = {str(s) for s in test_speakers}
    speakers = set(_sorted_speakers(records))
    missing = sorted((dev | test) - speakers)
    if missing:
        known = sorted(speakers)
        shown = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
        raise EmoLobesError(f"split '{name}' names speakers absent from the records: {', '.join(missing)}",
                            f"use speaker ids from the records ({shown})")
    both = sorted(dev & test)
    if both:
        raise EmoLobesError(f"split '{name}' puts speakers {', '.join(both)} in both dev and test",
                            "list each speaker once")
    return _make_split(name, records, speakers - dev - test, dev, test,
                       fix="list dev and test speakers so that each partition, train included, keeps a speaker")


def _speaker_genders(records):
    # speaker -> the gender most of their records give ('unknown' when absent).
    votes = defaultdict(Counter)
    for record in records:
        votes[str(record["speaker"])][str(record.get("gender") or "unknown")] += 1
    return {speaker: counts.most_common(1)[0][0] for speaker, counts in votes.items()}


def hold_out_speakers(records, n_test, n_dev, seed=0, balance_gender=True):
    """Hold ``n_test`` speakers out for test and ``n_dev`` for dev, drawn with ``seed``; the rest train.

    With ``balance_gender`` the speakers are drawn alternately from each gender (the gender whose turn comes
    first is drawn too), so two test speakers are one female and one male when both exist.

    Arguments
    ---------
    records : list of dict
        Records with ``id``, ``speaker`` and ideally ``gender``.
    n_test, n_dev : int
        Speakers held out for test and dev (``n_dev`` may be 0).
    seed : int
        Seeds the draw.
    balance_gender : bool
        Alternate genders while drawing.

    Returns
    -------
    dict
        The split, named ``holdout_<n_test>test_<n_dev>dev_seed<seed>``.

    Example
    -------
    >>> recs = [{"id": f"{g}{s}", "speaker": f"{g}{s}", "gender": {"f": "female", "m": "male"}[g]}
    ...         for g in "fm" for s in range(4)]
    >>> split = hold_out_speakers(recs, n_test=2, n_dev=2, seed=3)
    >>> sorted(s[0] for s in split["test_speakers"]), sorted(s[0] for s in split["dev_speakers"])
    (['f', 'm'], ['f', 'm'])
    """
    speakers = _sorted_speakers(records)
    if n_test < 1 or n_dev < 0 or n_test + n_dev >= len(speakers):
        raise EmoLobesError(f"cannot hold out {n_test} test and {n_dev} dev speakers of {len(speakers)}",
                            "hold out fewer speakers so that at least one is left for training")
    rng = random.Random(seed)
    if balance_gender:
        genders = _speaker_genders(records)
        pools = [[s for s in speakers if genders[s] == g] for g in sorted(set(genders.values()))]
        for pool in pools:
            rng.shuffle(pool)
        rng.shuffle(pools)
        drawn = []
        while any(pools):
            for pool in pools:
                if pool:
                    drawn.append(pool.pop())
    else:
        drawn = _cyclic_order(speakers, seed)
    test, dev = drawn[:n_test], drawn[n_test:n_test + n_dev]
    train = set(speakers) - set(test) - set(dev)
    return _make_split(f"holdout_{n_test}test_{n_dev}dev_seed{seed}", records, train, dev, test,
                       allow_empty_dev=n_dev == 0)


def select(records, ids):
    """The records with the given ids, in the order of ``ids``.

    Arguments
    ---------
    records : list of dict
        Records with ``id``.
    ids : list
        Ids to keep (e.g. ``split["train"]``).

    Returns
    -------
    list of dict
        The matching records.

    Example
    -------
    >>> recs = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    >>> select(recs, ["c", "a"])
    [{'id': 'c'}, {'id': 'a'}]
    """
    by_id = {record["id"]: record for record in records}
    unknown = [utt for utt in ids if utt not in by_id]
    if unknown:
        raise EmoLobesError(f"{len(unknown)} ids are not in the records (e.g. {unknown[0]})",
                            "rebuild the split from the current records")
    return [by_id[utt] for utt in ids]


def split_summary(split, records):
    """Counts per partition: utterances, speakers, total duration and emotions.

    Arguments
    ---------
    split : dict
        A split.
    records : list of dict
        The records it was made from.

    Returns
    -------
    dict
        ``{part: {"n_utterances", "n_speakers", "duration_s", "emotions"}}`` for train, dev and test.

    Example
    -------
    >>> recs = [{"id": "a", "speaker": "s1", "emotion": "sad", "duration": 1.0},
    ...         {"id": "b", "speaker": "s2", "emotion": "sad", "duration": 2.5},
    ...         {"id": "c", "speaker": "s3", "emotion": "angry", "duration": 2.0}]
    >>> split_summary(fixed_speaker_split(recs, ["s2"], ["s3"]), recs)["test"]
    {'n_utterances': 1, 'n_speakers': 1, 'duration_s': 2.0, 'emotions': {'angry': 1}}
    """
    summary = {}
    for part in PARTITIONS:
        chosen = select(records, split[part])
        summary[part] = {
            "n_utterances": len(chosen),
            "n_speakers": len({str(r["speaker"]) for r in chosen if r.get("speaker") not in (None, "")}),
            "duration_s": round(sum(float(r.get("duration", 0.0)) for r in chosen), 3),
            "emotions": dict(sorted(Counter(str(r.get("emotion")) for r in chosen).items())),
        }
    return summary
