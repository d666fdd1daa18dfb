"""Synthetic CREMA-D: ``AudioWAV/<actor>_<sentence>_<emotion>_<intensity>.wav`` at 16 kHz plus VideoDemographics.csv."""
import csv
import functools
import os

import numpy as np

from emo_lobes.data.corpora.cremad import (
    ACTOR_RANGE, AUDIO_FOLDER, DEMOGRAPHICS_COLUMNS, DEMOGRAPHICS_FILE, LABEL_MAP, SAMPLE_RATE, SENTENCES,
)
from emo_lobes.data.synthetic.common import speaker_voices, write_once, write_wav
from emo_lobes.data.synthetic.voice import synthesize

#: Number of synthetic actors (the release has 91).
N_ACTORS = 8
#: Sentences each actor speaks per emotion besides ``IEO`` (which the release has at three intensities).
SENTENCES_PER_EMOTION = 2
#: Emotion strength given to the voice per intensity code.
INTENSITY_STRENGTH = {"LO": 0.5, "MD": 1.0, "HI": 1.5, "XX": 1.0}
_LEVELS = ("LO", "MD", "HI")


def write(folder, seed=0, name="cremad"):
    """Write a small CREMA-D in the release layout (8 actors, 6 emotions, 144 clips of 1.2-2.5 s).

    As in the release, sentence ``IEO`` carries an intensity code (``LO``/``MD``/``HI``; ``XX`` for neutral)
    and the other sentences ``XX``. ``VideoDemographics.csv`` gives each actor's sex.

    Arguments
    ---------
    folder : str
        The corpus folder to create (it will hold ``AudioWAV/`` and ``VideoDemographics.csv``).
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
    >>> from emo_lobes.data.corpora.cremad import parse
    >>> summary = parse(write(os.path.join(tempfile.mkdtemp(), "CREMA-D"))).summary()
    >>> summary["n_utterances"], summary["n_speakers"], summary["genders"]
    (144, 8, {'female': 72, 'male': 72})
    """
    return write_once(folder, {"name": name, "seed": seed}, functools.partial(_write_clips, seed=seed))


def _write_clips(tmp, seed):
    """Write the demographics file and every clip under ``tmp``; returns the stamp's ``files`` count."""
    rng = np.random.default_rng([seed, 7])
    actors = sorted(int(a) for a in rng.choice(np.arange(ACTOR_RANGE[0], ACTOR_RANGE[1] + 1), N_ACTORS, replace=False))
    genders = ["male", "female"] * (N_ACTORS // 2)
    rng.shuffle(genders)
    with open(os.path.join(tmp, DEMOGRAPHICS_FILE), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(DEMOGRAPHICS_COLUMNS)
        for actor, gender in zip(actors, genders):
            race = rng.choice(["Caucasian", "African American", "Asian", "Unknown"])
            ethnicity = rng.choice(["Not Hispanic", "Hispanic"])
            writer.writerow([actor, int(rng.integers(20, 75)), gender.capitalize(), race, ethnicity])
    other_sentences = [code for code in SENTENCES if code != "IEO"]
    n_files = 0
    for actor, voice in zip(actors, speaker_voices(rng, genders)):
        for index, (code, emotion) in enumerate(LABEL_MAP.items()):
            intensity = "XX" if code == "NEU" else _LEVELS[(actor + index) % len(_LEVELS)]
            takes = [("IEO", intensity)]
            extra = rng.choice(other_sentences, SENTENCES_PER_EMOTION, replace=False)
            takes += [(str(sentence), "XX") for sentence in extra]
            for sentence, level in takes:
                audio = synthesize(emotion, voice, rng, SAMPLE_RATE, rng.uniform(1.2, 2.5), INTENSITY_STRENGTH[level])
                write_wav(os.path.join(tmp, AUDIO_FOLDER, f"{actor}_{sentence}_{code}_{level}.wav"), audio, SAMPLE_RATE)
                n_files += 1
    return {"files": n_files}
