"""Synthetic BAVED: ``<word>/<speaker>-<m|f>-<age>-<word>-<level>-<record>.wav``, ``speakers_info.json``, 16 kHz."""
import functools
import json
import os
import shutil

import numpy as np

from emo_lobes.data.corpora.baved import GENDERS, LABEL_MAP, SAMPLE_RATE, SPEAKERS_FILE, file_name
from emo_lobes.data.synthetic.common import speaker_voices, write_once, write_wav
from emo_lobes.data.synthetic.voice import synthesize

#: (speaker id, gender letter, age) of the speakers written; more men than women, as in the release (45 and 16).
SPEAKERS = (("0", "m", 21), ("3", "f", 21), ("9", "f", 20), ("17", "m", 22), ("46", "m", 20), ("53", "m", 20))
#: Listed in ``speakers_info.json`` without recordings, as speaker 52 of the release is.
UNRECORDED_SPEAKER = ("52", "m", 22)
#: The words written (of the release's ``0``..``6``).
WORDS = ("0", "3", "6")
#: The voice's emotion per level: low is tired or down (low pitch and energy, slow), high is a strong positive
#: or negative emotion (high pitch and energy, fast); the speakers take turns between the two of a level.
LEVEL_EMOTIONS = {"0": ("sad", "boredom"), "1": ("neutral",), "2": ("happy", "angry")}
#: The planted duplicate: this speaker's file of (word, level) is a byte copy of the other speaker's, as
#: ``0/46-m-20-0-0-156.wav`` and ``0/53-m-20-0-0-209.wav`` are in the release.
DUPLICATE = {"source": "46", "copy": "53", "word": "0", "level": "0"}
#: Range of the clip durations in seconds (one word each).
DURATION_S = (0.9, 1.5)


def write(folder, seed=0, name="baved"):
    """Write a small BAVED in the release layout: 6 speakers x 3 words x 3 levels = 54 clips, one a duplicate.

    Speaker ``53``'s clip of word 0 at level 0 is a byte copy of speaker ``46``'s (the release has 27 such
    pairs); record ids count up over the whole corpus.

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
    >>> from emo_lobes.data.corpora.baved import parse
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "BAVED"))
    >>> summary = parse(folder, drop_duplicates=False).summary()
    >>> summary["n_utterances"], summary["n_speakers"], summary["labels"], sorted(os.listdir(folder))[:4]
    (54, 6, {'0': 18, '1': 18, '2': 18}, ['.synthetic.json', '0', '3', '6'])
    """
    return write_once(folder, {"name": name, "seed": seed}, functools.partial(_write_clips, seed=seed))


def _write_clips(tmp, seed):
    """Write every clip, the duplicate and ``speakers_info.json`` under ``tmp``; returns the stamp's counts."""
    rng = np.random.default_rng([seed, 41])
    voices = speaker_voices(rng, [GENDERS[gender] for _, gender, _ in SPEAKERS])
    paths = {}
    record_id = 0
    for word_index, word in enumerate(WORDS):
        for speaker_index, ((speaker, gender, age), voice) in enumerate(zip(SPEAKERS, voices)):
            for level in LABEL_MAP:
                emotions = LEVEL_EMOTIONS[level]
                path = os.path.join(tmp, word, file_name(speaker, gender, age, word, level, record_id))
                paths[speaker, word, level] = path
                record_id += 1
                if (speaker, word, level) == (DUPLICATE["copy"], DUPLICATE["word"], DUPLICATE["level"]):
                    continue  # copied below, once its source exists
                emotion = emotions[(speaker_index + word_index) % len(emotions)]
                write_wav(path, synthesize(emotion, voice, rng, SAMPLE_RATE, rng.uniform(*DURATION_S)), SAMPLE_RATE)
    key = (DUPLICATE["word"], DUPLICATE["level"])
    shutil.copyfile(paths[(DUPLICATE["source"], *key)], paths[(DUPLICATE["copy"], *key)])
    info = {speaker: {"age": age, "gender": gender} for speaker, gender, age in SPEAKERS + (UNRECORDED_SPEAKER,)}
    with open(os.path.join(tmp, SPEAKERS_FILE), "w", encoding="utf-8") as info_file:
        json.dump(dict(sorted(info.items(), key=lambda item: int(item[0]))), info_file, indent=4)
    with open(os.path.join(tmp, "naming.txt"), "w", encoding="utf-8") as naming_file:
        naming_file.write(
            "speaker_id(int) - speaker_gender(m or f) - speaker_age(int) - spoken_word(int from 0 to 6) - "
            "spoken_emotion(int from 0 to 2) - record_id(int)\n"
        )
    with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as readme:
        readme.write("# Synthetic BAVED\n\nWritten by emo_lobes.data.synthetic.baved: prosody only, no real speech.\n")
    return {"files": len(paths)}
