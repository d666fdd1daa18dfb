"""CREMA-D parser: ``AudioWAV/<actor>_<sentence>_<emotion>_<intensity>.wav``, gender from VideoDemographics.csv."""
import csv
import os
import re

from emo_lobes.data.corpora.base import check_data_folder, find_audio_files, nfc, parse_files, parsed_corpus
from emo_lobes.errors import EmoLobesError

CORPUS = "cremad"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "CREMA-D"
LANGUAGE = "en"
#: Sample rate of the released WAV files.
SAMPLE_RATE = 16000
#: CREMA-D's emotion codes -> canonical emotions.
LABEL_MAP = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
#: Intensity codes (``XX``: unspecified).
INTENSITIES = ("LO", "MD", "HI", "XX")
#: The 12 sentence codes and their text.
SENTENCES = {
    "IEO": "It's eleven o'clock.",
    "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.",
    "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.",
    "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.",
    "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.",
    "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.",
    "WSI": "We'll stop in a couple of minutes.",
}
#: Actor ids of the release.
ACTOR_RANGE = (1001, 1091)
AUDIO_FOLDER = "AudioWAV"
DEMOGRAPHICS_FILE = "VideoDemographics.csv"
DEMOGRAPHICS_COLUMNS = ("ActorID", "Age", "Sex", "Race", "Ethnicity")
#: ``Sex`` values of the demographics file -> schema gender.
SEX_MAP = {"male": "male", "female": "female"}
LAYOUT = "AudioWAV/<actor 1001-1091>_<sentence>_<ANG|DIS|FEA|HAP|NEU|SAD>_<LO|MD|HI|XX>.wav"

# One release file is named ..._X.wav instead of ..._XX.wav, hence X{1,2}.
_FILE_PATTERN = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|X{1,2})$")


def speaker_of(actor_id):
    """The corpus-unique speaker name of an actor.

    Example
    -------
    >>> speaker_of(1001)
    'cremad_1001'
    """
    return f"{CORPUS}_{int(actor_id)}"


def read_demographics(path):
    """Read ``VideoDemographics.csv`` into ``{actor id: gender}``.

    Arguments
    ---------
    path : str
        The CSV (columns ``ActorID,Age,Sex,Race,Ethnicity``; ``Sex`` is ``Male`` or ``Female``).

    Returns
    -------
    dict
        ``{1001: 'male', ...}``; actors whose ``Sex`` is neither value map to ``'unknown'``.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), DEMOGRAPHICS_FILE)
    >>> _ = open(path, "w").write("ActorID,Age,Sex,Race,Ethnicity\\n1001,51,Male,Caucasian,Not Hispanic\\n")
    >>> read_demographics(path)
    {1001: 'male'}
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "ActorID" not in columns or "Sex" not in columns:
            raise EmoLobesError(
                f"{path} lacks the ActorID and Sex columns (found {columns})",
                f"use the original {DEMOGRAPHICS_FILE} (columns {','.join(DEMOGRAPHICS_COLUMNS)}) or remove it",
            )
        genders = {}
        for row in reader:
            row = {str(k).strip(): (v or "").strip() for k, v in row.items()}
            if row["ActorID"].isdigit():
                genders[int(row["ActorID"])] = SEX_MAP.get(row["Sex"].lower(), "unknown")
    return genders


def _audio_root(root):
    """The AudioWAV folder and its path relative to the corpus root (``''`` when root is AudioWAV)."""
    if os.path.isdir(os.path.join(root, AUDIO_FOLDER)):
        return os.path.join(root, AUDIO_FOLDER), AUDIO_FOLDER
    return root, ""


def _demographics_path(root, audio_prefix):
    """VideoDemographics.csv next to AudioWAV (in root, or in root's parent when root is AudioWAV)."""
    candidates = [os.path.join(root, DEMOGRAPHICS_FILE)]
    if not audio_prefix:
        candidates.append(os.path.join(os.path.dirname(root), DEMOGRAPHICS_FILE))
    return next((path for path in candidates if os.path.isfile(path)), None)


def parse(data_folder, demographics_csv=None):
    """Parse CREMA-D in its official layout.

    Arguments
    ---------
    data_folder : str
        The folder that holds ``AudioWAV/`` (and ``VideoDemographics.csv``), or ``AudioWAV`` itself.
    demographics_csv : str, optional
        Path of ``VideoDemographics.csv`` when it is elsewhere; by default it is looked for next to ``AudioWAV``.
        Without it every gender is ``'unknown'`` (noted once in the problems).

    Returns
    -------
    ParsedCorpus
        One record per clip: speaker ``cremad_<actor>``, ``label`` the emotion code, ``intensity`` the
        intensity code, ``text_id`` the sentence code. Misnamed files are listed in the problems.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "AudioWAV"))
    >>> sf.write(os.path.join(root, "AudioWAV", "1001_DFA_ANG_XX.wav"), np.zeros(1600), 16000)
    >>> parsed = parse(root)
    >>> rec = parsed.records[0]
    >>> rec["speaker"], rec["emotion"], rec["intensity"], rec["gender"], rec["wav"]
    ('cremad_1001', 'angry', 'XX', 'unknown', 'AudioWAV/1001_DFA_ANG_XX.wav')
    """
    root = check_data_folder(data_folder, CORPUS, "AudioWAV/ (or AudioWAV itself)")
    audio_dir, audio_prefix = _audio_root(root)
    problems = []
    if demographics_csv is not None and not os.path.isfile(demographics_csv):
        raise EmoLobesError(
            f"CREMA-D demographics file {demographics_csv} does not exist",
            f"pass the path of {DEMOGRAPHICS_FILE} or leave demographics_csv out",
        )
    demographics_path = demographics_csv or _demographics_path(root, audio_prefix)
    if demographics_path:
        genders = read_demographics(demographics_path)
    else:
        genders = {}
        problems.append(f"no {DEMOGRAPHICS_FILE} next to {AUDIO_FOLDER}: every gender is 'unknown'")

    def record_fields(rel_path, problems):
        """The record's fields of one clip, or ``None`` (with a problem) when its name is not CREMA-D's."""
        stem = nfc(os.path.splitext(os.path.basename(rel_path))[0])
        match = _FILE_PATTERN.match(stem)
        if not match:
            problems.append(f"{rel_path}: name does not follow {LAYOUT}, skipped")
            return None
        actor, sentence, code, intensity = match.groups()
        actor = int(actor)
        if not ACTOR_RANGE[0] <= actor <= ACTOR_RANGE[1] or sentence not in SENTENCES:
            problems.append(f"{rel_path}: actor {actor} or sentence {sentence} is not in CREMA-D, skipped")
            return None
        if demographics_path and actor not in genders:
            problems.append(f"actor {actor} is not in {DEMOGRAPHICS_FILE}: gender 'unknown'")
            genders[actor] = "unknown"
        return {
            "id": stem, "speaker": speaker_of(actor), "gender": genders.get(actor, "unknown"), "language": LANGUAGE,
            "corpus": CORPUS, "label": code, "emotion": LABEL_MAP[code], "style": "acted",
            "intensity": "XX" if intensity.startswith("X") else intensity, "text_id": sentence,
        }

    rel_paths = [f"{audio_prefix}/{name}" if audio_prefix else name for name in find_audio_files(audio_dir)]
    records = parse_files(root, rel_paths, record_fields, problems)
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no CREMA-D clips found in {root}",
        f"point --data_folder at a folder with {LAYOUT}",
    )
