"""CaFE (Canadian French Emotional speech) parser: ``<Émotion>/<Faible|Fort>/AA-E-I-S.wav``, ``Neutre/AA-N-S.wav``."""
import os
import re
import unicodedata

from emo_lobes.data.corpora.base import (
    AUDIO_EXTENSIONS, check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus,
)

CORPUS = "cafe"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "CaFE"
LANGUAGE = "fr"
#: Sample rate of the 48 kHz release (a 192 kHz / 24-bit AIFF release exists too; any rate is accepted).
SAMPLE_RATE = 48000
#: The emotion folders (the corpus's own labels) -> canonical emotions.
LABEL_MAP = {
    "Colère": "angry", "Dégoût": "disgust", "Joie": "happy", "Neutre": "neutral",
    "Peur": "fear", "Surprise": "surprise", "Tristesse": "sad",
}
#: The emotion letter of the file names -> emotion folder.
EMOTION_LETTERS = {
    "C": "Colère", "D": "Dégoût", "J": "Joie", "N": "Neutre", "P": "Peur", "S": "Surprise", "T": "Tristesse",
}
NEUTRAL = "Neutre"
#: Intensity folders -> (intensity code of the file names, record intensity). Neutre has no intensity level.
INTENSITY_FOLDERS = {"Faible": ("1", "weak"), "Fort": ("2", "strong")}
#: The twelve actors. The corpus Readme: odd actor numbers are men, even numbers women.
SPEAKERS = {f"{n:02d}": ("male" if n % 2 else "female") for n in range(1, 13)}
#: The six sentences (Readme of the corpus).
SENTENCES = {
    "1": "Un cheval fou dans mon jardin",
    "2": "Deux ânes aigris au pelage brun",
    "3": "Trois cygnes aveugles au bord du lac",
    "4": "Quatre vieilles truies éléphantesques",
    "5": "Cinq pumas fiers et passionnés",
    "6": "Six ours aimants domestiqués",
}
#: The 192 kHz release is AIFF.
CAFE_AUDIO_EXTENSIONS = AUDIO_EXTENSIONS + (".aiff", ".aif")
LAYOUT = (
    "<Colère|Dégoût|Joie|Peur|Surprise|Tristesse>/<Faible|Fort>/<actor>-<letter>-<intensity>-<sentence>.wav "
    "and Neutre/<actor>-N-<sentence>.wav (e.g. Colère/Fort/01-C-2-1.wav)"
)

_FILE_PATTERN = re.compile(r"^(\d{2})-([A-Z])(?:-(\d))?-(\d)$")


def folder_key(name):
    """A folder name without accents, in lower case, so ``Colère`` (NFC or NFD) and ``Colere`` compare equal.

    Example
    -------
    >>> folder_key("Cole\\u0300re") == folder_key("Col\\u00e8re") == folder_key("COLERE") == "colere"
    True
    """
    decomposed = unicodedata.normalize("NFD", nfc(name))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


_EMOTION_BY_KEY = {folder_key(label): label for label in LABEL_MAP}
_INTENSITY_BY_KEY = {folder_key(name): name for name in INTENSITY_FOLDERS}


def speaker_of(actor):
    """The corpus-unique speaker name of a CaFE actor code.

    Example
    -------
    >>> speaker_of("01")
    'cafe_01'
    """
    return f"{CORPUS}_{actor}"


def parse_name(file_name):
    """Decode a CaFE file name into its fields.

    Arguments
    ---------
    file_name : str
        A base name such as ``01-C-2-1.wav`` or, for neutral, ``01-N-1.wav`` (extension optional).

    Returns
    -------
    dict or None
        ``actor``, ``letter``, ``intensity_code`` (``None`` for the three-field neutral names) and
        ``sentence``; ``None`` when the name is not CaFE's.

    Example
    -------
    >>> parse_name("01-C-2-1.wav")
    {'actor': '01', 'letter': 'C', 'intensity_code': '2', 'sentence': '1'}
    >>> parse_name("07-N-3.wav")["intensity_code"] is None, parse_name("13-C-2-1.wav") is None
    (True, True)
    """
    match = _FILE_PATTERN.match(nfc(os.path.splitext(os.path.basename(file_name))[0]))
    if not match:
        return None
    actor, letter, intensity_code, sentence = match.groups()
    if actor not in SPEAKERS or letter not in EMOTION_LETTERS or sentence not in SENTENCES:
        return None
    return {"actor": actor, "letter": letter, "intensity_code": intensity_code, "sentence": sentence}


def _folder_fields(rel_path):
    """(emotion label, intensity folder or None) from the folders holding a file; ``None`` when not CaFE's."""
    parts = rel_path.split("/")[:-1]
    if len(parts) >= 2 and folder_key(parts[-1]) in _INTENSITY_BY_KEY and folder_key(parts[-2]) in _EMOTION_BY_KEY:
        label = _EMOTION_BY_KEY[folder_key(parts[-2])]
        return (label, _INTENSITY_BY_KEY[folder_key(parts[-1])]) if label != NEUTRAL else None
    if parts and _EMOTION_BY_KEY.get(folder_key(parts[-1])) == NEUTRAL:
        return NEUTRAL, None
    return None


def _record_fields(rel_path, problems):
    """The record's fields of one file, or ``None`` (with a problem) when its folders or name are not CaFE's."""
    folders = _folder_fields(rel_path)
    fields = parse_name(rel_path)
    if folders is None or fields is None:
        problems.append(f"{rel_path}: not in the layout {LAYOUT}, skipped")
        return None
    label, intensity_folder = folders
    if EMOTION_LETTERS[fields["letter"]] != label:
        problems.append(f"{rel_path}: emotion letter {fields['letter']} disagrees with folder {label}, skipped")
        return None
    expected_code = INTENSITY_FOLDERS[intensity_folder][0] if intensity_folder else None
    if fields["intensity_code"] != expected_code and intensity_folder is not None:
        problems.append(
            f"{rel_path}: intensity code {fields['intensity_code']} disagrees with folder {intensity_folder} "
            f"({expected_code}), skipped"
        )
        return None
    actor = fields["actor"]
    return {
        "id": nfc(os.path.splitext(os.path.basename(rel_path))[0]), "speaker": speaker_of(actor),
        "gender": SPEAKERS[actor], "language": LANGUAGE, "corpus": CORPUS, "label": label,
        "emotion": LABEL_MAP[label], "style": "acted",
        "intensity": INTENSITY_FOLDERS[intensity_folder][1] if intensity_folder else None,
        "text_id": fields["sentence"], "text": SENTENCES[fields["sentence"]],
    }


def parse(data_folder):
    """Parse CaFE in its official layout (48 kHz WAV or 192 kHz AIFF release).

    Folder names are matched in any Unicode normal form, case, and with or without accents (``Colère``,
    ``Cole\\u0300re``, ``Colere``). The emotion folders may sit directly in ``data_folder`` or deeper (e.g. the
    parts ``CaFE_192k_1/``, ``CaFE_192k_2/`` of the 192 kHz release).

    Arguments
    ---------
    data_folder : str
        The folder that holds the emotion folders (``Colère/``, ..., ``Neutre/``), or a folder above them.

    Returns
    -------
    ParsedCorpus
        One record per file: ``id`` the file stem, speaker ``cafe_<actor>`` (odd actors male, even female),
        ``label`` the emotion folder's official name (``Colère``), ``intensity`` ``weak``/``strong`` (``None``
        for Neutre), ``text_id`` the sentence number and ``text`` its words. Files outside the layout, whose
        letter or intensity code disagrees with their folders, or unreadable, are listed in the problems.

    Raises
    ------
    EmoLobesError
        When the folder holds no CaFE file.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "Colère", "Fort"))
    >>> sf.write(os.path.join(root, "Colère", "Fort", "02-C-2-4.wav"), np.zeros(4800), 48000)
    >>> rec = parse(root).records[0]
    >>> rec["speaker"], rec["gender"], rec["label"], rec["emotion"], rec["intensity"], rec["text_id"]
    ('cafe_02', 'female', 'Colère', 'angry', 'strong', '4')
    """
    root = check_data_folder(data_folder, CORPUS, "Colère/ Dégoût/ Joie/ Neutre/ Peur/ Surprise/ Tristesse/")
    problems = []
    records = parse_files(root, find_audio_files(root, CAFE_AUDIO_EXTENSIONS), _record_fields, problems)
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no CaFE recordings found in {root}",
        f"point --data_folder at the CaFE folder with {LAYOUT}",
    )
