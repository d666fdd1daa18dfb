"""Synthetic SAVEE: the four male speakers in ``AudioData/<speaker>/<code><NN>.wav``, 44.1 kHz mono."""
from emo_lobes.data.corpora.savee import AUDIO_FOLDER, LABEL_MAP, SAMPLE_RATE, SPEAKERS
from emo_lobes.data.synthetic.common import chosen_speakers, write_planned_files

#: Files per emotion and speaker; neutral has twice as many, as in the real corpus (30 vs 15).
FILES_PER_EMOTION = 4
NEUTRAL_CODE = "n"
DURATION_S = (1.0, 2.0)


def _chosen_speakers(speakers):
    """The speaker initials to write, in order; all four by default."""
    return chosen_speakers(speakers, SPEAKERS, "SAVEE speakers", "initials")


def plan(speakers=None):
    """The files of the synthetic corpus, numbered ``01`` upwards per emotion as in the real one.

    Arguments
    ---------
    speakers : list of str, optional
        Speaker initials to include (default: all four).

    Returns
    -------
    list of dict
        ``path`` (relative), ``speaker`` initials, canonical ``emotion``, synthesis ``intensity``, ``channels``.

    Example
    -------
    >>> files = plan()
    >>> len(files), files[0]["path"], files[-1]["path"]
    (128, 'AudioData/DC/a01.wav', 'AudioData/KL/su04.wav')
    """
    files = []
    for speaker in _chosen_speakers(speakers):
        for code in LABEL_MAP:
            count = FILES_PER_EMOTION * (2 if code == NEUTRAL_CODE else 1)
            for number in range(1, count + 1):
                files.append({
                    "path": f"{AUDIO_FOLDER}/{speaker}/{code}{number:02d}.wav", "speaker": speaker,
                    "emotion": LABEL_MAP[code], "intensity": 1.0, "channels": 1,
                })
    return files


def write(folder, seed=0, name="savee", speakers=None):
    """Write the synthetic SAVEE (deterministic from ``seed``); a folder already written alike is kept.

    Arguments
    ---------
    folder : str
        The corpus folder to create (it receives ``AudioData/DC`` ... ``AudioData/KL``).
    seed : int
        Random seed: the same seed gives the same bytes.
    name : str
        Name recorded in the folder's stamp.
    speakers : list of str, optional
        Speaker initials to write (default: all four).

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import os, tempfile, soundfile as sf
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "SAVEE"), speakers=["JE"])
    >>> names = sorted(os.listdir(os.path.join(folder, "AudioData", "JE")))
    >>> len(names), names[:2], sf.info(os.path.join(folder, "AudioData", "JE", names[0])).samplerate
    (32, ['a01.wav', 'a02.wav'], 44100)
    """
    chosen = _chosen_speakers(speakers)
    return write_planned_files(folder, name, seed, chosen, plan(chosen), SPEAKERS, SAMPLE_RATE, DURATION_S)
