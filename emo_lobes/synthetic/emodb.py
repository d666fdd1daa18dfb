"""Synthetic EmoDB: the ten real actors, seven emotions, ``wav/03a01Fa.wav`` names, 16 kHz mono."""
import os
import zlib

import numpy as np

from emo_lobes.corpora.emodb import AUDIO_FOLDER, LABEL_MAP, SAMPLE_RATE, SPEAKERS, TEXTS
from emo_lobes.errors import EmoLobesError
from emo_lobes.synthetic.common import begin, corpus_is_current, finish, read_stamp, write_wav
from emo_lobes.synthetic.voice import SpeakerVoice, synthesize

#: Texts each speaker says in each emotion (version ``a``; every third file is a second take ``b``).
TEXTS_PER_EMOTION = 2
DURATION_S = (1.0, 2.5)


def _chosen_speakers(speakers):
    """The speaker codes to write, in the corpus's order; all by default."""
    if speakers is None:
        return list(SPEAKERS)
    unknown = sorted(set(speakers) - set(SPEAKERS))
    if unknown:
        raise EmoLobesError(f"unknown EmoDB speakers {unknown}", f"use codes among {', '.join(SPEAKERS)}")
    return [code for code in SPEAKERS if code in set(speakers)]


def plan(speakers=None):
    """The files of the synthetic corpus: every speaker says two texts in every emotion.

    Arguments
    ---------
    speakers : list of str, optional
        Speaker codes to include (default: all ten).

    Returns
    -------
    list of dict
        ``path`` (relative), ``speaker`` code, canonical ``emotion``, synthesis ``intensity``, ``channels``.

    Example
    -------
    >>> files = plan()
    >>> len(files), files[0]["path"], files[0]["emotion"]
    (140, 'wav/03a01Wb.wav', 'angry')
    >>> len(plan(["08"]))
    14
    """
    files = []
    for speaker in _chosen_speakers(speakers):
        speaker_index = list(SPEAKERS).index(speaker)
        for emotion_index, letter in enumerate(LABEL_MAP):
            for take in range(TEXTS_PER_EMOTION):
                text = TEXTS[(speaker_index + emotion_index + 5 * take) % len(TEXTS)]
                version = "b" if (speaker_index + emotion_index + take) % 3 == 0 else "a"
                files.append({
                    "path": f"{AUDIO_FOLDER}/{speaker}{text}{letter}{version}.wav", "speaker": speaker,
                    "emotion": LABEL_MAP[letter], "intensity": 1.0, "channels": 1,
                })
    return files


def write(folder, seed=0, name="emodb", speakers=None):
    """Write the synthetic EmoDB (deterministic from ``seed``); a folder already written alike is kept.

    Arguments
    ---------
    folder : str
        The corpus folder to create (it receives ``wav/``).
    seed : int
        Random seed: the same seed gives the same bytes.
    name : str
        Name recorded in the folder's stamp.
    speakers : list of str, optional
        Speaker codes to write (default: all ten).

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import tempfile, soundfile as sf
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "EmoDB"), speakers=["16"])
    >>> names = sorted(os.listdir(os.path.join(folder, "wav")))
    >>> len(names), names[0], sf.info(os.path.join(folder, "wav", names[0])).samplerate
    (14, '16a01La.wav', 16000)
    """
    chosen = _chosen_speakers(speakers)
    stamp = {"name": name, "seed": seed, "speakers": chosen}
    if corpus_is_current(folder, name, seed) and (read_stamp(folder) or {}).get("speakers") == chosen:
        return os.path.abspath(folder)
    voice_rng = np.random.default_rng(seed)
    voices = {code: SpeakerVoice.random(voice_rng, gender) for code, gender in SPEAKERS.items()}
    files = plan(chosen)
    tmp = begin(folder)
    for item in files:
        rng = np.random.default_rng([seed, zlib.crc32(item["path"].encode("utf-8"))])
        audio = synthesize(
            item["emotion"], voices[item["speaker"]], rng, sample_rate=SAMPLE_RATE,
            duration=float(rng.uniform(*DURATION_S)), intensity=item["intensity"],
        )
        write_wav(os.path.join(tmp, item["path"]), audio, SAMPLE_RATE, channels=item["channels"])
    return finish(tmp, folder, {**stamp, "files": len(files)})
