"""Synthetic EMOVO: six actors in ``<speaker>/<emotion>-<speaker>-<sentence>.wav``, 48 kHz stereo."""
from emo_lobes.data.corpora.emovo import CHANNELS, LABEL_MAP, SAMPLE_RATE, SENTENCES, SPEAKERS
from emo_lobes.data.synthetic.common import chosen_speakers, write_planned_files

#: Sentences each actor says in each emotion (cycling through the fourteen sentence codes).
SENTENCES_PER_EMOTION = 3
DURATION_S = (1.0, 1.6)


def _chosen_speakers(speakers):
    """The speaker codes to write, in order; all six by default."""
    return chosen_speakers(speakers, SPEAKERS, "EMOVO speakers")


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
    >>> import os, tempfile, soundfile as sf
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "EMOVO"), speakers=["m2"])
    >>> names = sorted(os.listdir(os.path.join(folder, "m2")))
    >>> info = sf.info(os.path.join(folder, "m2", names[0]))
    >>> len(names), names[0], info.samplerate, info.channels
    (21, 'dis-m2-b1.wav', 48000, 2)
    """
    chosen = _chosen_speakers(speakers)
    return write_planned_files(folder, name, seed, chosen, plan(chosen), SPEAKERS, SAMPLE_RATE, DURATION_S)
