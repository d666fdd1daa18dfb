"""Class selection: merge label values, keep the asked classes, and refuse a class list the corpus cannot give."""
from collections import Counter

from emo_lobes.errors import EmoLobesError

#: Classes dropped when a declaration lists no emotions: annotators did not agree on them.
DROPPED_BY_DEFAULT = ("undecided",)


def select_classes(records, emotions=None, merge=None, label_key="emotion", corpus="corpus", missing="error"):
    """Merge classes, then keep the records of the asked classes.

    Arguments
    ---------
    records : list of dict
        Parsed records.
    emotions : list of str, optional
        Classes to keep, after merging, in label order (``None``: every class but ``undecided``).
    merge : dict, optional
        ``{value: value it becomes}``, e.g. ``{"excited": "happy"}`` (IEMOCAP's usual 4 classes).
    label_key : str
        The field holding the class (``emotion``, the canonical name, or ``label``, the corpus's own label).
    corpus : str
        For messages.
    missing : str
        ``'error'``: an asked class with no utterance is an error naming it; ``'drop'``: it is left out of the
        labels (a recipe whose class list is a maximum, e.g. LanguageMTL's five classes "where the corpus has
        them").

    Returns
    -------
    records : list of dict
        Copies of the kept records, ``label_key`` merged.
    labels : list of str
        The classes, in the order of ``emotions`` (sorted when ``emotions`` is None).

    Example
    -------
    >>> recs = [{"id": i, "emotion": e} for i, e in enumerate(["happy", "excited", "frustration", "sad"])]
    >>> kept, labels = select_classes(recs, ["sad", "happy"], {"excited": "happy"})
    >>> [r["emotion"] for r in kept], labels
    (['happy', 'happy', 'sad'], ['sad', 'happy'])
    >>> try:
    ...     select_classes(recs, ["sad", "fear", "happy"], corpus="mine")
    ... except EmoLobesError as err:
    ...     print(err.problem)
    corpus mine has no utterance of the asked class 'fear' (it has excited, frustration, happy, sad)
    """
    if missing not in ("error", "drop"):
        raise EmoLobesError(f"unknown missing='{missing}'", "use 'error' or 'drop'")
    merge = dict(merge or {})
    found = Counter()
    kept = []
    for record in records:
        if label_key not in record:
            raise EmoLobesError(f"record {record.get('id')} of {corpus} has no '{label_key}'",
                                "use label_key emotion or label, or fix the parser")
        value = str(record[label_key])
        value = str(merge.get(value, value))
        found[value] += 1
        if (value in emotions) if emotions is not None else (value not in DROPPED_BY_DEFAULT):
            kept.append(dict(record, **{label_key: value}))
    if emotions is None:
        labels = sorted({str(record[label_key]) for record in kept})
    else:
        absent = [str(cls) for cls in emotions if not found[str(cls)]]
        if absent and missing == "error":
            raise EmoLobesError(
                f"corpus {corpus} has no utterance of the asked class{'es' if len(absent) > 1 else ''} "
                f"{', '.join(repr(cls) for cls in absent)} (it has {', '.join(sorted(found))})",
                f"list classes the corpus has in corpora.{corpus}.emotions, or map them with corpora.{corpus}.merge",
            )
        labels = [str(cls) for cls in emotions if found[str(cls)]]
    if len(labels) < 2:
        raise EmoLobesError(f"corpus {corpus} has {len(labels)} class(es) left after selecting {emotions}",
                            "a classifier needs at least two classes: choose classes the corpus has "
                            "(python -m emo_lobes.data.corpora summarize)")
    return kept, labels
