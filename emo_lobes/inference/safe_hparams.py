"""Load a received ``hyperparams.yaml`` without running code it names: every HyperPyYAML tag is checked first.

HyperPyYAML builds whatever a tag names (``!new:``, ``!name:``, ``!apply:``, ``!module:``, PyYAML's
``!!python/...``), so a yaml from someone else may hold ``evil: !apply:os.system ["..."]``. Before loading,
:func:`check_hparams_tags` composes the yaml into nodes (no Python object is built) and walks every node, keys
included. Allowed:

- plain data (strings, numbers, lists, maps, null) and the data tags ``!ref``, ``!copy``, ``!tuple`` and
  ``!PLACEHOLDER``;
- ``!new:X`` and ``!name:X`` where ``X`` resolves to a class or function *defined* in ``emo_lobes``,
  ``speechbrain`` or ``torch`` (its ``__module__``, so ``torch.os.system`` is refused), outside
  :data:`REFUSED_TARGETS` (parts of those packages that load code or other yaml: ``torch.load``, ``torch.hub``,
  ``speechbrain.inference``...);
- ``!apply:X`` / ``!applyref:X`` (which run at load time) only for the functions of :data:`APPLY_TARGETS`, the
  ones the recipes' hparams use.

Refused: ``!include:`` (it would read another file, unchecked), ``!module:``, ``!!python/...`` and any other tag.
Every recipe's ``hparams/*.yaml`` names only targets of those three packages (none is recipe-local), so an
experiment folder's ``hyperparams.yaml`` (a resolved copy of them) loads; ``tests/test_inference.py`` checks both.
"""
import inspect
import pydoc

from hyperpyyaml import load_hyperpyyaml
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, SequenceNode

from emo_lobes.errors import EmoLobesError

#: Packages whose classes and functions a yaml may build.
ALLOWED_PACKAGES = ("emo_lobes", "speechbrain", "torch")
#: Parts of the allowed packages that would load or run other code (pickles, hub code, other yaml, shells).
REFUSED_TARGETS = (
    "torch.load", "torch.hub", "torch.jit", "torch.package", "torch.utils.cpp_extension", "torch.ops",
    "torch.classes", "torch.distributed", "torch.multiprocessing", "torch.serialization", "torch.compile",
    "speechbrain.inference", "speechbrain.pretrained", "speechbrain.utils.superpowers", "speechbrain.utils.fetching",
    "speechbrain.utils.importutils", "speechbrain.utils.parameter_transfer", "speechbrain.utils.hpopt",
    "speechbrain.core", "speechbrain.utils.distributed",
)
#: Functions ``!apply:`` may call while the yaml loads (those the recipes' hparams use).
APPLY_TARGETS = (
    "speechbrain.utils.seed_everything", "speechbrain.utils.seed.seed_everything",
    "emo_lobes.features.feature_cache.feature_size",
)
#: Tags that only mark data (HyperPyYAML resolves them without calling anything).
DATA_TAGS = ("!ref", "!copy", "!tuple", "!PLACEHOLDER")
#: Standard YAML types a tag may spell out (``!!str`` ...).
YAML_TYPES = {f"tag:yaml.org,2002:{name}" for name in
              ("str", "int", "float", "bool", "null", "map", "seq", "merge", "timestamp", "value")}


def _under(name, prefixes):
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _target_problem(kind, target):
    # Why ``!kind:target`` may not be loaded, or None when it may.
    if _under(target, REFUSED_TARGETS):
        return "loads or runs other code"
    if kind in ("!apply:", "!applyref:"):
        return None if target in APPLY_TARGETS else "runs at load time and is not one of the recipes' functions"
    if not _under(target, ALLOWED_PACKAGES):
        return f"is outside {', '.join(ALLOWED_PACKAGES)}"
    try:
        obj = pydoc.locate(target)
    except Exception:  # an import error of the allowed package itself: refuse rather than guess
        obj = None
    if obj is None or not (inspect.isclass(obj) or inspect.isroutine(obj)):
        return "is not a class or function"
    defined_in = getattr(obj, "__module__", None) or ""
    if not _under(defined_in, ALLOWED_PACKAGES) or _under(f"{defined_in}.{obj.__qualname__}", REFUSED_TARGETS):
        return f"is {defined_in}.{obj.__qualname__}, defined outside {', '.join(ALLOWED_PACKAGES)}"
    return None


def tag_problem(tag):
    """Why a yaml tag may not be loaded (``None`` when it may).

    Example
    -------
    >>> tag_problem("!new:torch.nn.Linear") is None, tag_problem("!ref") is None
    (True, True)
    >>> print(tag_problem("!apply:os.system"))
    runs at load time and is not one of the recipes' functions
    >>> tag_problem("!name:torch.os.system")
    'is posix.system, defined outside emo_lobes, speechbrain, torch'
    >>> tag_problem("!include:other.yaml")
    'would read another file, unchecked'
    """
    if tag is None or tag in DATA_TAGS or tag in YAML_TYPES:
        return None
    if tag.startswith("!include:"):
        return "would read another file, unchecked"
    for kind in ("!new:", "!name:", "!apply:", "!applyref:"):
        if tag.startswith(kind):
            return _target_problem(kind, tag[len(kind):])
    return "is not a tag a model's hparams need"


def _show(tag):
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def check_hparams_tags(text, source="hyperparams.yaml"):
    """Refuse, in one line naming the tag and the key, a yaml whose tags would build something unsafe.

    Arguments
    ---------
    text : str
        The yaml.
    source : str
        Its file, for the message.

    Raises
    ------
    EmoLobesError
        At the first refused tag (see the module docstring for what is allowed).

    Example
    -------
    >>> check_hparams_tags("lin: !new:torch.nn.Linear {in_features: 2, out_features: 1}\\nn: !ref <lin>")
    >>> check_hparams_tags("model:\\n  evil: !apply:os.system [touch /tmp/x]")
    Traceback (most recent call last):
    ...
    emo_lobes.errors.EmoLobesError: hyperparams.yaml key 'model[evil]' holds !apply:os.system, which runs at load \
time and is not one of the recipes' functions; nothing was loaded. Fix: load only model folders you trust, or remove \
that key
    """
    try:
        root = YAML(typ="rt").compose(text)
    except Exception as err:
        raise EmoLobesError(f"{source} is not valid yaml ({str(err).splitlines()[0][:120]})",
                            "give the hyperparams.yaml a train.py run wrote") from None
    seen = set()
    pending = [("", root)]
    while pending:
        key, node = pending.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        tag = getattr(node.tag, "value", node.tag)
        problem = tag_problem(tag)
        if problem:
            raise EmoLobesError(f"{source} key '{key or '<top>'}' holds {_show(tag)}, which {problem}; nothing was "
                                "loaded", "load only model folders you trust, or remove that key")
        if isinstance(node, MappingNode):
            for key_node, value_node in reversed(node.value):
                name = getattr(key_node, "value", "?") if not isinstance(key_node.value, list) else "?"
                child = str(name) if not key else f"{key}[{name}]"
                pending += [(child, value_node), (child, key_node)]
        elif isinstance(node, SequenceNode):
            pending += [(f"{key}[{i}]", item) for i, item in reversed(list(enumerate(node.value)))]


def load_hparams_safely(text, overrides=None, source="hyperparams.yaml"):
    """``load_hyperpyyaml(text, overrides)`` after :func:`check_hparams_tags` found nothing unsafe.

    Example
    -------
    >>> load_hparams_safely("a: 2\\nb: !ref <a> + 1", {"a": 4})
    {'a': 4, 'b': 5}
    """
    check_hparams_tags(text, source)
    return load_hyperpyyaml(text, overrides)
