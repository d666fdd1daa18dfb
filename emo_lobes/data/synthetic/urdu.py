"""Synthetic URDU: ``<Angry|Happy|Neutral|Sad>/S<G><id>_F<n>_<E>0<m>.wav``, 44.1 kHz 16-bit mono."""
import functools
import os

import numpy as np

from emo_lobes.data.corpora.urdu import FOLDERS, GENDERS, LABEL_MAP, SAMPLE_RATE, file_name
from emo_lobes.data.synthetic.common import speaker_voices, write_once, write_wav
from emo_lobes.data.synthetic.voice import synthesize

#: Speaker codes (gender letter, id): more men than women, as in the release (18 and 11).
SPEAKER_CODES = (("M", 1), ("M", 2), ("M", 4), ("M", 5), ("M", 20), ("F", 1), ("F", 3), ("F", 6))
#: Clips per emotion (the release has 100).
CLIPS_PER_EMOTION = 28


def write(folder, seed=0, name="urdu"):
    """Write a small URDU corpus in the release layout: 8 speakers, 4 x 28 clips of 1.0-2.0 s.

    Each emotion's clips are shared unevenly among the speakers (at least one each), numbered as the release
    does: ``F<n>`` counts a speaker's clips of that emotion, ``<E>0<m>`` all clips of the emotion.

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
    >>> from emo_lobes.data.corpora.urdu import parse
    >>> summary = parse(write(os.path.join(tempfile.mkdtemp(), "URDU"))).summary()
    >>> summary["n_utterances"], summary["n_speakers"], summary["labels"]
    (112, 8, {'A': 28, 'H': 28, 'N': 28, 'S': 28})
    """
    return write_once(folder, {"name": name, "seed": seed}, functools.partial(_write_clips, seed=seed))


def _write_clips(tmp, seed):
    """Write every clip under ``tmp``; returns the stamp's ``files`` count."""
    rng = np.random.default_rng([seed, 23])
    voices = speaker_voices(rng, [GENDERS[gender] for gender, _ in SPEAKER_CODES])
    n_speakers = len(SPEAKER_CODES)
    for emotion_folder, letter in FOLDERS.items():
        counts = 1 + rng.multinomial(CLIPS_PER_EMOTION - n_speakers, np.full(n_speakers, 1.0 / n_speakers))
        emotion_number = 0
        for (gender, speaker_id), voice, count in zip(SPEAKER_CODES, voices, counts):
            for file_number in range(1, count + 1):
                emotion_number += 1
                audio = synthesize(LABEL_MAP[letter], voice, rng, SAMPLE_RATE, rng.uniform(1.0, 2.0))
                name_on_disk = file_name(gender, speaker_id, file_number, letter, emotion_number)
                write_wav(os.path.join(tmp, emotion_folder, name_on_disk), audio, SAMPLE_RATE)
    return {"files": CLIPS_PER_EMOTION * len(FOLDERS)}
