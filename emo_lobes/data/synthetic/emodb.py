"""Synthetic EmoDB: the ten real actors, seven emotions, ``wav/03a01Fa.wav`` names, 16 kHz mono."""
from emo_lobes.data.corpora.emodb import AUDIO_FOLDER, LABEL_MAP, SAMPLE_RATE, SPEAKERS, TEXTS
from emo_lobes.data.synthetic.common import chosen_speakers, write_planned_files

#: Texts each speaker says in each emotion (version ``a``; every third file is a second take ``b``).
TEXTS_PER_EMOTION = 2
DURATION_S = (1.0, 2.5)


def _chosen_speakers(speakers):
    """The speaker codes to write, in the corpus's order; all by default."""
    return chosen_speakers(speakers, SPEAKERS, "EmoDB speakers")


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
    >>> import os, tempfile, soundfile as sf
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "EmoDB"), speakers=["16"])
    >>> names = sorted(os.listdir(os.path.join(folder, "wav")))
    >>> len(names), names[0], sf.info(os.path.join(folder, "wav", names[0])).samplerate
    (14, '16a01La.wav', 16000)
    """
    chosen = _chosen_speakers(speakers)
    return write_planned_files(folder, name, seed, chosen, plan(chosen), SPEAKERS, SAMPLE_RATE, DURATION_S)
