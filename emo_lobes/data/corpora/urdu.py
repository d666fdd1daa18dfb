"""URDU parser: ``<Angry|Happy|Neutral|Sad>/S<gender><speaker>_F<file>_<emotion letter><number>.wav``."""
import os
import re

from emo_lobes.data.corpora.base import check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus

CORPUS = "urdu"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "URDU"
LANGUAGE = "ur"
#: Sample rate of the released WAV files (mono, 16 bit).
SAMPLE_RATE = 44100
#: The emotion letter of the file names -> canonical emotion.
LABEL_MAP = {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"}
#: The emotion folders and the letter their files carry.
FOLDERS = {"Angry": "A", "Happy": "H", "Neutral": "N", "Sad": "S"}
#: Gender letter of the speaker code.
GENDERS = {"M": "male", "F": "female"}
#: Clips are cut from Urdu talk shows, not acted.
STYLE = "spontaneous"
LAYOUT = "<Angry|Happy|Neutral|Sad>/S<M|F><speaker>_F<file>_<A|H|N|S><number>.wav (e.g. Angry/SM1_F01_A012.wav)"

# The digit counts vary in the release (SM1_F1_A01, SM6_F4_S0100), so any number of digits is accepted.
_FILE_PATTERN = re.compile(r"^S([MF])(\d+)_F(\d+)_([AHNS])(\d+)$")
#: Emotion folder name in lower case -> the letter its files carry.
_FOLDER_LETTERS = {name.lower(): letter for name, letter in FOLDERS.items()}


def speaker_of(gender_letter, speaker_number):
    """The corpus-unique speaker name: gender letter and id together (``SM1`` and ``SF1`` are two people).

    Example
    -------
    >>> speaker_of("M", "1")
    'urdu_SM1'
    """
    return f"{CORPUS}_S{gender_letter}{int(speaker_number)}"


def file_name(gender_letter, speaker_number, file_number, letter, emotion_number):
    """The release's name of a clip: file number unpadded, emotion number written as ``0`` + number.

    Arguments
    ---------
    gender_letter : str
        ``M`` or ``F``.
    speaker_number : int
        The speaker id.
    file_number : int
        The clip's number among this speaker's clips of this emotion (from 1).
    letter : str
        Emotion letter (key of :data:`LABEL_MAP`).
    emotion_number : int
        The clip's number among all clips of this emotion (from 1).

    Returns
    -------
    str
        The file name.

    Example
    -------
    >>> file_name("M", 1, 10, "A", 10), file_name("M", 6, 4, "S", 100)
    ('SM1_F10_A010.wav', 'SM6_F4_S0100.wav')
    """
    return f"S{gender_letter}{int(speaker_number)}_F{int(file_number)}_{letter}0{int(emotion_number)}.wav"


def _record_fields(rel_path, problems):
    """The record's fields of one clip, or ``None`` (with a problem) when its name is not URDU's.

    A folder holding another emotion than the file name is noted; the file name's emotion is kept.
    """
    stem = nfc(os.path.splitext(os.path.basename(rel_path))[0])
    match = _FILE_PATTERN.match(stem)
    if not match:
        problems.append(f"{rel_path}: name does not follow {LAYOUT}, skipped")
        return None
    gender_letter, speaker_number, file_number, letter, _ = match.groups()
    folder_letter = _FOLDER_LETTERS.get(nfc(os.path.basename(os.path.dirname(rel_path))).lower())
    if folder_letter is not None and folder_letter != letter:
        problems.append(f"{rel_path}: file name says '{letter}' but its folder says '{folder_letter}'; kept")
    return {
        "id": stem, "speaker": speaker_of(gender_letter, speaker_number), "gender": GENDERS[gender_letter],
        "language": LANGUAGE, "corpus": CORPUS, "label": letter, "emotion": LABEL_MAP[letter], "style": STYLE,
    }


def parse(data_folder):
    """Parse the URDU corpus in its official layout.

    Arguments
    ---------
    data_folder : str
        The folder that holds ``Angry/``, ``Happy/``, ``Neutral/`` and ``Sad/``.

    Returns
    -------
    ParsedCorpus
        One record per clip: speaker ``urdu_S<G><id>``, gender from the code, ``label`` the emotion letter,
        ``style`` spontaneous (talk-show speech). Misnamed files, and files whose folder holds another emotion,
        are listed in the problems (the latter kept with the file name's emotion).

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "Sad"))
    >>> sf.write(os.path.join(root, "Sad", "SF3_F02_S041.wav"), np.zeros(4410), SAMPLE_RATE)
    >>> rec = parse(root).records[0]
    >>> rec["speaker"], rec["gender"], rec["label"], rec["emotion"], rec["wav"]
    ('urdu_SF3', 'female', 'S', 'sad', 'Sad/SF3_F02_S041.wav')
    """
    root = check_data_folder(data_folder, CORPUS, "Angry/, Happy/, Neutral/ and Sad/")
    problems = []
    records = parse_files(root, find_audio_files(root), _record_fields, problems)
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no URDU clips found in {root}",
        f"point --data_folder at a folder with {LAYOUT}",
    )
