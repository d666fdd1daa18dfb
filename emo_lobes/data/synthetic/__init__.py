"""Synthetic corpora in the exact on-disk layouts of the real ones, emotion carried by prosody (the default data)."""
import importlib
import os

from emo_lobes.errors import EmoLobesError

#: Registry name -> (writer module under ``emo_lobes.data.synthetic``, folder name under the output root).
SYNTHETIC_CORPORA = {
    "iemocap": ("iemocap", "IEMOCAP_full_release"),
    "emodb": ("emodb", "EmoDB"),
    "ravdess": ("ravdess", "RAVDESS"),
    "cafe": ("cafe", "CaFE"),
    "emovo": ("emovo", "EMOVO"),
    "savee": ("savee", "SAVEE"),
    "cremad": ("cremad", "CREMA-D"),
    "tess": ("tess", "TESS"),
    "urdu": ("urdu", "URDU"),
    "baved": ("baved", "BAVED"),
    "spont": ("csv_corpora", "SPONT"),
    "gemep": ("csv_corpora", "GEMEP"),
    "masc": ("csv_corpora", "MASC"),
}


def synthetic_folder(root, name):
    """Where :func:`write_corpus` puts corpus ``name`` under ``root``.

    Example
    -------
    >>> synthetic_folder("synthetic_data", "iemocap")
    'synthetic_data/IEMOCAP_full_release'
    """
    if name not in SYNTHETIC_CORPORA:
        raise EmoLobesError(f"no synthetic corpus '{name}'", f"use one of {', '.join(SYNTHETIC_CORPORA)}")
    return os.path.join(root, SYNTHETIC_CORPORA[name][1])


def write_corpus(name, root, seed=0):
    """Write synthetic corpus ``name`` under ``root`` (deterministic from ``seed``) and return its folder.

    An existing folder written with the same seed and generator version is kept as is.

    Arguments
    ---------
    name : str
        A key of :data:`SYNTHETIC_CORPORA`.
    root : str
        Output root; the corpus goes to ``root/<folder name>``.
    seed : int
        Random seed.

    Returns
    -------
    str
        The corpus folder.
    """
    folder = synthetic_folder(root, name)
    module = importlib.import_module(f"emo_lobes.data.synthetic.{SYNTHETIC_CORPORA[name][0]}")
    module.write(folder, seed=seed, name=name)
    return folder


def write_all(root, seed=0, names=None):
    """Write every synthetic corpus (or those in ``names``) under ``root``; returns ``{name: folder}``."""
    return {name: write_corpus(name, root, seed) for name in (names or SYNTHETIC_CORPORA)}
