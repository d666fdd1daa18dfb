"""Synthetic EMOVO: six actors in ``<speaker>/<emotion>-<speaker>-<sentence>.wav``, 48 kHz stereo."""
import os
import zlib

import numpy as np

from emo_lobes.corpora.emovo import CHANNELS, LABEL_MAP, SAMPLE_RATE, SENTENCES, SPEAKERS
from emo_lobes.errors import EmoLobesError
from emo_lobes.synthetic.common import begin, corpus_is_current, finish, read_stamp, write_wav
from emo_lobes.synthetic.voice import SpeakerVoice, synthesize

#: Sentences each actor says in each emotion (cycling through the fourteen sentence codes).
SENTENCES_PER_EMOTION = 3
DURATION_S = (1.0, 1.6)


def _chosen_speakers(speakers):
    """The speaker codes to write, in order; all six by default."""
    if speakers is None:
        return list(SPEAKERS)
    unknown = sorted(set(speakers) - set(SPEAKERS))
    if unknown:
        raise EmoLobesError(f"unknown EMOVO speakers {unknown}", f"use codes among {', '.join(SPEAKERS)}")
    return [code for code in SPEAKERS if code in set(speakers)]


def plan(speakers=None):
    """The files of the synthetic corpus: every actor says three sentences in every emotion.

    Arguments
    ---------
    speakers : list of str, optional
        Speaker codes to include (default: all six).

    Returns
    -------
    list of dict
        ``path`` (relative), ``speaker`` code, canonical ``emotion``, synthesis ``intensity``, ``channels``.

    Example
    -------
    >>> files = plan()
    >>> len(files), files[0]["path"], files[0]["channels"]
    (126, 'f1/dis-f1-b1.wav', 2)
    """
    files = []
    for speaker in _chosen_speakers(speakers):
        speaker_index = list(SPEAKERS).index(speaker)
        for emotion_index, label in enumerate(LABEL_MAP):
            for take in range(SENTENCES_PER_EMOTION):
                position = (speaker_index + emotion_index) * SENTENCES_PER_EMOTION + take
                sentence = SENTENCES[position % len(SENTENCES)]
                files.append({
                    "path": f"{speaker}/{label}-{speaker}-{sentence}.wav", "speaker": speaker,
                    "emotion": LABEL_MAP[label], "intensity": 1.0, "channels": CHANNELS,
                })
    return files


def write(folder, seed=0, name="emovo", speakers=None):
    """Write the synthetic EMOVO (deterministic from ``seed``); a folder already written alike is kept.

    Arguments
    ---------
    folder : str
        The corpus folder to create (it receives ``f1/`` ... ``m3/``).
    seed : int
        Random seed: the same seed gives the same bytes.
    name : str
        Name recorded in the folder's stamp.
    speakers : list of str, optional
        Speaker codes to write (default: all six).

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import tempfile, soundfile as sf
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "EMOVO"), speakers=["m2"])
    >>> names = sorted(os.listdir(os.path.join(folder, "m2")))
    >>> info = sf.info(os.path.join(folder, "m2", names[0]))
    >>> len(names), names[0], info.samplerate, info.channels
    (21, 'dis-m2-b1.wav', 48000, 2)
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
