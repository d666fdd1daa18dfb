"""TESS parser: ``<OAF|YAF>_<emotion>/<OAF|YAF>_<word>_<emotion>.wav``, emotion read from the file name."""
import os
import re

from emo_lobes.data.corpora.base import check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus

CORPUS = "tess"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "TESS"
LANGUAGE = "en"
#: Sample rate of the released WAV files (mono, 16 bit).
SAMPLE_RATE = 24414
#: TESS's emotion codes (as in the file names) -> canonical emotions; ``ps`` is pleasant surprise.
LABEL_MAP = {
    "angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "neutral": "neutral",
    "ps": "surprise", "sad": "sad",
}
#: Spellings of the emotion met in TESS folder and file names (lower case) -> the code of :data:`LABEL_MAP`.
EMOTION_SPELLINGS = {
    **{code: code for code in LABEL_MAP},
    "pleasant_surprise": "ps", "pleasant_surprised": "ps", "pleasant surprise": "ps", "surprise": "ps",
}
#: Speaker codes: older and younger actress, both female.
SPEAKERS = {"OAF": "female", "YAF": "female"}
#: Folder names of the release: the case and spelling of the emotion vary, the file names do not.
RELEASE_FOLDERS = {
    ("OAF", "angry"): "OAF_angry", ("OAF", "disgust"): "OAF_disgust", ("OAF", "fear"): "OAF_Fear",
    ("OAF", "happy"): "OAF_happy", ("OAF", "neutral"): "OAF_neutral", ("OAF", "ps"): "OAF_Pleasant_surprise",
    ("OAF", "sad"): "OAF_Sad", ("YAF", "angry"): "YAF_angry", ("YAF", "disgust"): "YAF_disgust",
    ("YAF", "fear"): "YAF_fear", ("YAF", "happy"): "YAF_happy", ("YAF", "neutral"): "YAF_neutral",
    ("YAF", "ps"): "YAF_pleasant_surprised", ("YAF", "sad"): "YAF_sad",
}
LAYOUT = "<OAF|YAF>_<emotion>/<OAF|YAF>_<word>_<angry|disgust|fear|happy|neutral|ps|sad>.wav"

_FILE_PATTERN = re.compile(r"^([A-Za-z]+)_([^_]+)_(.+)$")


def emotion_code(word):
    """The TESS code of an emotion as spelled in a folder or file name, or ``None``.

    Example
    -------
    >>> emotion_code("Pleasant_surprise"), emotion_code("Fear"), emotion_code("calm")
    ('ps', 'fear', None)
    """
    return EMOTION_SPELLINGS.get(nfc(word).strip().lower())


def _speaker_code(file_prefix, folder):
    """``OAF``/``YAF`` from the file name, else from its folder name (some releases shorten it to ``OA``)."""
    for candidate in (file_prefix, folder.split("_")[0]):
        if candidate.upper() in SPEAKERS:
            return candidate.upper()
    return None


def _record_fields(rel_path, problems):
    """The record's fields of one clip, or ``None`` (with a problem) when its name is not TESS's.

    A folder naming another emotion than the file name is noted; the file name's emotion is kept.
    """
    folder = nfc(os.path.basename(os.path.dirname(rel_path)))
    stem = nfc(os.path.splitext(os.path.basename(rel_path))[0])
    match = _FILE_PATTERN.match(stem)
    code = emotion_code(match.group(3)) if match else None
    speaker = _speaker_code(match.group(1), folder) if match else None
    if code is None or speaker is None:
        problems.append(f"{rel_path}: name does not follow {LAYOUT}, skipped")
        return None
    folder_parts = folder.split("_", 1)
    folder_code = emotion_code(folder_parts[1]) if len(folder_parts) == 2 else None
    if folder_code is not None and folder_code != code:
        problems.append(f"{rel_path}: file name says '{code}' but its folder says '{folder_code}'; kept")
    return {
        "id": stem, "speaker": f"{CORPUS}_{speaker}", "gender": SPEAKERS[speaker], "language": LANGUAGE,
        "corpus": CORPUS, "label": code, "emotion": LABEL_MAP[code], "style": "acted",
        "text_id": match.group(2).lower(),
    }


def parse(data_folder):
    """Parse TESS in its official layout (folder names in any case).

    Arguments
    ---------
    data_folder : str
        The folder that holds the ``OAF_*`` and ``YAF_*`` folders.

    Returns
    -------
    ParsedCorpus
        One record per clip: speaker ``tess_OAF`` or ``tess_YAF`` (both female), ``label`` the emotion code of
        the file name (lower case, ``ps`` for pleasant surprise), ``text_id`` the word. Misnamed files and files
        whose folder names another emotion are listed in the problems.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "OAF_Pleasant_surprise"))
    >>> sf.write(os.path.join(root, "OAF_Pleasant_surprise", "OAF_back_ps.wav"), np.zeros(2441), SAMPLE_RATE)
    >>> rec = parse(root).records[0]
    >>> rec["speaker"], rec["label"], rec["emotion"], rec["text_id"], rec["sample_rate"]
    ('tess_OAF', 'ps', 'surprise', 'back', 24414)
    """
    root = check_data_folder(data_folder, CORPUS, "OAF_<emotion>/ and YAF_<emotion>/ folders")
    problems = []
    records = parse_files(root, find_audio_files(root), _record_fields, problems)
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no TESS clips found in {root}",
        f"point --data_folder at a folder with {LAYOUT}",
    )
