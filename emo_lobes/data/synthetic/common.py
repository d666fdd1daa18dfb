"""What every synthetic corpus writer shares: WAV writing, speaker voices and atomic, stamped corpus folders.

A writer hands :func:`write_once` a function that writes every file under a temporary folder, so a second
call with the same seed is a no-op and an interrupted one leaves no half-written corpus behind::

    def write(folder, seed=0, name="tess"):
        return write_once(folder, {"name": name, "seed": seed}, functools.partial(_write_files, seed=seed))

The acted corpora whose files are planned up front (EmoDB, EMOVO, SAVEE, CaFE, RAVDESS) go through
:func:`write_planned_files`, which writes one utterance per planned file.
"""
import io
import json
import os
import shutil
import tempfile
import zlib

import numpy as np
import soundfile as sf

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.synthetic.voice import SpeakerVoice, synthesize

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


def write_once(folder, stamp, write_files):
    """Write a corpus into ``folder`` through ``write_files`` unless it already holds it (same ``stamp``).

    The frame of every writer: :func:`corpus_is_current` plus the other ``stamp`` values decide whether the
    folder is kept; otherwise ``write_files`` fills a :func:`begin` folder, which :func:`finish` stamps and moves.

    Arguments
    ---------
    folder : str
        The corpus folder.
    stamp : dict
        ``name``, ``seed`` and any option the folder must have been written with (e.g. ``speakers``).
    write_files : callable
        ``write_files(tmp)`` writes every file under ``tmp`` and returns a dict of values (counts) to add to
        the stamp.

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> folder = os.path.join(tempfile.mkdtemp(), "Toy")
    >>> def write_files(tmp):
    ...     _ = write_wav(os.path.join(tmp, "x.wav"), np.zeros(80), 8000)
    ...     return {"files": 1}
    >>> first = write_once(folder, {"name": "toy", "seed": 0, "speakers": ["a"]}, write_files)
    >>> read_stamp(first)["files"], sorted(os.listdir(first))
    (1, ['.synthetic.json', 'x.wav'])
    >>> write_once(folder, {"name": "toy", "seed": 0, "speakers": ["a"]}, None) == first
    True
    """
    options = {key: value for key, value in stamp.items() if key not in ("name", "seed")}
    if corpus_is_current(folder, stamp["name"], stamp["seed"]):
        current = read_stamp(folder) or {}
        if all(current.get(key) == value for key, value in options.items()):
            return os.path.abspath(folder)
    tmp = begin(folder)
    return finish(tmp, folder, {**stamp, **write_files(tmp)})


def chosen_speakers(speakers, known, description, code_word="codes"):
    """The speakers a writer writes, in the corpus's order: those of ``speakers``, or all of ``known``.

    Arguments
    ---------
    speakers : list of str, optional
        The speaker codes asked for (``None``: all).
    known : iterable of str
        The corpus's speaker codes, in order (a dict's keys work).
    description : str
        What the codes are, for the error (``"EmoDB speakers"``).
    code_word : str
        What the codes are called in the fix (``codes``, ``initials``).

    Returns
    -------
    list of str
        The chosen codes, in the order of ``known``.

    Example
    -------
    >>> chosen_speakers(["16", "03"], ("03", "08", "16"), "EmoDB speakers"), chosen_speakers(None, ("03", "08"), "x")
    (['03', '16'], ['03', '08'])
    >>> try:
    ...     chosen_speakers(["99"], ("03", "08"), "EmoDB speakers")
    ... except EmoLobesError as e:
    ...     print(e)
    unknown EmoDB speakers ['99']. Fix: use codes among 03, 08
    """
    known = list(known)
    if speakers is None:
        return known
    unknown = sorted(set(speakers) - set(known))
    if unknown:
        raise EmoLobesError(f"unknown {description} {unknown}", f"use {code_word} among {', '.join(known)}")
    return [code for code in known if code in set(speakers)]


def write_planned_files(folder, name, seed, speakers, files, speaker_genders, sample_rate, duration_s):
    """Write one synthetic utterance per planned file (see the writers' ``plan``) as a stamped corpus folder.

    Every speaker of ``speaker_genders`` gets a voice, drawn in order from ``seed``; each file gets its own
    generator from ``seed`` and its path, so a file's bytes do not depend on which speakers are written.

    Arguments
    ---------
    folder : str
        The corpus folder to create.
    name : str
        Name recorded in the folder's stamp.
    seed : int
        Random seed: the same seed gives the same bytes.
    speakers : list of str
        The chosen speaker codes, recorded in the stamp (a folder with other speakers is rewritten).
    files : list of dict
        ``path`` (relative), ``speaker`` code, canonical ``emotion``, synthesis ``intensity``, ``channels``.
    speaker_genders : dict
        Speaker code -> ``male`` / ``female`` for every speaker of the corpus, in the corpus's order.
    sample_rate : int
        Sampling rate of the files in Hz.
    duration_s : tuple of float
        Range of the utterance durations in seconds.

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> files = [{"path": "a/x.wav", "speaker": "s1", "emotion": "sad", "intensity": 1.0, "channels": 2}]
    >>> folder = os.path.join(tempfile.mkdtemp(), "Toy")
    >>> folder = write_planned_files(folder, "toy", 0, ["s1"], files, {"s1": "male"}, 8000, (0.3, 0.4))
    >>> sf.info(os.path.join(folder, "a", "x.wav")).channels, read_stamp(folder)["files"]
    (2, 1)
    """
    def write_files(tmp):
        voices = dict(zip(speaker_genders, speaker_voices(np.random.default_rng(seed), speaker_genders.values())))
        for item in files:
            rng = np.random.default_rng([seed, zlib.crc32(item["path"].encode("utf-8"))])
            audio = synthesize(
                item["emotion"], voices[item["speaker"]], rng, sample_rate=sample_rate,
                duration=float(rng.uniform(*duration_s)), intensity=item["intensity"],
            )
            write_wav(os.path.join(tmp, item["path"]), audio, sample_rate, channels=item["channels"])
        return {"files": len(files)}

    return write_once(folder, {"name": name, "seed": seed, "speakers": speakers}, write_files)
