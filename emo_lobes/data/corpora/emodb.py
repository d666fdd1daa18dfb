"""EmoDB (Berlin Database of Emotional Speech) parser: ``wav/<speaker><text><emotion><version>.wav``."""
import os
import re

from emo_lobes.data.corpora.base import check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus

CORPUS = "emodb"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "EmoDB"
LANGUAGE = "de"
#: Sample rate of the released WAV files.
SAMPLE_RATE = 16000
#: The ten actors and their gender, from the corpus documentation.
SPEAKERS = {
    "03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
    "12": "male", "13": "female", "14": "female", "15": "male", "16": "female",
}
#: The ten text codes (five short ``a`` and five long ``b`` sentences).
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
#: EmoDB's emotion letters (German initials) -> canonical emotions.
LABEL_MAP = {
    "W": "angry",  # Wut / Ärger
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happy",  # Freude
    "T": "sad",  # Trauer
    "N": "neutral",
}
AUDIO_FOLDER = "wav"
LAYOUT = "wav/<speaker 03..16><text a01..b10><emotion W|L|E|A|F|T|N><version a..z>.wav, e.g. wav/03a01Fa.wav"

_FILE_PATTERN = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")


def speaker_of(speaker_code):
    """The corpus-unique speaker name of an EmoDB speaker code.

    Example
    -------
    >>> speaker_of("03")
    'emodb_03'
    """
    return f"{CORPUS}_{speaker_code}"


def parse_name(file_name):
    """Decode an EmoDB file name into its fields.

    Arguments
    ---------
    file_name : str
        A base name such as ``03a01Fa.wav`` (extension optional).

    Returns
    -------
    dict or None
        ``speaker``, ``text_id``, ``label`` and ``version``, or ``None`` when the name is not EmoDB's
        (including an emotion letter that is not in :data:`LABEL_MAP`).

    Example
    -------
    >>> parse_name("03a01Fa.wav")
    {'speaker': '03', 'text_id': 'a01', 'label': 'F', 'version': 'a'}
    >>> parse_name("03a01Xa.wav") is None, parse_name("notes.wav") is None
    (True, True)
    """
    match = _FILE_PATTERN.match(nfc(os.path.splitext(os.path.basename(file_name))[0]))
    if not match or match.group(3) not in LABEL_MAP:
        return None
    speaker, text_id, label, version = match.groups()
    return {"speaker": speaker, "text_id": text_id, "label": label, "version": version}


def parse(data_folder):
    """Parse EmoDB in its official layout.

    Arguments
    ---------
    data_folder : str
        The EmoDB folder that holds ``wav/`` (the download's other folders are ignored), or ``wav`` itself.

    Returns
    -------
    ParsedCorpus
        One record per file: ``id`` the file stem, speaker ``emodb_<code>`` with the documented gender,
        ``label`` the emotion letter, ``text_id`` the text code. Misnamed and unreadable files are listed in
        the problems; a speaker code outside :data:`SPEAKERS` is kept with gender ``unknown`` and noted.

    Raises
    ------
    EmoLobesError
        When the folder holds no EmoDB file.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "wav"))
    >>> sf.write(os.path.join(root, "wav", "08b02Tc.wav"), np.zeros(1600), 16000)
    >>> rec = parse(root).records[0]
    >>> rec["id"], rec["speaker"], rec["gender"], rec["label"], rec["emotion"], rec["wav"]
    ('08b02Tc', 'emodb_08', 'female', 'T', 'sad', 'wav/08b02Tc.wav')
    """
    root = check_data_folder(data_folder, CORPUS, "wav/03a01Fa.wav ...")
    problems, unknown_speakers = [], set()

    def record_fields(rel_path, problems):
        """The record's fields of one file, or ``None`` (with a problem) when its name is not EmoDB's."""
        fields = parse_name(rel_path)
        if fields is None:
            problems.append(f"{rel_path}: name does not follow {LAYOUT}, skipped")
            return None
        speaker = fields["speaker"]
        if speaker not in SPEAKERS and speaker not in unknown_speakers:
            unknown_speakers.add(speaker)
            problems.append(f"speaker {speaker} is not one of EmoDB's ten actors: gender 'unknown'")
        return {
            "id": nfc(os.path.splitext(os.path.basename(rel_path))[0]), "speaker": speaker_of(speaker),
            "gender": SPEAKERS.get(speaker, "unknown"), "language": LANGUAGE, "corpus": CORPUS,
            "label": fields["label"], "emotion": LABEL_MAP[fields["label"]], "style": "acted",
            "text_id": fields["text_id"],
        }

    records = parse_files(root, find_audio_files(root), record_fields, problems)
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no EmoDB recordings found in {root}",
        f"point --data_folder at the EmoDB folder with {LAYOUT}",
    )
