"""SpeechBrain JSON manifests written atomically, option-aware prep skipping, and the problems report.

The manifest format is the one ``sb.dataio.dataset.DynamicItemDataset.from_json`` reads::

    {"<id>": {"wav": "{data_root}/<wav relative to the corpus root>", "duration": 2.1, ...}, ...}

SpeechBrain's JSON loader (``speechbrain.dataio.dataio.load_data_json``) fills placeholders with
``str.format_map``, so the placeholder is ``{data_root}`` (the ``$data_root`` form is only understood by its CSV
loader), and any literal brace in another string field is written doubled (``{{``) so it loads back unchanged.
Recipes load a manifest with::

    sb.dataio.dataset.DynamicItemDataset.from_json(path, replacements={"data_root": data_folder})

The prep pattern every recipe's ``prepare.py`` follows (it runs under
``speechbrain.utils.distributed.run_on_main``, so only the main process writes and the others wait)::

    def prepare_corpus(data_folder, save_folder, seed=0, skip_prep=False):
        options = {"corpus": "emodb", "data_folder": os.path.abspath(data_folder), "seed": seed}
        outputs = ["train.json", "valid.json", "test.json"]
        if skip_prep or prep_is_current(save_folder, options, outputs):
            return                                    # same options, all outputs there: nothing to do
        assert_not_inside(save_folder, data_folder)   # the data folder is read-only
        check_output_folder_writable(save_folder)
        ...                                           # parse, split, write_manifest(...) per output
        write_problems_report(parsed.problems, os.path.join(save_folder, "problems.txt"))
        save_prep_options(save_folder, options)       # last: a prep killed half-way is redone next time
"""
import json
import os
import tempfile

from speechbrain.dataio.dataio import load_data_json

from emo_lobes.errors import EmoLobesError

#: File, inside a prep output folder, that records the options the manifests were built with.
PREP_OPTIONS_FILE = "prep_options.json"
#: Manifest field holding the wav path relative to its corpus root, as the record has it: predictions carry it
#: (``test_results.json``'s ``wav``), so two systems' predictions can be paired whatever their data folders.
RELATIVE_WAV_FIELD = "rel_wav"


def check_output_folder_writable(folder):
    """Create ``folder`` when missing, or fail with one line when it cannot be created or written.

    Arguments
    ---------
    folder : str
        An output folder (manifests, results, checkpoints).

    Returns
    -------
    str
        The absolute path of the folder.

    Example
    -------
    >>> d = tempfile.mkdtemp()
    >>> os.path.isdir(check_output_folder_writable(os.path.join(d, "new", "sub")))
    True
    >>> open(os.path.join(d, "a_file"), "w").close()
    >>> try:
    ...     check_output_folder_writable(os.path.join(d, "a_file", "sub"))
    ... except EmoLobesError as e:
    ...     print(str(e).split(" (")[0])
    cannot create output folder .../a_file/sub
    """
    fix = "pass an output folder you can write to"
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise EmoLobesError(f"cannot create output folder {folder} ({err.strerror})", fix) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EmoLobesError(f"output folder {folder} is not writable", fix)
    return os.path.abspath(folder)


def assert_not_inside(output_folder, data_folder):
    """Fail when ``output_folder`` is ``data_folder`` or lies below it: data folders are never written to.

    Symbolic links are resolved first, so a link into the data folder is caught too.

    Arguments
    ---------
    output_folder : str
        Where something is about to be written.
    data_folder : str or None
        The user's corpus folder (``None`` skips the check).

    Example
    -------
    >>> assert_not_inside("/exp/emodb", "/data/emodb")
    >>> try:
    ...     assert_not_inside("/data/emodb/manifests", "/data/emodb")
    ... except EmoLobesError as e:
    ...     print(e.problem)
    output folder /data/emodb/manifests is inside the data folder /data/emodb, which emo-lobes never writes to
    """
    if data_folder is None:
        return
    output_real = os.path.realpath(output_folder)
    data_real = os.path.realpath(data_folder)
    if os.path.commonpath([output_real, data_real]) == data_real:
        raise EmoLobesError(
            f"output folder {output_folder} is inside the data folder {data_folder}, which emo-lobes never writes to",
            f"pass an output folder outside {data_folder}",
        )


def _jsonable(value):
    # json's ``default`` hook: numpy scalars/arrays and torch tensors become Python numbers and lists.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _umask():
    # The process's umask (reading it means setting it; it is put back at once).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(text, path):
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader never sees a half-written file, and a crash leaves the previous version in place.

    Arguments
    ---------
    text : str
        The content (UTF-8).
    path : str
        The destination; its folder is created when missing.

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> path = os.path.join(tempfile.mkdtemp(), "out", "note.txt")
    >>> open(write_text_atomic("hello\\n", path)).read()
    'hello\\n'
    >>> sorted(os.listdir(os.path.dirname(path)))  # no temporary file left behind
    ['note.txt']
    >>> oct(os.stat(path).st_mode & 0o777) == oct(0o666 & ~_umask())  # the umask's mode, not mkstemp's 0600
    True
    """
    folder = os.path.dirname(os.path.abspath(path))
    check_output_folder_writable(folder)
    try:
        handle, tmp_path = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as err:
        raise EmoLobesError(f"cannot write in {folder} ({err.strerror})",
                            "pass an output folder you can write to") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as tmp_file:
            tmp_file.write(text)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a result file gets the user's usual mode
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


def write_json_atomic(obj, path):
    """Write ``obj`` as indented JSON atomically (see :func:`write_text_atomic`); numpy/torch values allowed.

    Arguments
    ---------
    obj : object
        Anything JSON-serialisable, plus numpy scalars/arrays and tensors.
    path : str
        Destination file.

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> import numpy as np
    >>> path = write_json_atomic({"n": np.int64(3), "x": np.zeros(2)}, os.path.join(tempfile.mkdtemp(), "a.json"))
    >>> json.load(open(path))
    {'n': 3, 'x': [0.0, 0.0]}
    """
    return write_text_atomic(json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable) + "\n", path)


def _escape_braces(value):
    # Literal braces are doubled so SpeechBrain's format_map-based loader gives them back unchanged.
    if isinstance(value, str):
        return value.replace("{", "{{").replace("}", "}}")
    if isinstance(value, dict):
        return {key: _escape_braces(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escape_braces(item) for item in value]
    return value


def write_manifest(records, path, data_root_key="data_root", fields=None):
    """Write records as a SpeechBrain JSON manifest ``{id: {"wav": "{data_root}/<wav>", "rel_wav": <wav>, ...}}``.

    Written atomically. ``rel_wav`` (:data:`RELATIVE_WAV_FIELD`) keeps the path relative to the corpus root.

    Arguments
    ---------
    records : list of dict
        Records with the schema of DEVELOPERS.md; ``wav`` is relative to the corpus root (an absolute ``wav``
        is written as it is).
    path : str
        The manifest file to write.
    data_root_key : str
        Name of the placeholder put before each relative ``wav`` (``{data_root}``).
    fields : list of str, optional
        Record fields to keep besides ``wav`` (default: all but ``id``). A listed field missing from a
        record is an error.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    EmoLobesError
        On an empty record list, duplicate ids, a missing field, or an output folder that cannot be written.

    Example
    -------
    >>> records = [{"id": "a", "wav": "s1/a.wav", "duration": 1.5, "emotion": "sad", "text": "{laughs}"}]
    >>> path = write_manifest(records, os.path.join(tempfile.mkdtemp(), "train.json"))
    >>> json.load(open(path))["a"]["wav"]
    '{data_root}/s1/a.wav'
    >>> load_manifest(path, data_root="/corpus")["a"]
    {'wav': '/corpus/s1/a.wav', 'rel_wav': 's1/a.wav', 'duration': 1.5, 'emotion': 'sad', 'text': '{laughs}'}
    """
    if not records:
        raise EmoLobesError(
            f"no records to write to manifest {path}",
            "check --data_folder and the prep options (the problems report lists skipped files)",
        )
    manifest = {}
    duplicates = []
    for record in records:
        utt_id = record["id"]
        if utt_id in manifest:
            duplicates.append(str(utt_id))
            continue
        wav = str(record["wav"])
        entry = {"wav": _escape_braces(wav) if os.path.isabs(wav) else "{%s}/%s" % (data_root_key, _escape_braces(wav)),
                 RELATIVE_WAV_FIELD: _escape_braces(wav)}
        keep = [key for key in record if key not in ("id", "wav")] if fields is None else fields
        for key in keep:
            if key in ("wav", RELATIVE_WAV_FIELD):
                continue
            if key not in record:
                raise EmoLobesError(
                    f"record {utt_id} has no field '{key}' for manifest {path}",
                    "drop the field from the manifest fields or fix the parser",
                )
            entry[key] = _escape_braces(record[key])
        manifest[utt_id] = entry
    if duplicates:
        shown = ", ".join(sorted(set(duplicates))[:5])
        raise EmoLobesError(
            f"{len(duplicates)} duplicate utterance ids for manifest {path} (e.g. {shown})",
            "make ids unique, e.g. prefix them with the speaker or folder name",
        )
    return write_json_atomic(manifest, path)


class _KeepMissing(dict):
    # format_map helper: a placeholder with no value is written back as it was.
    def __missing__(self, key):
        return "{%s}" % key


def load_manifest(path, data_root=None, data_root_key="data_root"):
    """Read a manifest written by :func:`write_manifest`, filling ``{data_root}`` like SpeechBrain does.

    Arguments
    ---------
    path : str
        The manifest file.
    data_root : str, optional
        The corpus root; when ``None`` the ``{data_root}`` placeholders are kept.
    data_root_key : str
        Placeholder name.

    Returns
    -------
    dict
        ``{id: {field: value}}``.

    Example
    -------
    >>> path = write_manifest([{"id": "a", "wav": "a.wav"}], os.path.join(tempfile.mkdtemp(), "m.json"))
    >>> load_manifest(path)["a"]["wav"], load_manifest(path, "/c")["a"]["wav"]
    ('{data_root}/a.wav', '/c/a.wav')
    """
    if not os.path.isfile(path):
        raise EmoLobesError(f"manifest {path} does not exist", "run the recipe's data preparation first")
    replacements = _KeepMissing() if data_root is None else _KeepMissing({data_root_key: str(data_root)})
    try:
        return load_data_json(path, replacements)
    except json.JSONDecodeError as err:
        raise EmoLobesError(f"manifest {path} is not valid JSON ({err.msg}, line {err.lineno})",
                            "delete it and run the data preparation again") from None


def _normalise_options(options):
    # JSON round trip: tuples become lists, keys strings, paths and other objects their str().
    return json.loads(json.dumps(options, sort_keys=True, default=str))


def prep_is_current(output_folder, options, outputs):
    """True when every output exists and ``prep_options.json`` holds exactly ``options`` (JSON-normalised).

    Arguments
    ---------
    output_folder : str
        The prep's output folder.
    options : dict
        Everything that changes the outputs (corpus, data folder, seed, fold, label set, ...).
    outputs : list of str
        Files the prep writes, relative to ``output_folder`` (or absolute).

    Returns
    -------
    bool
        ``False`` means: (re)build, then call :func:`save_prep_options`.

    Example
    -------
    >>> d = tempfile.mkdtemp()
    >>> prep_is_current(d, {"seed": 1}, ["train.json"])
    False
    >>> _ = write_manifest([{"id": "a", "wav": "a.wav"}], os.path.join(d, "train.json"))
    >>> _ = save_prep_options(d, {"seed": 1})
    >>> prep_is_current(d, {"seed": 1}, ["train.json"]), prep_is_current(d, {"seed": 2}, ["train.json"])
    (True, False)
    """
    if not all(os.path.isfile(os.path.join(output_folder, output)) for output in outputs):
        return False
    options_path = os.path.join(output_folder, PREP_OPTIONS_FILE)
    try:
        with open(options_path, encoding="utf-8") as options_file:
            saved = json.load(options_file)
    except (OSError, ValueError):
        return False
    return saved == _normalise_options(options)


def save_prep_options(output_folder, options):
    """Record the options the outputs were built with (atomically); call it after the last output is written.

    Arguments
    ---------
    output_folder : str
        The prep's output folder.
    options : dict
        The same dict given to :func:`prep_is_current`.

    Returns
    -------
    str
        Path of ``prep_options.json``.

    Example
    -------
    >>> path = save_prep_options(tempfile.mkdtemp(), {"folds": (1, 2), "seed": 3})
    >>> json.load(open(path))
    {'folds': [1, 2], 'seed': 3}
    """
    return write_json_atomic(_normalise_options(options), os.path.join(output_folder, PREP_OPTIONS_FILE))


def write_problems_report(problems, path):
    """Write the corrupt/skipped files report: a count header, then one problem per line (atomically).

    The report is written even when there is no problem, so its presence says the check ran.

    Arguments
    ---------
    problems : list of str
        One line each (a parser's ``ParsedCorpus.problems``).
    path : str
        The report file, beside the manifests (e.g. ``<save_folder>/problems.txt``).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> path = write_problems_report(["a.wav: unreadable audio, skipped"], os.path.join(tempfile.mkdtemp(), "p.txt"))
    [prep] 1 problem (1 files skipped), see .../p.txt
    >>> print(open(path).read(), end="")
    # 1 problem (files skipped or inconsistent)
    a.wav: unreadable audio, skipped
    """
    lines = [" ".join(str(problem).split()) for problem in problems]
    noun = "problem" if len(lines) == 1 else "problems"
    header = f"# {len(lines)} {noun} (files skipped or inconsistent)"
    write_text_atomic("\n".join([header] + lines) + "\n", path)
    skipped = sum(1 for line in lines if line.endswith("skipped") or ", skipped (" in line or "dropped" in line)
    if lines:  # said once on the console too, not only in the report
        print(f"[prep] {len(lines)} {noun} ({skipped} files skipped), see {path}", flush=True)
    return path


def recorded_corpus_folder(prep_folder, *keys):
    """The corpus folder a prep read, as its ``prep_options.json`` records it under ``keys`` (then ``folder``).

    Arguments
    ---------
    prep_folder : str
        The prep's output folder.
    *keys : str
        Where the corpus's declaration sits in the options (``"corpus"`` for one corpus, ``"corpora", name`` for
        several).

    Returns
    -------
    str
        The folder; a one-line error when the options do not record it.

    Example
    -------
    >>> d = tempfile.mkdtemp()
    >>> _ = save_prep_options(d, {"corpora": {"emodb": {"folder": "/data/EmoDB"}}})
    >>> recorded_corpus_folder(d, "corpora", "emodb")
    '/data/EmoDB'
    """
    path = os.path.join(prep_folder, PREP_OPTIONS_FILE)
    try:
        with open(path, encoding="utf-8") as options_file:
            value = json.load(options_file)
        for key in (*keys, "folder"):
            value = value[key]
        return str(value)
    except (OSError, ValueError, KeyError, TypeError):
        raise EmoLobesError(f"{path} does not record the folder of corpus {keys[-1] if keys else ''}".rstrip(),
                            "pass the corpus folder (--data_folder / --corpus_folder)") from None
