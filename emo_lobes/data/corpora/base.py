"""What every corpus parser returns: records with one schema, and the problems met on the way."""
import hashlib
import os
import statistics
import unicodedata
from collections import Counter, defaultdict

from emo_lobes.data.audio import audio_defect, audio_info
from emo_lobes.errors import EmoLobesError
from emo_lobes.progress import progress

#: Fields every record has.
REQUIRED_FIELDS = (
    "id", "wav", "duration", "sample_rate", "channels", "speaker", "gender",
    "language", "corpus", "label", "emotion",
)
#: Fields a record has where its corpus provides them.
OPTIONAL_FIELDS = (
    "session", "style", "improvised", "intensity", "text_id", "text", "annotations", "self_annotations",
    "dim_annotations", "vad", "start", "end",
)

AUDIO_EXTENSIONS = (".wav", ".flac")


class ParsedCorpus:
    """The records of one corpus folder, and what was wrong in it.

    Arguments
    ---------
    corpus : str
        Registry name (``iemocap``, ``emodb`` ...).
    data_folder : str
        The corpus root as given by the user.
    records : list of dict
        One dict per usable utterance, with :data:`REQUIRED_FIELDS` and some :data:`OPTIONAL_FIELDS`.
        ``wav`` is relative to ``data_folder`` (manifests write it as ``{data_root}/<wav>``).
    problems : list of str
        One line per skipped file or inconsistency (corrupt audio, label without audio, ...).

    Example
    -------
    >>> rec = {"id": "a", "speaker": "s1", "label": "W", "emotion": "angry", "gender": "male", "duration": 1.5}
    >>> parsed = ParsedCorpus("emodb", "/x", [rec], ["b.wav: corrupt"])
    >>> parsed.summary()["labels"], parsed.summary()["n_speakers"]
    ({'W': 1}, 1)
    >>> rec2 = dict(rec, id="c", duration=2.5)
    >>> {k: ParsedCorpus("emodb", "/x", [rec, rec2]).summary()["duration_s"][k] for k in ("mean", "std")}
    {'mean': 2.0, 'std': 0.5}
    """

    def __init__(self, corpus, data_folder, records, problems=()):
        self.corpus = corpus
        self.data_folder = str(data_folder)
        self.records = list(records)
        self.problems = list(problems)

    def __len__(self):
        return len(self.records)

    def summary(self):
        """Counts per label, emotion, speaker and gender, durations, rates, channels and problems.

        Returns
        -------
        dict
            JSON-serialisable summary (``corpus``, ``n_utterances``, ``n_speakers``, ``labels``,
            ``emotions``, ``speakers``, ``genders``, ``duration_s`` (``total``, ``min``, ``median``, ``max``,
            ``mean``, ``std``: the population standard deviation), ``sample_rates``, ``channels``, ``problems``).
        """
        recs = self.records
        durations = sorted(r.get("duration", 0.0) for r in recs)
        count = lambda key: dict(sorted(Counter(str(r.get(key)) for r in recs).items()))  # noqa: E731
        return {
            "corpus": self.corpus,
            "data_folder": self.data_folder,
            "n_utterances": len(recs),
            "n_speakers": len({r["speaker"] for r in recs}),
            "labels": count("label"),
            "emotions": count("emotion"),
            "speakers": count("speaker"),
            "genders": count("gender"),
            "duration_s": {
                "total": round(sum(durations), 3),
                "min": round(durations[0], 3) if durations else 0.0,
                "median": round(durations[len(durations) // 2], 3) if durations else 0.0,
                "max": round(durations[-1], 3) if durations else 0.0,
                "mean": round(statistics.fmean(durations), 3) if durations else 0.0,
                "std": round(statistics.pstdev(durations), 3) if durations else 0.0,
            },
            "sample_rates": count("sample_rate"),
            "channels": count("channels"),
            "problems": list(self.problems),
        }


def check_data_folder(data_folder, corpus, hint):
    """Fail with one line when ``data_folder`` is missing, not a folder, unreadable or empty.

    Arguments
    ---------
    data_folder : str
        The folder the user passed.
    corpus : str
        Corpus name, for the message.
    hint : str
        What the folder should contain (e.g. ``"Session1..Session5"``).

    Returns
    -------
    str
        The absolute path.

    Example
    -------
    >>> try:
    ...     check_data_folder("/no/such/dir", "emodb", "wav/*.wav")
    ... except EmoLobesError as e:
    ...     print(e)
    emodb data folder /no/such/dir does not exist. Fix: pass --data_folder=<the folder that holds wav/*.wav>
    """
    fix = f"pass --data_folder=<the folder that holds {hint}>"
    if not data_folder or not os.path.exists(data_folder):
        raise EmoLobesError(f"{corpus} data folder {data_folder} does not exist", fix)
    if not os.path.isdir(data_folder):
        raise EmoLobesError(f"{corpus} data folder {data_folder} is not a folder", fix)
    try:
        entries = os.listdir(data_folder)
    except OSError:
        raise EmoLobesError(f"{corpus} data folder {data_folder} cannot be read", "check its permissions") from None
    if not entries:
        raise EmoLobesError(f"{corpus} data folder {data_folder} is empty", fix)
    return os.path.abspath(data_folder)


def find_audio_files(root, extensions=AUDIO_EXTENSIONS):
    """All audio files below ``root``, as sorted paths relative to it (hidden files and ``._*`` skipped).

    Arguments
    ---------
    root : str
        The corpus root.
    extensions : tuple of str
        The file endings that count as audio, in lower case (default WAV and FLAC).

    Returns
    -------
    list of str
        Relative paths with ``/`` separators.

    Example
    -------
    >>> import tempfile
    >>> d = tempfile.mkdtemp(); os.makedirs(os.path.join(d, "a"))
    >>> for name in ("a/x.wav", "a/._x.wav", "b.txt"):
    ...     open(os.path.join(d, name), "w").close()
    >>> find_audio_files(d), find_audio_files(d, (".txt",))
    (['a/x.wav'], ['b.txt'])
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(extensions):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def duplicate_audio_groups(root, rel_paths, chunk_size=1 << 20):
    """Groups of byte-identical files among ``rel_paths``: sizes compared first, then the SHA-1 of same-sized files.

    Only files that share their size with another one are read, so a corpus without duplicates costs one
    ``stat`` per file. Files that cannot be read are left out.

    Arguments
    ---------
    root : str
        The corpus root.
    rel_paths : iterable of str
        Paths relative to ``root`` (e.g. :func:`find_audio_files`); repeats count once.
    chunk_size : int
        Bytes read at a time while hashing.

    Returns
    -------
    list of list of str
        One list per group of two or more identical files, each in sorted path order; groups sorted by their
        first path. Empty when every file is unique.

    Example
    -------
    >>> import tempfile
    >>> d = tempfile.mkdtemp(); os.makedirs(os.path.join(d, "a"))
    >>> for name, content in (("a/x.wav", "same"), ("y.wav", "same"), ("z.wav", "diff"), ("w.wav", "long")):
    ...     _ = open(os.path.join(d, name), "w").write(content)
    >>> groups = duplicate_audio_groups(d, find_audio_files(d))
    >>> len(groups), [len(group) for group in groups], groups[0]
    (1, [2], ['a/x.wav', 'y.wav'])
    >>> duplicate_audio_groups(d, ["z.wav", "w.wav", "z.wav"])
    []
    """
    by_size = defaultdict(list)
    for rel_path in sorted(set(rel_paths)):
        try:
            by_size[os.path.getsize(os.path.join(root, rel_path))].append(rel_path)
        except OSError:
            continue
    groups = []
    for paths in by_size.values():
        if len(paths) < 2:
            continue
        by_digest = defaultdict(list)
        for rel_path in paths:
            digest = hashlib.sha1()
            try:
                with open(os.path.join(root, rel_path), "rb") as audio_file:
                    for chunk in iter(lambda: audio_file.read(chunk_size), b""):
                        digest.update(chunk)
            except OSError:
                continue
            by_digest[digest.digest()].append(rel_path)
        groups += [group for group in by_digest.values() if len(group) > 1]
    return sorted(groups)


def nfc(text):
    """Unicode NFC form, so ``Colère`` matches whichever normal form the file system returned.

    Example
    -------
    >>> nfc("Cole\\u0300re") == "Col\\u00e8re"
    True
    """
    return unicodedata.normalize("NFC", text)


def audio_record(root, rel_path, problems, **fields):
    """Build one record from a file's header plus the parser's fields; ``None`` (and a problem) if unreadable.

    Arguments
    ---------
    root : str
        Corpus root.
    rel_path : str
        Path of the audio relative to ``root``.
    problems : list
        Receives one line when the file is corrupt or empty.
    **fields
        The parser's fields (``id``, ``speaker``, ``label`` ...).

    Returns
    -------
    dict or None
        The record, or ``None`` when the audio is unusable.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> d = tempfile.mkdtemp(); sf.write(os.path.join(d, "x.wav"), np.zeros(1600), 16000)
    >>> open(os.path.join(d, "bad.wav"), "w").write("not audio")
    9
    >>> problems = []
    >>> audio_record(d, "x.wav", problems, id="x")["duration"]
    0.1
    >>> audio_record(d, "bad.wav", problems, id="bad"), len(problems)
    (None, 1)
    """
    try:
        info = audio_info(os.path.join(root, rel_path))
    except EmoLobesError as err:
        problems.append(f"{rel_path}: unreadable audio, skipped ({err.problem})")
        return None
    if info.frames == 0:
        problems.append(f"{rel_path}: audio holds no samples, skipped")
        return None
    defect = audio_defect(os.path.join(root, rel_path), info)
    if defect:
        problems.append(f"{rel_path}: {defect}, skipped")
        return None
    record = {
        "id": fields.pop("id"),
        "wav": rel_path,
        "duration": round(info.duration, 4),
        "sample_rate": info.sample_rate,
        "channels": info.channels,
    }
    record.update(fields)
    return record


def parse_files(root, rel_paths, record_fields, problems, repeat="a second file named"):
    """Records of the audio files ``rel_paths``, each file's fields decoded by ``record_fields``.

    The loop the file-name parsers share: a file that ``record_fields`` rejects is skipped, a file whose ``id``
    a kept record already has is noted and skipped, and the others go through :func:`audio_record`.

    Arguments
    ---------
    root : str
        Corpus root.
    rel_paths : list of str
        Audio paths relative to ``root``, in the order the records should have.
    record_fields : callable
        ``record_fields(rel_path, problems)``: the record's fields (``id`` first, then ``speaker``, ``label``
        ... in record order), or ``None`` when the file is not the corpus's, after noting why in ``problems``.
    problems : list
        Receives one line per skipped file.
    repeat : str
        How the problem line calls a second file with a kept id (``"{rel_path}: <repeat> {id}, skipped"``).

    Returns
    -------
    list of dict
        The records, in the order of ``rel_paths``.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> d = tempfile.mkdtemp(); os.makedirs(os.path.join(d, "b"))
    >>> for name in ("a.wav", "b/a.wav", "c.wav"):
    ...     sf.write(os.path.join(d, name), np.zeros(160), 16000)
    >>> def fields(rel_path, problems):
    ...     stem = os.path.splitext(os.path.basename(rel_path))[0]
    ...     if stem == "c":
    ...         problems.append(f"{rel_path}: not a corpus name, skipped")
    ...         return None
    ...     return {"id": stem, "label": stem.upper()}
    >>> problems = []
    >>> [r["wav"] for r in parse_files(d, find_audio_files(d), fields, problems)]
    ['a.wav']
    >>> problems
    ['b/a.wav: a second file named a, skipped', 'c.wav: not a corpus name, skipped']
    """
    records, seen_ids = [], set()
    for rel_path in progress(rel_paths, f"[prep] reading {os.path.basename(os.path.normpath(root))}"):
        fields = record_fields(rel_path, problems)
        if fields is None:
            continue
        if fields["id"] in seen_ids:
            problems.append(f"{rel_path}: {repeat} {fields['id']}, skipped")
            continue
        record = audio_record(root, rel_path, problems, **fields)
        if record is not None:
            seen_ids.add(record["id"])
            records.append(record)
    return records


def parsed_corpus(corpus, data_folder, records, problems, nothing_found, fix):
    """The :class:`ParsedCorpus` a parser returns, or one line of failure when no file made a record.

    Arguments
    ---------
    corpus : str
        Registry name.
    data_folder : str
        The corpus root as given by the user.
    records : list of dict
        The records found.
    problems : list of str
        The problems met.
    nothing_found : str
        The error's problem when ``records`` is empty (the number of problems is appended).
    fix : str
        The error's fix.

    Returns
    -------
    ParsedCorpus
        The records and problems.

    Example
    -------
    >>> len(parsed_corpus("emodb", "/x", [{"id": "a", "speaker": "s"}], [], "no EmoDB files in /x", "fix it"))
    1
    >>> try:
    ...     parsed_corpus("emodb", "/x", [], ["a.wav: odd"], "no EmoDB files in /x", "point at EmoDB")
    ... except EmoLobesError as e:
    ...     print(e)
    no EmoDB files in /x (1 problems). Fix: point at EmoDB
    """
    if not records:
        raise EmoLobesError(f"{nothing_found} ({len(problems)} problems)", fix)
    return ParsedCorpus(corpus, data_folder, records, problems)
