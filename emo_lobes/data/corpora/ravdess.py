"""RAVDESS parser: ``Actor_XX/MM-VV-EE-II-SS-RR-AA.wav`` (modality, channel, emotion, intensity, ...)."""
import os
import re

from emo_lobes.data.corpora.base import check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus
from emo_lobes.errors import EmoLobesError

CORPUS = "ravdess"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "RAVDESS"
LANGUAGE = "en"
#: Sample rate of the released WAV files (some of them are stereo).
SAMPLE_RATE = 48000
#: Modality codes; only audio-only files are speech recordings in WAV form.
MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
AUDIO_ONLY = "03"
#: Vocal channel codes.
VOCAL_CHANNELS = {"01": "speech", "02": "song"}
SPEECH, SONG = "01", "02"
#: RAVDESS's emotion codes -> canonical emotions.
LABEL_MAP = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fear", "07": "disgust", "08": "surprise",
}
#: Emotional intensity codes (neutral has only ``01``).
INTENSITIES = {"01": "normal", "02": "strong"}
#: The two statements.
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REPETITIONS = ("01", "02")
#: The 24 actors: odd numbers are male, even numbers female.
SPEAKERS = {f"{n:02d}": ("male" if n % 2 else "female") for n in range(1, 25)}
LAYOUT = (
    "Actor_01..Actor_24/<modality>-<channel>-<emotion>-<intensity>-<statement>-<repetition>-<actor>.wav "
    "(e.g. Actor_12/03-01-05-02-01-01-12.wav), directly in the folder or one level down"
)

_ACTOR_FOLDER = re.compile(r"^actor_(\d{2})$", re.IGNORECASE)
_FILE_PATTERN = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def speaker_of(actor):
    """The corpus-unique speaker name of a RAVDESS actor code.

    Example
    -------
    >>> speaker_of("07")
    'ravdess_07'
    """
    return f"{CORPUS}_{actor}"


def parse_name(file_name):
    """Decode a RAVDESS file name into its seven fields.

    Arguments
    ---------
    file_name : str
        A base name such as ``03-01-05-02-01-01-12.wav`` (extension optional).

    Returns
    -------
    dict or None
        ``modality``, ``vocal_channel``, ``label``, ``intensity``, ``statement``, ``repetition`` and
        ``actor`` codes, or ``None`` when the name is not a RAVDESS name or a code is out of range
        (including a strong-intensity neutral, which RAVDESS does not have).

    Example
    -------
    >>> parse_name("03-01-05-02-01-01-12.wav")["label"], parse_name("03-02-01-01-02-01-03")["vocal_channel"]
    ('05', '02')
    >>> parse_name("03-01-01-02-01-01-12.wav") is None, parse_name("03-01-09-01-01-01-12.wav") is None
    (True, True)
    """
    match = _FILE_PATTERN.match(nfc(os.path.splitext(os.path.basename(file_name))[0]))
    if not match:
        return None
    modality, channel, label, intensity, statement, repetition, actor = match.groups()
    valid = (
        modality in MODALITIES and channel in VOCAL_CHANNELS and label in LABEL_MAP and intensity in INTENSITIES
        and statement in STATEMENTS and repetition in REPETITIONS and actor in SPEAKERS
        and not (label == "01" and intensity == "02")
    )
    if not valid:
        return None
    return {
        "modality": modality, "vocal_channel": channel, "label": label, "intensity": intensity,
        "statement": statement, "repetition": repetition, "actor": actor,
    }


def find_actor_folders(root):
    """The ``Actor_XX`` folders in ``root`` or one level below it (e.g. ``Audio_Speech_Actors_01-24/``).

    Arguments
    ---------
    root : str
        The folder the user passed.

    Returns
    -------
    list of (str, str)
        ``(path relative to root, actor code)``, sorted.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for sub in ("Actor_01", "Audio_Song_Actors_01-24/Actor_02", "docs"):
    ...     os.makedirs(os.path.join(root, sub))
    >>> find_actor_folders(root)
    [('Actor_01', '01'), ('Audio_Song_Actors_01-24/Actor_02', '02')]
    """
    found = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if entry.startswith(".") or not os.path.isdir(path):
            continue
        match = _ACTOR_FOLDER.match(entry)
        if match:
            found.append((entry, match.group(1)))
            continue
        for sub in sorted(os.listdir(path)):
            match = _ACTOR_FOLDER.match(sub)
            if match and os.path.isdir(os.path.join(path, sub)):
                found.append((f"{entry}/{sub}", match.group(1)))
    return found


def parse(data_folder, include_song=False):
    """Parse RAVDESS (audio-only speech, and optionally song) in its official layout.

    Arguments
    ---------
    data_folder : str
        The folder that holds ``Actor_01`` .. ``Actor_24``, or one level above it (e.g. the folder that
        holds ``Audio_Speech_Actors_01-24/`` and ``Audio_Song_Actors_01-24/``).
    include_song : bool
        Keep the sung files (vocal channel ``02``); by default only speech is kept.

    Returns
    -------
    ParsedCorpus
        One record per audio-only file: ``id`` the file stem, speaker ``ravdess_<actor>`` (odd actors male,
        even female), ``label`` the emotion code, ``intensity`` ``normal``/``strong``, ``text_id`` the
        statement code and ``text`` its words. Misnamed, unreadable, non-audio-only (modality ``01``/``02``)
        files and files whose actor differs from their folder's are listed in the problems.

    Raises
    ------
    EmoLobesError
        When no ``Actor_XX`` folder or no RAVDESS file is found.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "Actor_12"))
    >>> sf.write(os.path.join(root, "Actor_12", "03-01-05-02-01-01-12.wav"), np.zeros((4800, 2)), 48000)
    >>> sf.write(os.path.join(root, "Actor_12", "03-02-05-02-01-01-12.wav"), np.zeros(4800), 48000)
    >>> parsed = parse(root)
    >>> rec = parsed.records[0]
    >>> len(parsed), rec["speaker"], rec["gender"], rec["emotion"], rec["intensity"], rec["channels"]
    (1, 'ravdess_12', 'female', 'angry', 'strong', 2)
    >>> len(parse(root, include_song=True))
    2
    """
    root = check_data_folder(data_folder, CORPUS, "Actor_01 .. Actor_24")
    actor_folders = find_actor_folders(root)
    if not actor_folders:
        raise EmoLobesError(
            f"no RAVDESS Actor_XX folders in {root} or one level below it",
            f"point --data_folder at the folder with {LAYOUT}",
        )
    kept_channels = (SPEECH, SONG) if include_song else (SPEECH,)
    folder_actors = {
        f"{folder}/{name}": folder_actor
        for folder, folder_actor in actor_folders for name in find_audio_files(os.path.join(root, folder))
    }

    def record_fields(rel_path, problems):
        """The record's fields of one file, or ``None`` when it is not a kept RAVDESS file of its actor folder."""
        fields = parse_name(rel_path)
        if fields is None:
            problems.append(f"{rel_path}: name does not follow {LAYOUT}, skipped")
            return None
        if fields["modality"] != AUDIO_ONLY:
            problems.append(
                f"{rel_path}: modality {fields['modality']} ({MODALITIES[fields['modality']]}) is not the "
                f"audio-only release ({AUDIO_ONLY}), skipped"
            )
            return None
        if fields["actor"] != folder_actors[rel_path]:
            problems.append(f"{rel_path}: actor {fields['actor']} filed under Actor_{folder_actors[rel_path]}, skipped")
            return None
        if fields["vocal_channel"] not in kept_channels:
            return None
        return {
            "id": nfc(os.path.splitext(os.path.basename(rel_path))[0]), "speaker": speaker_of(fields["actor"]),
            "gender": SPEAKERS[fields["actor"]], "language": LANGUAGE, "corpus": CORPUS, "label": fields["label"],
            "emotion": LABEL_MAP[fields["label"]], "style": "acted", "intensity": INTENSITIES[fields["intensity"]],
            "text_id": fields["statement"], "text": STATEMENTS[fields["statement"]],
        }

    problems = []
    records = parse_files(root, list(folder_actors), record_fields, problems)
    channels = "speech or song" if include_song else "speech (song is left out unless include_song=True)"
    return parsed_corpus(
        CORPUS, data_folder, records, problems,
        f"no RAVDESS audio-only {channels} files in the Actor_XX folders of {root}",
        f"point --data_folder at the folder with {LAYOUT}",
    )
