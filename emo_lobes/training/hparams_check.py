"""Load a recipe's hparams file with overrides, failing with one line on an unknown key or an unset placeholder."""
import difflib
import io
import os
import sys

import ruamel.yaml
import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.manifest import assert_not_inside, check_output_folder_writable


def _read_yaml_document(text, source):
    """The YAML document in ``text`` as ruamel's round-trip structure (tags kept, nothing instantiated)."""
    try:
        return ruamel.yaml.YAML(typ="rt").load(io.StringIO(text))
    except ruamel.yaml.YAMLError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "duplicate key" in str(err):
            key = str(err).split('found duplicate key "', 1)[-1].split('"', 1)[0]
            raise EmoLobesError(f"{source} give {key} twice", f"give --{key}=... once") from None
        raise EmoLobesError(f"cannot read {source} as YAML ({first_line})",
                            "fix the YAML syntax (an override is written --key=value)") from None


def hparams_keys(text):
    """The top-level keys of an hparams YAML text, in file order, without instantiating anything.

    Arguments
    ---------
    text : str
        HyperPyYAML text (``!new:``, ``!ref`` and other tags allowed).

    Returns
    -------
    list of str
        The keys, including private ``__`` ones.

    Example
    -------
    >>> hparams_keys("seed: 1\\n__set_seed: !apply:print [1]\\nmodel: !new:torch.nn.Linear [2, 3]\\n")
    ['seed', '__set_seed', 'model']
    """
    document = _read_yaml_document(text, "the hparams file")
    return [str(key) for key in document] if isinstance(document, dict) else []


def placeholder_keys(text):
    """Top-level keys whose value is ``!PLACEHOLDER`` (the user must give them).

    Example
    -------
    >>> placeholder_keys("data_folder: !PLACEHOLDER\\nseed: 1\\n")
    ['data_folder']
    """
    document = _read_yaml_document(text, "the hparams file")
    if not isinstance(document, dict):
        return []
    return [str(key) for key, value in document.items()
            if getattr(getattr(value, "tag", None), "value", None) == "!PLACEHOLDER"]


def override_keys(overrides):
    """The top-level keys of SpeechBrain-style overrides (a YAML string, a dict or ``None``).

    Example
    -------
    >>> override_keys("data_folder: /data\\nbatch_size: 4\\n"), override_keys({"fold": 2}), override_keys(None)
    (['data_folder', 'batch_size'], ['fold'], [])
    """
    if not overrides:
        return []
    if isinstance(overrides, str):
        overrides = _read_yaml_document(overrides, "the command-line overrides")
    return [str(key) for key in overrides] if isinstance(overrides, dict) else []


def check_override_keys(text, overrides, source="the hparams file"):
    """Fail with one line naming every override key the hparams file does not define, and the valid keys.

    Arguments
    ---------
    text : str
        The hparams YAML text.
    overrides : str or dict or None
        The overrides (``sb.parse_arguments``' third value).
    source : str
        How to name the file in the message.

    Raises
    ------
    EmoLobesError
        On an unknown key; the fix names close matches first, then every valid key.

    Example
    -------
    >>> try:
    ...     check_override_keys("seed: 1\\npatience: 5\\n", "patiense: 3\\n", "h.yaml")
    ... except EmoLobesError as e:
    ...     print(e)
    unknown hparams key --patiense for h.yaml. Fix: did you mean --patience? Valid keys: seed, patience
    """
    valid = [key for key in hparams_keys(text) if not key.startswith("__")]
    unknown = [key for key in override_keys(overrides) if key not in valid]
    if not unknown:
        return
    suggestions = []
    for key in unknown:
        suggestions += [f"--{match}" for match in difflib.get_close_matches(key, valid, n=2, cutoff=0.6)]
    hint = f"did you mean {' or '.join(dict.fromkeys(suggestions))}? " if suggestions else ""
    plural = "s" if len(unknown) > 1 else ""
    raise EmoLobesError(f"unknown hparams key{plural} {', '.join('--' + k for k in unknown)} for {source}",
                        f"{hint}Valid keys: {', '.join(valid)}")


#: Plain YAML value types an override must keep, and how a message names them.
_TYPE_NAMES = ((bool, "true or false"), (int, "an integer"), (float, "a number"), (list, "a list [a, b, ...]"),
               (dict, "a mapping {key: value, ...}"))


def _kind(value):
    # The type name of a plain YAML value (None for tagged or other values).
    if getattr(getattr(value, "tag", None), "value", None) not in (None, "tag:yaml.org,2002:bool",
                                                                    "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        return None
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return kind, name
    return None


def check_override_types(text, overrides, source="the hparams file"):
    """Fail with one line when an override's value is not of the type the hparams file gives that key.

    Only plain values are compared (a number, a boolean, a list, a mapping); an integer is accepted for a
    number, and ``null`` for anything (it unsets the value).

    Arguments
    ---------
    text : str
        The hparams YAML text.
    overrides : str or dict or None
        The overrides.
    source : str
        The file's name, for the message.

    Example
    -------
    >>> check_override_types("number_of_epochs: 30\\nlr: 0.1\\n", "number_of_epochs: 5\\nlr: 1\\n")
    >>> try:
    ...     check_override_types("number_of_epochs: 30\\n", "number_of_epochs: abc\\n", "h.yaml")
    ... except EmoLobesError as err:
    ...     print(err)
    --number_of_epochs=abc is not an integer (h.yaml gives 30). Fix: pass --number_of_epochs=<an integer>
    """
    if not overrides:
        return
    given = _read_yaml_document(overrides, "the command-line overrides") if isinstance(overrides, str) else overrides
    document = _read_yaml_document(text, source)
    if not isinstance(given, dict) or not isinstance(document, dict):
        return
    for key, value in given.items():
        expected = _kind(document.get(key)) if key in document else None
        if expected is None or value is None:
            continue
        kind, name = expected
        fits = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        fits = fits or (kind is float and isinstance(value, int) and not isinstance(value, bool))
        if not fits:
            raise EmoLobesError(f"--{key}={value} is not {name} ({source} gives {document[key]})",
                                f"pass --{key}=<{name}>")


def read_folders(resolved):
    """The folders a run reads its corpora from: ``data_folder`` and every corpus folder declared absolute.

    Arguments
    ---------
    resolved : dict
        The hparams document with references resolved (nothing instantiated).

    Returns
    -------
    list of str

    Example
    -------
    >>> read_folders({"data_folder": "/data", "corpora": {"calls": {"folder": "/srv/calls"}, "emodb": {}}})
    ['/data', '/srv/calls']
    """
    folders = [resolved["data_folder"]] if isinstance(resolved.get("data_folder"), str) else []
    corpora = resolved.get("corpora")
    for spec in (corpora.values() if isinstance(corpora, dict) else []):
        folder = spec.get("folder") if isinstance(spec, dict) else None
        if isinstance(folder, str) and os.path.isabs(folder):
            folders.append(folder)
    return folders


def load_hparams_checked(hparams_file, overrides=None, output_keys=("output_folder",)):
    """``hyperpyyaml.load_hyperpyyaml`` of a recipe's hparams file after checking the file and the overrides.

    Every recipe's ``train.py`` calls it instead of opening the file itself, so a missing file, an override
    of a key the file does not define (a typo such as ``--patiense=3``), an unset ``!PLACEHOLDER`` (such
    as ``data_folder``) and an output folder that cannot be created or written each stop the run with one line
    naming the problem and the fix. The output folder is checked (and created) before any object of the file
    is built, since a ``Checkpointer`` creates its folder when it is built; an output folder that is, or lies in, a
    folder the run reads (``data_folder``, a corpus folder declared absolute) is refused then too, before SpeechBrain
    writes anything there.

    Arguments
    ---------
    hparams_file : str
        The recipe's hparams YAML.
    overrides : str or dict, optional
        ``sb.parse_arguments``' overrides (a YAML string) or a dict.
    output_keys : tuple of str
        Keys whose (resolved) value is a folder the run writes to.

    Returns
    -------
    dict
        The loaded hparams.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "h.yaml")
    >>> _ = open(path, "w").write("data_folder: !PLACEHOLDER\\nlr: 0.1\\nmodel: !new:torch.nn.Linear [2, 3]\\n")
    >>> hparams = load_hparams_checked(path, "data_folder: /data\\nlr: 0.5\\n")
    >>> hparams["lr"], hparams["model"].weight.shape
    (0.5, torch.Size([3, 2]))
    >>> try:
    ...     load_hparams_checked(path, {"lr": 1.0})
    ... except EmoLobesError as e:
    ...     print(e)
    data_folder is not set (!PLACEHOLDER in h.yaml). Fix: pass --data_folder=...
    >>> _ = open(path, "a").write("output_folder: !ref <data_folder>/out\\n")
    >>> try:
    ...     load_hparams_checked(path, {"data_folder": "/data", "output_folder": path + "/out"})  # in a file
    ... except EmoLobesError as e:
    ...     print(e.problem)
    cannot create output folder .../h.yaml/out (Not a directory)
    >>> try:
    ...     load_hparams_checked(path, {"data_folder": os.path.dirname(path)})  # <data_folder>/out
    ... except EmoLobesError as e:
    ...     print(e.problem.split(" is ")[1])
    inside the data folder ..., which emo-lobes never writes to
    """
    if not os.path.isfile(hparams_file):
        raise EmoLobesError(f"hparams file {hparams_file} does not exist",
                            "give the path of one of the recipe's hparams/*.yaml files")
    with open(hparams_file, encoding="utf-8") as fin:
        text = fin.read()
    name = os.path.basename(hparams_file)
    check_override_keys(text, overrides, name)
    check_override_types(text, overrides, name)
    given = set(override_keys(overrides))
    missing = [key for key in placeholder_keys(text) if key not in given]
    if missing:
        raise EmoLobesError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set (!PLACEHOLDER in "
                            f"{name})", "pass " + " ".join(f"--{key}=..." for key in missing))
    try:
        resolved_text = resolve_references(text, overrides).getvalue()
    except ValueError as err:
        if "structure of the overrides" not in str(err):
            raise
        keys = ", ".join(f"--{key}" for key in sorted(override_keys(overrides)) if key in hparams_keys(text))
        raise EmoLobesError(f"an override changes the structure of a value in {name} (a plain value given a "
                            f"mapping or list, or the other way round; overrides: {keys})",
                            "keep each value's shape (e.g. dev: null, n_dev: 2 for a dev: none), or edit a copy "
                            "of the yaml") from None
    resolved = _read_yaml_document(resolved_text, name)
    resolved = resolved if isinstance(resolved, dict) else {}
    for key in output_keys:
        if isinstance(resolved.get(key), str):
            for data_folder in read_folders(resolved):
                assert_not_inside(resolved[key], data_folder)
            check_output_folder_writable(resolved[key])
    announce_cpu_threads()
    return load_hyperpyyaml(text, overrides)


def announce_cpu_threads():
    """Say in one line (stderr) how many CPU threads torch uses when ``OMP_NUM_THREADS`` is unset and no GPU is seen.

    On a busy 2-core machine a recipe's front-end ran about 30 times slower with 2 torch threads than with 1 (threads
    competing with other processes), so a CPU run says what it uses and how to change it.

    Returns
    -------
    int
        Torch's CPU thread count.

    Example
    -------
    >>> announce_cpu_threads() >= 1
    True
    """
    threads = torch.get_num_threads()
    if "OMP_NUM_THREADS" not in os.environ and threads > 1 and not torch.cuda.is_available():
        print(f"[threads] torch uses {threads} CPU threads (OMP_NUM_THREADS unset); on a shared or busy CPU, "
              "OMP_NUM_THREADS=1 is often many times faster", file=sys.stderr, flush=True)
    return threads
