"""Synthetic CaFE: twelve actors in ``<Émotion>/<Faible|Fort>/AA-E-I-S.wav`` and ``Neutre/AA-N-S.wav``, 48 kHz."""
from emo_lobes.data.corpora.cafe import (
    EMOTION_LETTERS, INTENSITY_FOLDERS, LABEL_MAP, NEUTRAL, SAMPLE_RATE, SENTENCES, SPEAKERS,
)
from emo_lobes.data.synthetic.common import chosen_speakers, write_planned_files

#: Neutral sentences each actor says.
NEUTRAL_PER_SPEAKER = 1
#: Synthesis intensity of the intensity folders.
INTENSITY_SCALE = {"Faible": 0.5, "Fort": 1.5}
DURATION_S = (1.0, 1.6)


def _chosen_speakers(speakers):
    """The actor codes to write, in order; all twelve by default."""
    return chosen_speakers(speakers, SPEAKERS, "CaFE actors")


def plan(speakers=None):
    """The files of the synthetic corpus, with NFC folder names.

    Every actor says each of the six emotions at both intensities and :data:`NEUTRAL_PER_SPEAKER` neutral
    sentences (the proportions of the real corpus, which has six sentences of each).

    Arguments
    ---------
    speakers : list of str, optional
        Actor codes to include (default: all twelve).

    Returns
    -------
    list of dict
        ``path`` (relative), ``speaker`` code, canonical ``emotion``, synthesis ``intensity``, ``channels``.

    Example
    -------
    >>> files = plan()
    >>> len(files), files[0]["path"], files[12]["path"]
    (156, 'Colère/Faible/01-C-1-2.wav', 'Neutre/01-N-1.wav')
    """
    sentences = list(SENTENCES)
    emotional = [(letter, label) for letter, label in EMOTION_LETTERS.items() if label != NEUTRAL]
    files = []
    for speaker in _chosen_speakers(speakers):
        speaker_index = list(SPEAKERS).index(speaker)
        for emotion_index, (letter, label) in enumerate(emotional):
            for intensity, (code, _) in INTENSITY_FOLDERS.items():
                sentence = sentences[(speaker_index + emotion_index + int(code)) % len(sentences)]
                files.append({
                    "path": f"{label}/{intensity}/{speaker}-{letter}-{code}-{sentence}.wav", "speaker": speaker,
                    "emotion": LABEL_MAP[label], "intensity": INTENSITY_SCALE[intensity], "channels": 1,
                })
        for take in range(NEUTRAL_PER_SPEAKER):
            sentence = sentences[(speaker_index + 2 * take) % len(sentences)]
            files.append({
                "path": f"{NEUTRAL}/{speaker}-N-{sentence}.wav", "speaker": speaker,
                "emotion": LABEL_MAP[NEUTRAL], "intensity": 1.0, "channels": 1,
            })
    return files


def write(folder, seed=0, name="cafe", speakers=None):
    """Write the synthetic CaFE (deterministic from ``seed``); a folder already written alike is kept.

    Arguments
    ---------
    folder : str
        The corpus folder to create (it receives ``Colère/`` ... ``Tristesse/``, names in NFC).
    seed : int
        Random seed: the same seed gives the same bytes.
    name : str
        Name recorded in the folder's stamp.
    speakers : list of str, optional
        Actor codes to write (default: all twelve).

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import os, tempfile
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "CaFE"), speakers=["03"])
    >>> sorted(os.listdir(folder))[:3], sorted(os.listdir(os.path.join(folder, "Neutre")))
    (['.synthetic.json', 'Colère', 'Dégoût'], ['03-N-3.wav'])
    """
    chosen = _chosen_speakers(speakers)
    return write_planned_files(folder, name, seed, chosen, plan(chosen), SPEAKERS, SAMPLE_RATE, DURATION_S)
