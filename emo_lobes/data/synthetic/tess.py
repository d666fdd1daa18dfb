"""Synthetic TESS: ``<OAF|YAF>_<emotion>/<OAF|YAF>_<word>_<emotion>.wav``, 24414 Hz, folder names in mixed case."""
import dataclasses
import functools
import os

import numpy as np

from emo_lobes.data.corpora.tess import LABEL_MAP, RELEASE_FOLDERS, SAMPLE_RATE, SPEAKERS
from emo_lobes.data.synthetic.common import speaker_voices, write_once, write_wav
from emo_lobes.data.synthetic.voice import synthesize

#: Carrier-phrase target words ("Say the word ..."), a few of the release's 200.
WORDS = ("back", "bath", "bite", "calm", "chair", "dime", "goose", "jar", "lean", "mood")
#: The older speaker's voice is lower: F0 scale per speaker.
AGE_F0_SCALE = {"OAF": 0.9, "YAF": 1.05}


def write(folder, seed=0, name="tess"):
    """Write a small TESS in the release layout: 2 speakers x 7 emotions x 10 words = 140 clips of 1.2-2.2 s.

    Folder names keep the release's mixed case (``OAF_Fear``, ``YAF_pleasant_surprised``); file names use the
    codes (``OAF_back_ps.wav``).

    Arguments
    ---------
    folder : str
        The corpus folder to create.
    seed : int
        Random seed; the same seed writes the same files.
    name : str
        Registry name recorded in the stamp.

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.corpora.tess import parse
    >>> summary = parse(write(os.path.join(tempfile.mkdtemp(), "TESS"))).summary()
    >>> summary["n_utterances"], summary["speakers"], summary["sample_rates"]
    (140, {'tess_OAF': 70, 'tess_YAF': 70}, {'24414': 140})
    """
    return write_once(folder, {"name": name, "seed": seed}, functools.partial(_write_clips, seed=seed))


def _write_clips(tmp, seed):
    """Write every clip under ``tmp``; returns the stamp's ``files`` count."""
    rng = np.random.default_rng([seed, 11])
    speakers = sorted(SPEAKERS)
    voices = speaker_voices(rng, [SPEAKERS[speaker] for speaker in speakers])
    n_files = 0
    for speaker, voice in zip(speakers, voices):
        voice = dataclasses.replace(voice, f0_hz=voice.f0_hz * AGE_F0_SCALE[speaker])
        for code, emotion in LABEL_MAP.items():
            for word in WORDS:
                audio = synthesize(emotion, voice, rng, SAMPLE_RATE, rng.uniform(1.2, 2.2))
                path = os.path.join(tmp, RELEASE_FOLDERS[speaker, code], f"{speaker}_{word}_{code}.wav")
                write_wav(path, audio, SAMPLE_RATE)
                n_files += 1
    return {"files": n_files}
