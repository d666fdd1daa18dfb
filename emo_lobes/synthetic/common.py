"""What every synthetic corpus writer shares: WAV writing, speaker voices and atomic, stamped corpus folders.

A writer follows this pattern, so a second call with the same seed is a no-op and an interrupted one leaves
no half-written corpus behind::

    def write(folder, seed=0, name="emodb"):
        if corpus_is_current(folder, name, seed):
            return folder
        tmp = begin(folder)
        ...  # write every file under tmp, in the corpus's real layout
        return finish(tmp, folder, {"name": name, "seed": seed})
"""
import io
import json
import os
import shutil
import tempfile

import numpy as np
import soundfile as sf

from emo_lobes.synthetic.voice import SpeakerVoice

#: Version of the synthetic generators; bump it whenever any writer or the voice changes its output, so
#: folders written by older code are rewritten.
GENERATOR_VERSION = 1

#: Name of the stamp file that records how a synthetic corpus folder was written.
STAMP_FILE = ".synthetic.json"


def write_wav(path, audio, sample_rate, channels=1, subtype="PCM_16"):
    """Write mono ``audio`` as a sound file, creating parent folders.

    With ``channels=2`` the second channel is a slightly delayed (3 samples), quieter (0.9) copy, like a
    second microphone, so the channels differ as in real stereo recordings.

    Arguments
    ---------
    path : str
        Output path; the format follows the extension (``.wav``, ``.flac``).
    audio : numpy.ndarray
        Mono samples in [-1, 1], already at ``sample_rate``.
    sample_rate : int
        Sampling rate in Hz.
    channels : int
        1 or 2.
    subtype : str
        soundfile subtype (``PCM_16``, ``PCM_24``, ``FLOAT``).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> folder = tempfile.mkdtemp()
    >>> path = write_wav(os.path.join(folder, "a", "b.wav"), np.zeros(800), 8000, channels=2)
    >>> sf.info(path).channels, sf.info(path).frames, sf.info(path).subtype
    (2, 800, 'PCM_16')
    """
    audio = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if channels == 2:
        delayed = 0.9 * np.concatenate([np.zeros(min(3, len(audio)), dtype=np.float32), audio])[: len(audio)]
        audio = np.stack([audio, delayed], axis=1)
    elif channels != 1:
        raise ValueError(f"channels must be 1 or 2, not {channels}")
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    # Encode in memory and write the bytes once: soundfile's own file writing syncs every file to disk,
    # which made it most of the time spent writing a corpus.
    buffer = io.BytesIO()
    file_format = "FLAC" if str(path).lower().endswith(".flac") else "WAV"
    sf.write(buffer, audio, int(sample_rate), subtype=subtype, format=file_format)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())
    return path


def speaker_voices(rng, genders):
    """One random :class:`SpeakerVoice` per entry of ``genders``.

    Arguments
    ---------
    rng : numpy.random.Generator
        Source of randomness.
    genders : list of str
        ``male`` / ``female`` per speaker.

    Returns
    -------
    list of SpeakerVoice
        The voices, in the order of ``genders``.

    Example
    -------
    >>> voices = speaker_voices(np.random.default_rng(0), ["male", "female", "female"])
    >>> [v.gender for v in voices], voices[1] != voices[2]
    (['male', 'female', 'female'], True)
    """
    return [SpeakerVoice.random(rng, gender) for gender in genders]


def read_stamp(folder):
    """The stamp dictionary of a synthetic corpus folder, or ``None`` when absent or unreadable.

    Example
    -------
    >>> read_stamp(tempfile.mkdtemp()) is None
    True
    """
    try:
        with open(os.path.join(folder, STAMP_FILE), encoding="utf-8") as stamp_file:
            stamp = json.load(stamp_file)
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def corpus_is_current(folder, name, seed, version=GENERATOR_VERSION):
    """Whether ``folder`` holds synthetic corpus ``name`` written with ``seed`` by generator ``version``.

    Arguments
    ---------
    folder : str
        The corpus folder.
    name : str
        The synthetic corpus name (key of ``SYNTHETIC_CORPORA``).
    seed : int
        The seed it must have been written with.
    version : int
        The generator version it must have been written with.

    Returns
    -------
    bool
        True when the stamp matches, so the writer can return at once.

    Example
    -------
    >>> folder = os.path.join(tempfile.mkdtemp(), "EmoDB")
    >>> corpus_is_current(folder, "emodb", 0)
    False
    >>> _ = finish(begin(folder), folder, {"name": "emodb", "seed": 0})
    >>> corpus_is_current(folder, "emodb", 0), corpus_is_current(folder, "emodb", 1)
    (True, False)
    """
    stamp = read_stamp(folder)
    if stamp is None:
        return False
    return stamp.get("name") == name and stamp.get("seed") == seed and stamp.get("version") == version


def begin(folder):
    """Make an empty temporary sibling of ``folder`` to write a corpus into (see :func:`finish`).

    Arguments
    ---------
    folder : str
        The final corpus folder.

    Returns
    -------
    str
        The temporary folder, in the same parent so the final rename is atomic.

    Example
    -------
    >>> root = tempfile.mkdtemp()
    >>> tmp = begin(os.path.join(root, "EmoDB"))
    >>> os.path.dirname(tmp) == root, os.listdir(tmp)
    (True, [])
    """
    folder = os.path.abspath(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(folder)}.partial-")


def finish(tmp, folder, stamp):
    """Stamp the corpus written under ``tmp`` and move it to ``folder``, replacing an out-of-date one.

    Arguments
    ---------
    tmp : str
        The folder returned by :func:`begin`, now holding the corpus.
    folder : str
        The final corpus folder.
    stamp : dict
        At least ``name`` and ``seed``; ``version`` defaults to :data:`GENERATOR_VERSION`. Any other JSON
        values (counts, options) are recorded too.

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> folder = os.path.join(tempfile.mkdtemp(), "RAVDESS")
    >>> tmp = begin(folder)
    >>> _ = write_wav(os.path.join(tmp, "x.wav"), np.zeros(160), 16000)
    >>> _ = finish(tmp, folder, {"name": "ravdess", "seed": 3, "files": 1})
    >>> sorted(os.listdir(folder)), read_stamp(folder)["version"] == GENERATOR_VERSION
    (['.synthetic.json', 'x.wav'], True)
    """
    if "name" not in stamp or "seed" not in stamp:
        raise ValueError("the stamp needs 'name' and 'seed'")
    stamp = {"version": GENERATOR_VERSION, **stamp}
    with open(os.path.join(tmp, STAMP_FILE), "w", encoding="utf-8") as stamp_file:
        json.dump(stamp, stamp_file, indent=1, sort_keys=True)
    folder = os.path.abspath(folder)
    old = None
    if os.path.lexists(folder):
        old = tempfile.mkdtemp(dir=os.path.dirname(folder), prefix=f".{os.path.basename(folder)}.old-")
        os.rename(folder, os.path.join(old, "corpus"))
    try:
        os.rename(tmp, folder)
    except OSError:
        # Another writer put a corpus in place meanwhile: keep it when it is the same corpus, else fail.
        if not corpus_is_current(folder, stamp["name"], stamp["seed"], stamp["version"]):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return folder
