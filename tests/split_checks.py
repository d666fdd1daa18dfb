"""What split-file tests of every recipe share: the wavs a run tested, and a recipe run on a given split file."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tested_wavs(output_folder, corpus=None):
    """The set of ``wav`` of the predictions in ``<output_folder>/test_results.json``.

    Arguments
    ---------
    output_folder : str or path
        A run's output folder (or the folder of any ``test_results.json``).
    corpus : str, optional
        For results pooled over several corpora: only the predictions whose ``corpus`` is this one.

    Returns
    -------
    set of str
        Wav paths relative to their corpus root, as a split file lists them.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "test_results.json"), "w") as out:
    ...     _ = out.write(json.dumps({"predictions": [{"wav": "a.wav", "corpus": "gemep"},
    ...                                               {"wav": "b.wav", "corpus": "masc"}]}))
    >>> sorted(tested_wavs(folder)), sorted(tested_wavs(folder, corpus="masc"))
    (['a.wav', 'b.wav'], ['b.wav'])
    """
    with open(os.path.join(str(output_folder), "test_results.json"), encoding="utf-8") as results_file:
        predictions = json.load(results_file)["predictions"]
    return {p["wav"] for p in predictions if corpus is None or p["corpus"] == corpus}


def split_file_wavs(path, part="test"):
    """The set of entries of one partition of a split file (wav paths relative to the corpus root, or ids)."""
    with open(str(path), encoding="utf-8") as split_file:
        return set(json.load(split_file)[part])


def run_on_split_file(train_py, hparams_file, split_file, output_folder, args=(), env=None, corpus=None):
    """Run a recipe's ``train.py`` with ``--split_file`` and return :func:`tested_wavs` of its output folder.

    Arguments
    ---------
    train_py, hparams_file : str
        Paths relative to the repository root (e.g. ``recipes/EmoNet/train.py``, ``recipes/EmoNet/hparams/scratch.yaml``).
    split_file : str or path
        The split file.
    output_folder : str or path
        The run's ``--output_folder``.
    args : sequence of str
        More command-line arguments (``--data_folder=...``, tiny widths, epochs).
    env : dict, optional
        The environment (default: this one with ``OMP_NUM_THREADS=1``).
    corpus : str, optional
        Passed to :func:`tested_wavs`.

    Returns
    -------
    set of str
    """
    command = [sys.executable, train_py, hparams_file, f"--split_file={split_file}",
               f"--output_folder={output_folder}", *args]
    run = subprocess.run(command, cwd=ROOT, env=env or dict(os.environ, OMP_NUM_THREADS="1"),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    return tested_wavs(output_folder, corpus)


# imported into test modules, these are helpers, not tests (pytest collects functions named test*)
tested_wavs.__test__ = False
