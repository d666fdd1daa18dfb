"""SAVEE parser: ``AudioData/<speaker>/<code><NN>.wav`` or the flat ``<speaker>_<code><NN>.wav``."""
import os
import re

from emo_lobes.data.corpora.base import check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus

CORPUS = "savee"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "SAVEE"
LANGUAGE = "en"
#: Sample rate of the released WAV files (mono).
SAMPLE_RATE = 44100
#: The four speakers (initials); all are male.
SPEAKERS = {"DC": "male", "JE": "male", "JK": "male", "KL": "male"}
#: SAVEE's emotion codes -> canonical emotions.
LABEL_MAP = {
    "a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprise",
}
#: Sentences per emotion and speaker in the release (neutral has twice as many).
SENTENCES_PER_EMOTION = {"a": 15, "d": 15, "f": 15, "h": 15, "n": 30, "sa": 15, "su": 15}
AUDIO_FOLDER = "AudioData"
LAYOUT = (
    "AudioData/<DC|JE|JK|KL>/<a|d|f|h|n|sa|su><NN>.wav (e.g. AudioData/DC/sa01.wav), "
    "or the flat <DC|JE|JK|KL>_<code><NN>.wav in one folder (e.g. ALL/JK_sa12.wav)"
)

_CODE = "(sa|su|a|d|f|h|n)"
_FOLDER_FILE_PATTERN = re.compile(rf"^{_CODE}(\d{{2}})$")
_FLAT_FILE_PATTERN = re.compile(rf"^([A-Z]{{2}})_{_CODE}(\d{{2}})$")


def speaker_of(speaker_code):
    """The corpus-unique speaker name of a SAVEE speaker's initials.

    Example
    -------
    >>> speaker_of("DC")
    'savee_DC'
    """
    return f"{CORPUS}_{speaker_code}"


def parse_path(rel_path):
    """Decode a SAVEE file path in either layout into its fields.

    Arguments
    ---------
    rel_path : str
        ``<speaker>/<code><NN>.wav`` (any folders above) or a flat ``<speaker>_<code><NN>.wav``.
        Speaker initials are matched in any case, emotion codes too.

    Returns
    -------
    dict or None
        ``speaker`` (upper case), ``label`` (lower case) and ``number``, or ``None`` when the path is not
        SAVEE's.

    Example
    -------
    >>> parse_path("AudioData/DC/sa01.wav")
    {'speaker': 'DC', 'label': 'sa', 'number': '01'}
    >>> parse_path("ALL/JK_su12.wav")
    {'speaker': 'JK', 'label': 'su', 'number': '12'}
    >>> parse_path("AudioData/XY/a01.wav") is None, parse_path("DC_x01.wav") is None
    (True, True)
    """
    parts = nfc(rel_path).split("/")
    stem = os.path.splitext(parts[-1])[0]
    flat = _FLAT_FILE_PATTERN.match(stem[:2].upper() + stem[2:].lower())
    if flat:
        speaker, label, number = flat.groups()
    else:
        in_folder = _FOLDER_FILE_PATTERN.match(stem.lower())
        if not in_folder or len(parts) < 2:
            return None
        speaker, (label, number) = parts[-2].upper(), in_folder.groups()
    if speaker not in SPEAKERS:
        return None
    return {"speaker": speaker, "label": label, "number": number}


def _record_fields(rel_path, problems):
    """The record's fields of one file, or ``None`` (with a problem) when it is in neither SAVEE layout."""
    fields = parse_path(rel_path)
    if fields is None:
        problems.append(f"{rel_path}: not in the layout {LAYOUT}, skipped")
        return None
    return {
        "id": f"{fields['speaker']}_{fields['label']}{fields['number']}", "speaker": speaker_of(fields["speaker"]),
        "gender": SPEAKERS[fields["speaker"]], "language": LANGUAGE, "corpus": CORPUS, "label": fields["label"],
        "emotion": LABEL_MAP[fields["label"]], "style": "acted",
    }


def parse(data_folder):
    """Parse SAVEE's audio in its official layout or the common flat one.

    Arguments
    ---------
    data_folder : str
        The folder that holds ``AudioData/`` (or ``AudioData`` itself), or a folder with the flat files
        ``DC_a01.wav`` ... (directly or in ``ALL/``).

    Returns
    -------
    ParsedCorpus
        One record per file: ``id`` ``<speaker>_<code><NN>`` (unique across speakers), speaker
        ``savee_<initials>``, gender ``male``, ``label`` the emotion code. Misnamed and unreadable files and a
        second copy of the same recording (both layouts present) are listed in the problems.

    Raises
    ------
    EmoLobesError
        When the folder holds no SAVEE file.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "AudioData", "KL"))
    >>> sf.write(os.path.join(root, "AudioData", "KL", "su03.wav"), np.zeros(4410), 44100)
    >>> rec = parse(root).records[0]
    >>> rec["id"], rec["speaker"], rec["gender"], rec["label"], rec["emotion"], rec["wav"]
    ('KL_su03', 'savee_KL', 'male', 'su', 'surprise', 'AudioData/KL/su03.wav')
    """
    root = check_data_folder(data_folder, CORPUS, "AudioData/DC/a01.wav ... (or flat DC_a01.wav files)")
    problems = []
    records = parse_files(root, find_audio_files(root), _record_fields, problems, repeat="a second copy of")
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no SAVEE recordings found in {root}",
        f"point --data_folder at the SAVEE folder with {LAYOUT}",
    )
