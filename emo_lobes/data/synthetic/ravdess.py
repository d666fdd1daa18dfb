"""Synthetic RAVDESS: audio-only speech and a few songs in ``Audio_*_Actors_01-24/Actor_XX/``, 48 kHz."""
from emo_lobes.data.corpora.ravdess import (
    AUDIO_ONLY, INTENSITIES, LABEL_MAP, SAMPLE_RATE, SONG, SPEAKERS, SPEECH, STATEMENTS,
)
from emo_lobes.data.synthetic.common import chosen_speakers, write_planned_files

#: Actors whose speech is written (the real ids; odd male, even female).
SPEECH_ACTORS = ("01", "02", "03", "04", "05", "06", "07", "08")
#: Actors who also sing, and the (emotion, intensity) codes they sing; the default parse leaves these out.
SONG_ACTORS = ("01", "02")
SONG_TAKES = (("01", "01"), ("03", "02"), ("05", "01"))
#: Like the real release, a few speech files are stereo: this actor's strong-intensity ones.
STEREO_ACTOR = "05"
SPEECH_FOLDER = "Audio_Speech_Actors_01-24"
SONG_FOLDER = "Audio_Song_Actors_01-24"
#: Synthesis intensity of RAVDESS's intensity codes.
INTENSITY_SCALE = {"01": 1.0, "02": 1.5}
DURATION_S = (1.0, 1.8)


def _chosen_speakers(speakers):
    """The actor codes to write, in order; all speech actors by default."""
    return chosen_speakers(speakers, SPEECH_ACTORS, "synthetic RAVDESS actors")


def _entry(folder, channel, label, intensity, actor):
    """One planned file: statement and repetition vary with the other fields."""
    number = int(actor) + int(label) + int(intensity)
    statement = list(STATEMENTS)[number % len(STATEMENTS)]
    repetition = "02" if number % 3 == 0 else "01"
    name = f"{AUDIO_ONLY}-{channel}-{label}-{intensity}-{statement}-{repetition}-{actor}.wav"
    stereo = channel == SPEECH and actor == STEREO_ACTOR and intensity == "02"
    return {
        "path": f"{folder}/Actor_{actor}/{name}", "speaker": actor, "emotion": LABEL_MAP[label],
        "intensity": INTENSITY_SCALE[intensity], "channels": 2 if stereo else 1,
    }


def plan(speakers=None):
    """The files of the synthetic corpus: each actor speaks every emotion at every intensity it has.

    Neutral has only the normal intensity (as in RAVDESS), so an actor has 15 speech files; actors of
    :data:`SONG_ACTORS` also sing :data:`SONG_TAKES`.

    Arguments
    ---------
    speakers : list of str, optional
        Actor codes to include (default: :data:`SPEECH_ACTORS`).

    Returns
    -------
    list of dict
        ``path`` (relative), ``speaker`` code, canonical ``emotion``, synthesis ``intensity``, ``channels``.

    Example
    -------
    >>> files = plan()
    >>> len(files), sum(f["channels"] == 2 for f in files), sum("Song" in f["path"] for f in files)
    (126, 7, 6)
    >>> files[0]["path"]
    'Audio_Speech_Actors_01-24/Actor_01/03-01-01-01-02-02-01.wav'
    """
    files = []
    for actor in _chosen_speakers(speakers):
        for label in LABEL_MAP:
            for intensity in INTENSITIES:
                if not (label == "01" and intensity == "02"):
                    files.append(_entry(SPEECH_FOLDER, SPEECH, label, intensity, actor))
        if actor in SONG_ACTORS:
            files.extend(_entry(SONG_FOLDER, SONG, label, intensity, actor) for label, intensity in SONG_TAKES)
    return files


def write(folder, seed=0, name="ravdess", speakers=None):
    """Write the synthetic RAVDESS (deterministic from ``seed``); a folder already written alike is kept.

    Arguments
    ---------
    folder : str
        The corpus folder to create (it receives ``Audio_Speech_Actors_01-24/`` and ``Audio_Song_Actors_01-24/``).
    seed : int
        Random seed: the same seed gives the same bytes.
    name : str
        Name recorded in the folder's stamp.
    speakers : list of str, optional
        Actor codes to write (default: :data:`SPEECH_ACTORS`).

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import os, tempfile, soundfile as sf
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "RAVDESS"), speakers=["02"])
    >>> names = sorted(os.listdir(os.path.join(folder, SPEECH_FOLDER, "Actor_02")))
    >>> len(names), sf.info(os.path.join(folder, SPEECH_FOLDER, "Actor_02", names[0])).samplerate
    (15, 48000)
    """
    chosen = _chosen_speakers(speakers)
    speaker_genders = {code: SPEAKERS[code] for code in SPEECH_ACTORS}
    return write_planned_files(folder, name, seed, chosen, plan(chosen), speaker_genders, SAMPLE_RATE, DURATION_S)
