"""Corpus parsers, one module per corpus, behind one registry: ``parse_corpus(name, data_folder)``."""
import importlib

from emo_lobes.errors import EmoLobesError

#: Registry name -> module under ``emo_lobes.data.corpora`` that defines ``parse(data_folder, **options)``.
CORPUS_MODULES = {
    "iemocap": "iemocap",
    "emodb": "emodb",
    "ravdess": "ravdess",
    "cafe": "cafe",
    "emovo": "emovo",
    "savee": "savee",
    "cremad": "cremad",
    "tess": "tess",
    "urdu": "urdu",
    "baved": "baved",
    "csv": "csv_corpus",
}


def corpus_names():
    """The names :func:`parse_corpus` accepts.

    Example
    -------
    >>> "iemocap" in corpus_names() and "csv" in corpus_names()
    True
    """
    return sorted(CORPUS_MODULES)


def get_corpus_module(name):
    """The parser module of corpus ``name`` (case-insensitive; ``crema-d`` and ``crema_d`` also work).

    Example
    -------
    >>> get_corpus_module("EmoDB").__name__
    'emo_lobes.data.corpora.emodb'
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in CORPUS_MODULES:
        raise EmoLobesError(
            f"unknown corpus '{name}'",
            f"use one of {', '.join(corpus_names())}, or 'csv' with a path,label CSV for any other corpus",
        )
    return importlib.import_module(f"emo_lobes.data.corpora.{CORPUS_MODULES[key]}")


def parse_corpus(name, data_folder, **options):
    """Parse a corpus folder in its official layout into records.

    Arguments
    ---------
    name : str
        Registry name (see :func:`corpus_names`).
    data_folder : str
        The corpus root.
    **options
        Parser options (e.g. ``include_song`` for RAVDESS, ``csv_file`` for ``csv``).

    Returns
    -------
    ParsedCorpus
        Records and problems.
    """
    return get_corpus_module(name).parse(data_folder, **options)
