"""Corpus declarations: the one way every recipe names its corpora, their folders, classes and splits.

In every recipe's hparams::

    data_folder: !PLACEHOLDER        # where the corpus folders are (a corpus's folder may also be absolute)
    corpora:
        ravdess: {parser: ravdess, folder: RAVDESS, emotions: [angry, happy, neutral, sad],
                  split: {dev_speakers: [ravdess_19, ravdess_20, ravdess_21], test_speakers: [...]}}
        mycalls: {parser: csv, folder: MyCalls, options: {language: es}, split: {file: splits/mycalls.json}}

The key (``ravdess``, ``mycalls``) names the corpus everywhere: records' ``corpus``, prep folders, heads, domains,
phases, checkpoints and results, so two corpora read by the same parser never collide. Every key is optional but
the corpus's name: ``parser`` defaults to the name, ``folder`` to the parser's conventional folder name (``FOLDER``
of its module: ``RAVDESS``, ``EmoDB``, ``IEMOCAP_full_release`` ...), ``emotions`` to every class but
``undecided``, ``label_key`` to ``emotion`` (the canonical name; ``label`` keeps the corpus's own label), ``split``
to a 5-fold speaker k-fold (:mod:`emo_lobes.data.splits`). So any corpus ``emo_lobes`` parses can be named on
the command line (``--corpus=ravdess``) without a declaration. In a single-corpus run ``--data_folder`` may be the
corpus root itself (``--corpus=urdu --data_folder=/data/URDU``) or the folder holding it, and ``--split_file``
replaces the corpus's split (a split file, an EmoBox fold folder or SpeechBrain manifests).
"""
import hashlib
import os

from emo_lobes.data.corpora import corpus_names, get_corpus_module, parse_corpus
from emo_lobes.data.manifest import write_text_atomic
from emo_lobes.data.selection import select_classes
from emo_lobes.data.splits import split_from_spec, write_split_file
from emo_lobes.errors import EmoLobesError

#: The keys a corpus declaration may hold.
DECLARATION_KEYS = ("parser", "folder", "options", "emotions", "merge", "label_key", "split")
#: Partitions and the manifest names recipes give them.
PARTITIONS = ("train", "dev", "test")
#: The keys that make a split declaration a form of its own (a ``--split`` without one only changes options).
FORM_KEYS = {"method", "dev_speakers", "test_speakers", "file", "emobox", "speechbrain"}


class CorpusDeclaration:
    """One declared corpus: its name, parser, absolute folder, parser options, classes and split.

    Arguments
    ---------
    name : str
        The corpus's key in ``corpora``.
    parser : str
        A parser name of :func:`emo_lobes.data.corpora.corpus_names`.
    folder : str
        The corpus root (absolute).
    options : dict, optional
        Parser options.
    emotions : list of str, optional
        Classes kept, in label order.
    merge : dict, optional
        Class merges applied first.
    label_key : str
        ``emotion`` or ``label``.
    split : dict, optional
        The split declaration.

    Example
    -------
    >>> decl = CorpusDeclaration("calls", "csv", "/data/Calls", options={"language": "es"})
    >>> decl.as_dict()["options"]
    {'language': 'es', 'corpus_name': 'calls'}
    """

    def __init__(self, name, parser, folder, options=None, emotions=None, merge=None, label_key="emotion",
                 split=None):
        self.name = str(name)
        self.parser = str(parser)
        self.folder = str(folder)
        self.options = dict(options or {})
        if self.parser == "csv":  # records and speakers carry the declared name, not the folder's
            self.options.setdefault("corpus_name", self.name)
        self.emotions = None if emotions is None else [str(e) for e in emotions]
        self.merge = {str(k): str(v) for k, v in dict(merge or {}).items()}
        if label_key not in ("emotion", "label"):
            raise EmoLobesError(f"corpora.{name}.label_key is '{label_key}'", "use emotion or label")
        self.label_key = label_key
        self.split = dict(split or {})

    def as_dict(self):
        """Everything that decides what the corpus gives, JSON-ready (for ``prep_options.json`` and logs).

        A split given by files (a split file, EmoBox folds, SpeechBrain manifests) adds their content's digest,
        so a prep re-runs when such a file is edited in place.
        """
        given = {key: self.split[key] for key in ("file", "emobox", "speechbrain") if self.split.get(key)}
        return {"name": self.name, "parser": self.parser, "folder": self.folder, "options": self.options,
                "emotions": self.emotions, "merge": self.merge, "label_key": self.label_key, "split": self.split,
                "split_digest": {key: _content_digest(path) for key, path in given.items()}}

    def __repr__(self):
        return f"CorpusDeclaration({self.name!r}, parser={self.parser!r}, folder={self.folder!r})"


def _content_digest(path):
    # sha1 of a file, or of every JSON/JSONL file below a folder (sorted); '' when the path is missing.
    digest = hashlib.sha1()
    paths = [path] if os.path.isfile(str(path)) else sorted(
        os.path.join(root, name) for root, _, names in os.walk(str(path)) for name in names
        if name.endswith((".json", ".jsonl")))
    for item in paths:
        digest.update(os.path.relpath(item, str(path)).encode())
        with open(item, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest() if paths else ""


def default_folder(parser):
    """The conventional folder name of a parser's corpus (its module's ``FOLDER``, else the parser name).

    Example
    -------
    >>> default_folder("emodb"), default_folder("iemocap")
    ('EmoDB', 'IEMOCAP_full_release')
    """
    return getattr(get_corpus_module(parser), "FOLDER", parser)


def _resolve_folder(data_folder, folder, single, name):
    # A declared folder: absolute as given; else under data_folder; in a single-corpus run data_folder itself when
    # the folder is not under it (data_folder is then the corpus root).
    if folder not in (None, "", ".") and os.path.isabs(str(folder)):
        return os.path.abspath(str(folder))
    if data_folder in (None, ""):
        raise EmoLobesError(f"corpus {name} has a relative folder but no data_folder is given",
                            "pass --data_folder=<the folder holding the corpus folders>")
    if folder in (None, "", "."):
        return os.path.abspath(data_folder)
    candidate = os.path.join(data_folder, str(folder))
    if single and not os.path.isdir(candidate) and os.path.isdir(data_folder):
        return os.path.abspath(data_folder)
    return os.path.abspath(candidate)


def split_spec_of_path(path):
    """The split declaration of a ``--split_file`` path: a split file, an EmoBox folder or SpeechBrain manifests.

    Arguments
    ---------
    path : str
        A split-file JSON; or a folder holding EmoBox's ``fold_<k>/`` (or one ``fold_<k>`` folder); or a folder
        holding SpeechBrain's ``train.json`` and ``test.json``.

    Returns
    -------
    dict
        ``{"file": ...}``, ``{"emobox": ...}`` or ``{"speechbrain": ...}`` (absolute paths).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "emodb", "fold_1"))
    >>> split_spec_of_path(os.path.join(root, "emodb")) == {"emobox": os.path.join(root, "emodb")}
    True
    >>> split_spec_of_path(os.path.join(root, "s.json")) == {"file": os.path.join(root, "s.json")}
    True
    """
    path = os.path.abspath(str(path))
    if not os.path.isdir(path):
        return {"file": path}
    entries = os.listdir(path)
    if "train.json" in entries and "test.json" in entries:
        return {"speechbrain": path}
    if os.path.basename(path).startswith("fold_") or any(entry.startswith("fold_") for entry in entries):
        return {"emobox": path}
    raise EmoLobesError(f"--split_file {path} is a folder with neither EmoBox's fold_<k>/ nor SpeechBrain's "
                        "train.json and test.json", "pass a split file, an EmoBox data/<corpus> folder or a folder "
                                                    "of SpeechBrain manifests")


def declare_corpora(corpora=None, data_folder=None, names=None, split_file=None, defaults=None, split=None,
                    default_split=None):
    """The declarations of the corpora a run uses.

    Arguments
    ---------
    corpora : dict, optional
        The hparams' ``corpora`` (``{name: {parser, folder, options, emotions, merge, label_key, split}}``).
    data_folder : str, optional
        Where relative corpus folders are (in a single-corpus run, possibly the corpus root).
    names : list of str, optional
        The corpora the run uses (default: every declared one). A name without a declaration is read by the
        parser of that name, with the recipe's ``defaults`` for it.
    split_file : str, optional
        Replaces the split of a single-corpus run: a split file, an EmoBox ``data/<corpus>`` folder (``--fold``
        picks its fold) or a folder of SpeechBrain manifests (see :func:`split_spec_of_path`).
    defaults : dict, optional
        ``{name or parser: partial declaration}`` a recipe applies under each declaration (its paper's class
        set, say), for keys the declaration does not give.
    split : dict, optional
        A split declaration replacing the split of a single-corpus run (the hparams' ``split``, ``{}`` in the
        files: ``--split="{method: loso, dev: none}"`` is put in place of the corpus's split, not merged into it);
        one without a form (``--split="{dev: none}"``) only changes those options of the corpus's split.
    default_split : dict, optional
        The split of every corpus whose declaration (and the recipe's defaults) give none (the hparams'
        ``default_split``).

    Returns
    -------
    dict
        ``{name: CorpusDeclaration}`` in the order of ``names``.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "RAVDESS"))
    >>> decls = declare_corpora({"calls": {"parser": "csv", "folder": "/srv/calls"}}, root, ["ravdess", "calls"])
    >>> [(d.name, d.parser, os.path.relpath(d.folder, root)) for d in decls.values()]
    [('ravdess', 'ravdess', 'RAVDESS'), ('calls', 'csv', '../../srv/calls')]
    >>> declare_corpora({}, os.path.join(root, "RAVDESS"), ["ravdess"])["ravdess"].folder == os.path.join(root, "RAVDESS")
    True
    >>> declared = {"ravdess": {"split": {"method": "speaker_kfold", "k": 4}}}
    >>> declare_corpora(declared, root, ["ravdess"], split={"method": "loso"})["ravdess"].split
    {'method': 'loso'}
    >>> declare_corpora({}, root, ["ravdess"], default_split={"method": "loso"})["ravdess"].split
    {'method': 'loso'}
    """
    corpora = dict(corpora or {})
    defaults = dict(defaults or {})
    names = list(corpora) if names is None else [str(name) for name in names]
    if not names:
        raise EmoLobesError("no corpus to use", "pass --corpus=NAME or declare corpora in the hparams")
    if len(set(names)) != len(names):
        raise EmoLobesError(f"corpora {names} name a corpus twice", "name each corpus once")
    if split_file and len(names) != 1:
        raise EmoLobesError(f"--split_file is for single-corpus runs, but this run uses {', '.join(names)}",
                            "give each corpus its own split: corpora.<name>.split: {file: PATH}")
    for value, key in ((split, "split"), (default_split, "default_split")):
        if value is not None and not isinstance(value, dict):
            raise EmoLobesError(f"--{key} is {value!r}, not a mapping", f'write it as --{key}="{{method: loso}}"')
    if split and len(names) != 1:
        raise EmoLobesError(f"--split is for single-corpus runs, but this run uses {', '.join(names)}",
                            "give each corpus its own split: corpora.<name>.split: {...}")
    if split and split_file:
        raise EmoLobesError("both --split and --split_file are given", "give one of them")
    declarations = {}
    for name in names:
        spec = corpora.get(name)
        if spec is None and name not in corpus_names():
            raise EmoLobesError(
                f"corpus '{name}' is neither declared in corpora ({', '.join(sorted(corpora)) or 'none'}) "
                "nor a parser name",
                f"declare it (corpora: {{{name}: {{parser: csv, folder: ...}}}}) or use one of {', '.join(corpus_names())}",
            )
        spec = dict(spec or {})
        unknown = sorted(set(spec) - set(DECLARATION_KEYS))
        if unknown:
            raise EmoLobesError(f"corpora.{name} has unknown keys {', '.join(unknown)}",
                                f"use {', '.join(DECLARATION_KEYS)}")
        parser = spec.get("parser") or name
        base = dict(defaults.get(name) or defaults.get(parser) or {})
        for key, value in base.items():
            spec.setdefault(key, value)
        get_corpus_module(parser)  # an unknown parser fails here, in one line
        folder = _resolve_folder(data_folder, spec.get("folder", default_folder(parser)), len(names) == 1, name)
        declared = spec.get("split") or (dict(default_split) if default_split else None)
        if split and not (set(split) & FORM_KEYS):
            given = dict(declared or {}, **split)  # only options (dev, min_per_class ...): merged into the corpus's
        else:
            given = split_spec_of_path(split_file) if split_file else (dict(split) if split else None)
        corpus_split = given or declared
        declarations[name] = CorpusDeclaration(name, parser, folder, spec.get("options"), spec.get("emotions"),
                                               spec.get("merge"), spec.get("label_key", "emotion"), corpus_split)
    return declarations


def check_corpus_folders(declarations, data_folder=None):
    """Fail with one line naming every declared corpus folder that is missing.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> try:
    ...     check_corpus_folders(declare_corpora({"emodb": {}, "cafe": {}}, root))
    ... except EmoLobesError as err:
    ...     print(err.problem.replace(root, "ROOT"))
    corpus folders missing: ROOT/EmoDB (emodb), ROOT/CaFE (cafe)
    """
    missing = [f"{decl.folder} ({name})" for name, decl in declarations.items() if not os.path.isdir(decl.folder)]
    if missing:
        where = f" under {data_folder}" if data_folder else ""
        raise EmoLobesError(f"corpus folders missing: {', '.join(missing)}",
                            f"pass --data_folder=<the folder holding them{where and ''}>, or give each corpus its "
                            "folder (corpora.<name>.folder, absolute or relative to data_folder)")


class CorpusData:
    """A declared corpus read, its classes selected and split: what a recipe's prep builds its manifests from.

    Attributes
    ----------
    declaration : CorpusDeclaration
    records : list of dict
        The selected records (``corpus`` = the declared name).
    labels : list of str
        The classes, in label order.
    split : dict
        The split (ids per partition, speakers, method, warnings).
    problems : list of str
        The parser's problems.
    """

    def __init__(self, declaration, records, labels, split, problems):
        self.declaration = declaration
        self.name = declaration.name
        self.records = records
        self.labels = labels
        self.split = split
        self.problems = list(problems)

    def partition(self, part):
        """The records of one partition (``train``, ``dev`` or ``test``), in id order."""
        by_id = {record["id"]: record for record in self.records}
        return [by_id[utt] for utt in self.split[part]]

    @property
    def partitions(self):
        """``{"train": [...], "dev": [...], "test": [...]}``."""
        return {part: self.partition(part) for part in PARTITIONS}

    def write_split(self, folder):
        """Write the split as a split file ``<folder>/splits/<name>.json`` (a run's copy; any recipe reads it)."""
        return write_split_file(self.split, self.records, os.path.join(folder, "splits", f"{self.name}.json"),
                                self.name, self.declaration.label_key)

    def split_info(self):
        """What ``split.json`` and ``test_results.json`` record of the split."""
        keys = ("name", "method", "fold", "speaker_independent", "allow_speaker_overlap", "speaker_dependent_dev",
                "n_left_out", "n_not_selected", "warnings", "train_speakers", "dev_speakers", "test_speakers")
        info = {key: self.split[key] for key in keys if key in self.split}
        info["n"] = {part: len(self.split[part]) for part in PARTITIONS}
        return info


def read_corpus(declaration, record_filter=None):
    """Parse a declared corpus and select its classes.

    Arguments
    ---------
    declaration : CorpusDeclaration
        The corpus.
    record_filter : callable, optional
        ``records -> records``, run between parsing and class selection (a paper's own filters).

    Returns
    -------
    records : list of dict
        Selected records, ``corpus`` set to the declared name.
    labels : list of str
        Their classes.
    problems : list of str
        The parser's problems.
    """
    records, labels, problems, _ = _read_corpus(declaration, record_filter)
    return records, labels, problems


def _read_corpus(declaration, record_filter=None):
    # read_corpus, plus every parsed record (what a given split's entries are matched against).
    parsed = parse_corpus(declaration.parser, declaration.folder, **declaration.options)
    every = [dict(record, corpus=declaration.name) for record in parsed.records]
    records = every if record_filter is None else record_filter(every)
    records, labels = select_classes(records, declaration.emotions, declaration.merge, declaration.label_key,
                                     corpus=declaration.name)
    return records, labels, list(parsed.problems), every


def load_corpus_split(declaration, fold=1, seed=0, record_filter=None):
    """Read, select and split one declared corpus.

    Arguments
    ---------
    declaration : CorpusDeclaration
        The corpus.
    fold : int
        The fold of its split.
    seed : int
        Seeds the split's draws.
    record_filter : callable, optional
        See :func:`read_corpus`.

    Returns
    -------
    CorpusData

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.synthetic import write_corpus
    >>> root = tempfile.mkdtemp(); _ = write_corpus("emodb", root)
    >>> decl = declare_corpora({"emodb": {"emotions": ["angry", "sad", "neutral"],
    ...                                   "split": {"method": "speaker_kfold", "k": 3}}}, root)["emodb"]
    >>> data = load_corpus_split(decl, fold=1)
    >>> data.labels, sorted(data.split) [:3], len(data.partition("test")) > 0
    (['angry', 'sad', 'neutral'], ['allow_speaker_overlap', 'dev', 'dev_speakers'], True)
    """
    records, labels, problems, every = _read_corpus(declaration, record_filter)
    unusable = [line.split(": ", 1)[0] for line in problems if ": " in line and "skipped" in line]
    split = split_from_spec(records, declaration.split, fold=fold, seed=seed, corpus=declaration.name,
                            corpus_root=declaration.folder, label_key=declaration.label_key, known=every,
                            unusable=unusable)
    return CorpusData(declaration, records, labels, split, problems)


def copy_run_splits(prep_folder, output_folder):
    """Copy the split files a prep wrote (``<prep_folder>/splits/*.json``) into ``<output_folder>/splits/``.

    A prep that found its outputs current does not rebuild its splits; the run still gets their copy, so every
    output folder holds the splits it used. Nothing is done when the two folders are the same.

    Arguments
    ---------
    prep_folder : str
        Where the prep wrote ``splits/`` (with :meth:`CorpusData.write_split`).
    output_folder : str
        The run's output folder.

    Returns
    -------
    list of str
        The split files in the output folder.

    Example
    -------
    >>> import tempfile
    >>> prep, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(prep, "splits"))
    >>> _ = open(os.path.join(prep, "splits", "urdu.json"), "w").write('{"train": [], "test": []}')
    >>> [os.path.relpath(p, out) for p in copy_run_splits(prep, out)]
    ['splits/urdu.json']
    """
    source = os.path.join(prep_folder, "splits")
    target = os.path.join(output_folder, "splits")
    if not os.path.isdir(source):
        raise EmoLobesError(f"prep folder {prep_folder} has no splits/", "run the recipe's data preparation first")
    names = sorted(name for name in os.listdir(source) if name.endswith(".json"))
    if os.path.realpath(source) != os.path.realpath(target):
        for name in names:
            with open(os.path.join(source, name), encoding="utf-8") as handle:
                write_text_atomic(handle.read(), os.path.join(target, name))
    return [os.path.join(target, name) for name in names]
