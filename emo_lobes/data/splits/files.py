"""Splits that travel: split files (JSON lists of ids or wav paths), EmoBox fold files and SpeechBrain manifests.

A split file, as ``python -m emo_lobes.data.splits make`` and every run write it (only ``train`` and ``test`` are
required; a missing ``dev`` lets the declaration's ``dev`` rule draw one, an empty one means no dev set)::

    {"corpus": "urdu", "name": "fold_1", "train": ["Angry/SM1_F1_A01.wav", ...], "dev": [...], "test": [...],
     "speaker_independent": true, "speakers": {"train": [...], ...}, "counts": {"train": {"angry": 61, ...}, ...}}

Entries are utterance ids or wav paths relative to the corpus root. EmoBox (``data/<corpus>/fold_<k>/
<corpus>_{train,test}_fold_<k>.jsonl``, one ``{"key", "wav", "emo", ...}`` per line) and SpeechBrain's IEMOCAP recipe
(``train.json``, ``valid.json``, ``test.json``: ``{id: {"wav", "length", "emo"}}``) name files by paths from their
own download folders: those are matched to the corpus's files by their longest common path ending.
"""
import glob
import json
import os
import unicodedata
from collections import Counter

from emo_lobes.data.manifest import write_json_atomic
from emo_lobes.errors import EmoLobesError

PARTS = ("train", "dev", "test")


def _norm_path(path):
    # Comparable form of a path: NFC, forward slashes, no leading './'.
    path = unicodedata.normalize("NFC", str(path)).replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _read_json(path, what):
    if not os.path.isfile(path):
        raise EmoLobesError(f"{what} {path} does not exist", "pass the path of an existing file")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError as err:
        raise EmoLobesError(f"{what} {path} is not valid JSON ({err})", "fix or rewrite the file") from None


def read_split_file(path):
    """Read a split file: its partition lists and the rest of its keys.

    Arguments
    ---------
    path : str
        A JSON file with ``train`` and ``test`` lists (``dev`` optional).

    Returns
    -------
    lists : dict
        ``{"train": [...], "test": [...]}`` and ``"dev"`` when the file has it.
    meta : dict
        Every other key of the file.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "split.json")
    >>> _ = write_json_atomic({"train": ["a.wav"], "test": ["b.wav"], "name": "mine"}, path)
    >>> read_split_file(path)
    ({'train': ['a.wav'], 'test': ['b.wav']}, {'name': 'mine'})
    """
    content = _read_json(path, "split file")
    fix = 'write it as {"train": [...], "dev": [...], "test": [...]} (ids or wav paths relative to the corpus root)'
    if not isinstance(content, dict) or not all(isinstance(content.get(part), list) for part in ("train", "test")):
        raise EmoLobesError(f"split file {path} has no train and test lists", fix)
    if "dev" in content and not isinstance(content["dev"], list):
        raise EmoLobesError(f"split file {path} has a dev entry that is not a list", fix)
    lists = {part: [str(entry) for entry in content[part]] for part in PARTS if part in content}
    meta = {key: value for key, value in content.items() if key not in PARTS}
    return lists, meta


def _entries_of(path):
    # The entries of one EmoBox or SpeechBrain file: wav paths (or keys where an entry has no wav).
    if path.endswith(".jsonl"):
        entries = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except ValueError:
                        item = None
                    if not isinstance(item, dict) or not (item.get("wav") or item.get("key")):
                        raise EmoLobesError(f"{path} line {number} is not a JSON object with a wav or key",
                                            "pass EmoBox's fold files") from None
                    entries.append(str(item.get("wav") or item.get("key")))
        return entries
    content = _read_json(path, "fold file")
    if isinstance(content, dict):
        return [str(item.get("wav") or key) if isinstance(item, dict) else str(key) for key, item in content.items()]
    raise EmoLobesError(f"{path} is not a JSON object of utterances", "pass EmoBox's or SpeechBrain's files")


def read_emobox_fold(folder, fold):
    """The train/test (and dev, where present) entries of one EmoBox fold.

    Arguments
    ---------
    folder : str
        EmoBox's ``data/<corpus>`` folder (holding ``fold_<k>/``), or a ``fold_<k>`` folder itself.
    fold : int
        The fold number.

    Returns
    -------
    dict
        ``{"train": [wav paths], "test": [...]}`` (``.jsonl`` files preferred over ``.json``).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "fold_1"))
    >>> for part in ("train", "test"):
    ...     with open(os.path.join(root, "fold_1", f"emodb_{part}_fold_1.jsonl"), "w") as f:
    ...         _ = f.write(json.dumps({"key": f"emodb-{part}", "wav": f"downloads/emodb/wav/{part}.wav"}) + "\\n")
    >>> read_emobox_fold(root, 1)
    {'train': ['downloads/emodb/wav/train.wav'], 'test': ['downloads/emodb/wav/test.wav']}
    """
    fold = int(fold)
    base = folder if os.path.basename(os.path.normpath(folder)) == f"fold_{fold}" else os.path.join(folder, f"fold_{fold}")
    if not os.path.isdir(base):
        raise EmoLobesError(f"EmoBox folder {folder} has no fold_{fold}/",
                            "pass EmoBox's data/<corpus> folder and a fold it has")
    lists = {}
    for part, names in (("train", ("train",)), ("dev", ("valid", "dev")), ("test", ("test",))):
        for name in names:
            found = sorted(glob.glob(os.path.join(base, f"*_{name}_fold_{fold}.jsonl"))) or \
                sorted(glob.glob(os.path.join(base, f"*_{name}_fold_{fold}.json")))
            if found:
                lists[part] = _entries_of(found[0])
                break
    if "train" not in lists or "test" not in lists:
        raise EmoLobesError(f"EmoBox fold folder {base} has no *_train_fold_{fold} and *_test_fold_{fold} files",
                            "pass EmoBox's data/<corpus> folder")
    return lists


def read_speechbrain_manifests(folder):
    """The entries of SpeechBrain's IEMOCAP recipe manifests (``train.json``, ``valid.json``, ``test.json``).

    Arguments
    ---------
    folder : str
        The folder holding the three manifests (``valid.json`` optional).

    Returns
    -------
    dict
        ``{"train": [wav paths], "dev": [...], "test": [...]}``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for part in ("train", "valid", "test"):
    ...     _ = write_json_atomic({f"u_{part}": {"wav": f"/d/Session1/{part}.wav", "length": 1.0, "emo": "neu"}},
    ...                           os.path.join(root, f"{part}.json"))
    >>> read_speechbrain_manifests(root)["dev"]
    ['/d/Session1/valid.wav']
    """
    lists = {}
    for part, name in (("train", "train.json"), ("dev", "valid.json"), ("test", "test.json")):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            lists[part] = _entries_of(path)
    if "train" not in lists or "test" not in lists:
        raise EmoLobesError(f"SpeechBrain manifest folder {folder} has no train.json and test.json",
                            "pass the folder SpeechBrain's IEMOCAP recipe wrote its manifests to")
    return lists


def _matcher(records, suffix_match):
    # entry -> id: by id, by wav path, and (published formats) by the longest path ending that one file has.
    by_id = {str(record["id"]): str(record["id"]) for record in records}
    by_wav = {_norm_path(record["wav"]): str(record["id"]) for record in records if "wav" in record}
    endings = {}
    if suffix_match:
        for wav, utt in by_wav.items():
            parts = wav.split("/")
            for start in range(len(parts)):
                endings.setdefault("/".join(parts[start:]), set()).add(utt)

    def match(entry):
        if entry in by_id:
            return by_id[entry]
        path = _norm_path(entry)
        if path in by_wav:
            return by_wav[path]
        if suffix_match:
            parts = path.split("/")
            for start in range(len(parts)):
                found = endings.get("/".join(parts[start:]))
                if found and len(found) == 1:
                    return next(iter(found))
                if found:
                    return None  # ambiguous ending: stop before it gets shorter
        return None
    return match


def split_from_lists(records, lists, name="split_file", corpus="corpus", allow_speaker_overlap=False,
                     suffix_match=False, known=None, unusable=(), root=None):
    """A split from partition lists of ids or wav paths; utterances in no list are left out and counted.

    Arguments
    ---------
    records : list of dict
        The corpus's records (``id``, ``wav``, ``speaker``).
    lists : dict
        ``{"train": [...], "test": [...]}``, optionally ``"dev"`` (missing: no dev list given).
    name : str
        The split's name.
    corpus : str
        For messages.
    allow_speaker_overlap : bool
        Accept speakers in several partitions (the split is then not speaker-independent).
    suffix_match : bool
        Match paths of another download folder by their ending (EmoBox, SpeechBrain).
    known : list of dict, optional
        Every record of the corpus before class selection (default ``records``): entries matching one of these
        but not ``records`` are left out and counted in ``n_not_selected``.
    unusable : iterable of str
        Wav paths the parser skipped (unreadable, non-finite, truncated audio): entries naming them are left out,
        counted in ``n_unusable`` and warned about.
    root : str, optional
        The corpus root: absolute entries below it are read relative to it.

    Returns
    -------
    dict
        The split, with ``n_left_out``, ``n_not_selected`` and ``has_dev_list``.

    Example
    -------
    >>> recs = [{"id": f"u{i}", "wav": f"s{i % 3}/u{i}.wav", "speaker": f"s{i % 3}"} for i in range(6)]
    >>> split = split_from_lists(recs, {"train": ["s0/u0.wav", "u3", "s1/u1.wav"], "test": ["s2/u2.wav"]})
    >>> split["train"], split["test"], split["n_left_out"], split["speaker_independent"]
    (['u0', 'u1', 'u3'], ['u2'], 2, True)
    >>> kept = [r for r in recs if r["id"] != "u3"]   # u3's class is not used
    >>> split_from_lists(kept, {"train": ["u0", "u3", "u1"], "test": ["u2"]}, known=recs)["n_not_selected"]
    [splits] note: split split_file of corpus lists 1 utterances of classes (or filtered out) this run does not use; they are left out
    1
    >>> try:
    ...     split_from_lists(recs, {"train": ["u0"], "test": ["u3"]})
    ... except EmoLobesError as err:
    ...     print(err.problem)
    split split_file of corpus puts speaker s0 in both train and test
    """
    match = _matcher((records if known is None else known) + [{"id": f"\0unusable:{path}", "wav": path}
                                                             for path in unusable], suffix_match)
    selected = {str(record["id"]) for record in records}
    not_selected, skipped = 0, []
    speaker_of = {str(record["id"]): str(record.get("speaker")) for record in records}
    split = {"name": name, "has_dev_list": "dev" in lists}
    part_of = {}
    for part in PARTS:
        ids = []
        unmatched = []
        for entry in lists.get(part) or []:
            entry = str(entry)
            if root and os.path.isabs(entry) and _norm_path(entry).startswith(_norm_path(os.path.abspath(root)) + "/"):
                entry = _norm_path(entry)[len(_norm_path(os.path.abspath(root))) + 1:]
            utt = match(entry)
            if utt is None:
                unmatched.append(str(entry))
                continue
            if utt.startswith("\0unusable:"):
                skipped.append(utt.split(":", 1)[1])
                continue
            if utt not in selected:
                not_selected += 1
                continue
            if utt in part_of:
                raise EmoLobesError(f"split {name} of {corpus} lists {entry} in both {part_of[utt]} and {part}",
                                    "list each utterance once")
            part_of[utt] = part
            ids.append(utt)
        if unmatched:
            raise EmoLobesError(
                f"split {name} of {corpus}: {len(unmatched)} {part} entries match no file of the corpus "
                f"(e.g. {', '.join(unmatched[:3])})",
                "list utterance ids or wav paths relative to the corpus root, and check the corpus folder",
            )
        split[part] = sorted(ids)
        split[f"{part}_speakers"] = sorted({speaker_of[utt] for utt in ids})
    shared = Counter(speaker for part in PARTS for speaker in split[f"{part}_speakers"])
    overlap = sorted(speaker for speaker, count in shared.items() if count > 1)
    if overlap and not allow_speaker_overlap:
        parts = [part for part in PARTS if overlap[0] in split[f"{part}_speakers"]]
        raise EmoLobesError(
            f"split {name} of {corpus} puts speaker {overlap[0]} in both {parts[0]} and {parts[1]}"
            f"{f' ({len(overlap)} speakers shared)' if len(overlap) > 1 else ''}",
            "accept it with allow_speaker_overlap: true in the corpus's split (single-corpus runs: "
            "--split=\"{emobox: PATH, allow_speaker_overlap: true}\", likewise file: or speechbrain:; recorded in "
            "splits/<corpus>.json and test_results.json), or give a speaker-independent split",
        )
    split["speaker_independent"] = not overlap
    split["allow_speaker_overlap"] = bool(allow_speaker_overlap)
    split["n_left_out"] = len(records) - len(part_of)
    split["n_not_selected"] = not_selected
    split["n_unusable"] = len(skipped)
    if not_selected:
        print(f"[splits] note: split {name} of {corpus} lists {not_selected} utterances of classes (or filtered out) "
              "this run does not use; they are left out", flush=True)
    if skipped:
        print(f"[splits] warning: split {name} of {corpus} lists {len(skipped)} files the corpus parser skipped as "
              f"unusable (e.g. {skipped[0]}); they are left out", flush=True)
    if not split["train"] or not split["test"]:
        raise EmoLobesError(f"split {name} of {corpus} has an empty train or test list", "give both")
    return split


def split_file_dict(split, records, corpus, label_key="emotion"):
    """The split-file form of a split: wav paths per partition, speakers, class counts and provenance.

    Arguments
    ---------
    split : dict
        A split (ids).
    records : list of dict
        Its records (``id``, ``wav``, ``speaker``, the class in ``label_key``).
    corpus : str
        The corpus's name.
    label_key : str
        The record field holding the class.

    Returns
    -------
    dict
        JSON-ready; :func:`read_split_file` reads it back.

    Example
    -------
    >>> recs = [{"id": "a", "wav": "x/a.wav", "speaker": "s1", "emotion": "sad"},
    ...         {"id": "b", "wav": "x/b.wav", "speaker": "s2", "emotion": "sad"}]
    >>> d = split_file_dict({"name": "n", "train": ["a"], "dev": [], "test": ["b"]}, recs, "mine")
    >>> d["train"], d["test"], d["counts"]["test"]
    (['x/a.wav'], ['x/b.wav'], {'sad': 1})
    """
    by_id = {str(record["id"]): record for record in records}
    out = {"corpus": corpus}
    for key in ("name", "method", "fold", "speaker_independent", "allow_speaker_overlap", "speaker_dependent_dev",
                "n_left_out", "n_not_selected", "n_unusable", "warnings"):
        if key in split:
            out[key] = split[key]
    for part in PARTS:
        out[part] = [str(by_id[utt]["wav"]) for utt in split.get(part, [])]
    out["speakers"] = {part: sorted({str(by_id[utt].get("speaker")) for utt in split.get(part, [])})
                       for part in PARTS}
    counts = {}
    for part in PARTS:
        counter = Counter(str(by_id[utt].get(label_key)) for utt in split.get(part, []))
        counts[part] = dict(sorted(counter.items()))
    out["counts"] = counts
    return out


def write_split_file(split, records, path, corpus, label_key="emotion"):
    """Write a split as a split file (see :func:`split_file_dict`), atomically.

    Example
    -------
    >>> import tempfile
    >>> recs = [{"id": "a", "wav": "a.wav", "speaker": "s1", "emotion": "sad"},
    ...         {"id": "b", "wav": "b.wav", "speaker": "s2", "emotion": "sad"}]
    >>> path = write_split_file({"name": "n", "train": ["a"], "dev": [], "test": ["b"]}, recs,
    ...                         os.path.join(tempfile.mkdtemp(), "split.json"), "mine")
    >>> read_split_file(path)[0]
    {'train': ['a.wav'], 'dev': [], 'test': ['b.wav']}
    """
    return write_json_atomic(split_file_dict(split, records, corpus, label_key), path)
