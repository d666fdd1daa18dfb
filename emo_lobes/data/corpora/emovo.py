"""EMOVO (Italian emotional speech) parser: ``<speaker>/<emotion>-<speaker>-<sentence>.wav``."""
import os
import re

from emo_lobes.data.corpora.base import check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus

CORPUS = "emovo"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "EMOVO"
LANGUAGE = "it"
#: Sample rate of the released WAV files (stereo).
SAMPLE_RATE = 48000
CHANNELS = 2
#: The six actors; the first letter of the code is the gender.
SPEAKERS = {"f1": "female", "f2": "female", "f3": "female", "m1": "male", "m2": "male", "m3": "male"}
#: EMOVO's emotion codes (Italian abbreviations) -> canonical emotions.
LABEL_MAP = {
    "dis": "disgust",  # disgusto
    "gio": "happy",  # gioia
    "neu": "neutral",  # neutrale
    "pau": "fear",  # paura
    "rab": "angry",  # rabbia
    "sor": "surprise",  # sorpresa
    "tri": "sad",  # tristezza
}
#: The fourteen sentence codes of the corpus.
SENTENCES = ("b1", "b2", "b3", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5", "d1", "d2")
LAYOUT = "<f1|f2|f3|m1|m2|m3>/<dis|gio|neu|pau|rab|sor|tri>-<speaker>-<sentence>.wav, e.g. f1/dis-f1-b1.wav"

_FILE_PATTERN = re.compile(r"^([a-z]{3})-([fm]\d)-([a-z]\d)$")


def speaker_of(speaker_code):
    """The corpus-unique speaker name of an EMOVO speaker code (any case).

    Example
    -------
    >>> speaker_of("F1")
    'emovo_f1'
    """
    return f"{CORPUS}_{speaker_code.lower()}"


def parse_name(file_name):
    """Decode an EMOVO file name (any case) into its fields, in lower case.

    Arguments
    ---------
    file_name : str
        A base name such as ``dis-f1-b1.wav`` (extension optional).

    Returns
    -------
    dict or None
        ``label``, ``speaker`` and ``text_id``, or ``None`` when the name is not EMOVO's (unknown emotion
        code or speaker included).

    Example
    -------
    >>> parse_name("Rab-M2-l3.wav")
    {'label': 'rab', 'speaker': 'm2', 'text_id': 'l3'}
    >>> parse_name("xyz-m2-l3.wav") is None, parse_name("rab-m4-l3.wav") is None
    (True, True)
    """
    match = _FILE_PATTERN.match(nfc(os.path.splitext(os.path.basename(file_name))[0]).lower())
    if not match:
        return None
    label, speaker, text_id = match.groups()
    if label not in LABEL_MAP or speaker not in SPEAKERS:
        return None
    return {"label": label, "speaker": speaker, "text_id": text_id}


def _record_fields(rel_path, problems):
    """The record's fields of one file, or ``None`` (with a problem) when it is not in EMOVO's layout."""
    fields = parse_name(rel_path)
    parts = rel_path.split("/")
    if fields is None or len(parts) < 2 or nfc(parts[-2]).lower() != fields["speaker"]:
        problems.append(f"{rel_path}: not in the layout {LAYOUT}, skipped")
        return None
    return {
        "id": nfc(os.path.splitext(parts[-1])[0]).lower(), "speaker": speaker_of(fields["speaker"]),
        "gender": SPEAKERS[fields["speaker"]], "language": LANGUAGE, "corpus": CORPUS, "label": fields["label"],
        "emotion": LABEL_MAP[fields["label"]], "style": "acted", "text_id": fields["text_id"],
    }


def parse(data_folder):
    """Parse EMOVO in its official layout.

    Arguments
    ---------
    data_folder : str
        The EMOVO folder that holds the speaker folders ``f1`` .. ``m3`` (in any case, e.g. ``F1``).

    Returns
    -------
    ParsedCorpus
        One record per file: ``id`` the lower-case file stem, speaker ``emovo_<code>`` with the gender of its
        code, ``label`` the emotion code, ``text_id`` the sentence code. Misnamed files, files outside their
        speaker's folder and unreadable files are listed in the problems.

    Raises
    ------
    EmoLobesError
        When the folder holds no EMOVO file.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "M1"))
    >>> sf.write(os.path.join(root, "M1", "rab-m1-n2.wav"), np.zeros((4800, 2)), 48000)
    >>> rec = parse(root).records[0]
    >>> rec["id"], rec["speaker"], rec["gender"], rec["label"], rec["emotion"], rec["channels"]
    ('rab-m1-n2', 'emovo_m1', 'male', 'rab', 'angry', 2)
    """
    root = check_data_folder(data_folder, CORPUS, "f1/ f2/ f3/ m1/ m2/ m3/")
    problems = []
    records = parse_files(root, find_audio_files(root), _record_fields, problems)
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no EMOVO recordings found in {root}",
        f"point --data_folder at the EMOVO folder with {LAYOUT}",
    )
