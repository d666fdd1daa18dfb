"""Shared setup of the benchmark entries (and recipe tests): import recipe scripts with their own sibling modules.

Recipe scripts import their siblings by bare name (``from prepare import ...``), and every recipe has a
``prepare.py``: loaded in one process, a second recipe would pick up the first one's ``prepare``. The loader here
sets the other recipes' modules aside while it imports, and puts everything back afterwards.
"""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_recipe_modules(recipe, *names):
    """Import ``recipes/<recipe>/<name>.py`` for each name, in order, under unique names.

    While they load, each loaded script is also ``sys.modules[<name>]``, so a later one's ``from prepare import``
    gets the same module object; ``sys.path`` and ``sys.modules`` are restored afterwards.

    Arguments
    ---------
    recipe : str
        The recipe folder, e.g. ``EmoNet``.
    *names : str
        Script names without ``.py``, e.g. ``"prepare", "train"``.

    Returns
    -------
    tuple of module
        One per name, called ``<recipe in lower case>_<name>``.

    Example
    -------
    >>> prepare, train = load_recipe_modules("SelectiveMTL", "prepare", "train")
    >>> prepare.__name__, train.prepare_selective_mtl is prepare.prepare_selective_mtl, "prepare" in sys.modules
    ('selectivemtl_prepare', True, False)
    """
    folder = os.path.join(ROOT, "recipes", recipe)
    siblings = [file[:-3] for file in os.listdir(folder) if file.endswith(".py")]
    set_aside = {name: sys.modules.pop(name) for name in siblings if name in sys.modules}
    saved_path = list(sys.path)
    sys.path.insert(0, folder)
    loaded = []
    try:
        for name in names:
            path = os.path.join(folder, f"{name}.py")
            spec = importlib.util.spec_from_file_location(f"{recipe.lower()}_{name}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            loaded.append(module)
    finally:
        sys.path[:] = saved_path
        for name in siblings:
            sys.modules.pop(name, None)
        sys.modules.update(set_aside)
    return tuple(loaded)


def load_recipe_module(recipe, name):
    """One recipe script as a module (see :func:`load_recipe_modules`).

    Example
    -------
    >>> load_recipe_module("EmoNet", "train").SHARED_MODEL_FILE
    'shared_model.ckpt'
    """
    return load_recipe_modules(recipe, name)[0]
