"""BAVED parser: ``<word 0..6>/<speaker>-<m|f>-<age>-<word>-<level 0..2>-<record>.wav`` plus ``speakers_info.json``."""
import json
import os
import re

from emo_lobes.data.corpora.base import (
    check_data_folder, duplicate_audio_groups, find_audio_files, nfc, parse_files, parsed_corpus,
)

CORPUS = "baved"
LANGUAGE = "ar"
#: The conventional name of the corpus folder under a data folder.
FOLDER = "BAVED"
#: Sample rate of the released WAV files (mono, 16 bit).
SAMPLE_RATE = 16000
#: The level digit of the file names -> what it means. Arousal levels of one word, not emotion categories.
LABEL_MAP = {"0": "low", "1": "neutral", "2": "high"}
#: The seven spoken words (folder names ``0``..``6``), as the corpus README writes them.
WORDS = {
    "0": "اعجبني", "1": "لم يعجبني", "2": "هذا", "3": "الفيلم", "4": "رائع", "5": "مقول", "6": "سيئ",
}
#: Gender letter of the file names.
GENDERS = {"m": "male", "f": "female"}
#: Speaker id -> ``{"age", "gender"}``, in the corpus root.
SPEAKERS_FILE = "speakers_info.json"
#: Every level of every word was recorded on request.
STYLE = "acted"
LAYOUT = (
    "<word 0..6>/<speaker>-<m|f>-<age>-<word 0..6>-<level 0..2>-<record>.wav plus speakers_info.json "
    "(e.g. 0/46-m-20-0-0-156.wav)"
)

_FILE_PATTERN = re.compile(r"^(\d+)-([mf])-(\d+)-([0-6])-([0-2])-(\d+)$", re.IGNORECASE)


def speaker_of(speaker_id):
    """The corpus-unique speaker name: the id exactly as the file names write it.

    Example
    -------
    >>> speaker_of("46"), speaker_of("07")
    ('baved_46', 'baved_07')
    """
    return f"{CORPUS}_{speaker_id}"


def file_name(speaker_id, gender_letter, age, word, level, record_id):
    """The release's name of a recording.

    Arguments
    ---------
    speaker_id : str or int
        The speaker id (written as given).
    gender_letter : str
        ``m`` or ``f``.
    age : int
        The speaker's age.
    word : str or int
        The spoken word id, ``0``..``6`` (also the folder name).
    level : str or int
        The level, a key of :data:`LABEL_MAP`.
    record_id : int
        The record number.

    Returns
    -------
    str
        The file name.

    Example
    -------
    >>> file_name(46, "m", 20, 0, 0, 156), file_name("3", "f", 21, "6", "2", 7)
    ('46-m-20-0-0-156.wav', '3-f-21-6-2-7.wav')
    """
    return f"{speaker_id}-{gender_letter}-{int(age)}-{word}-{level}-{int(record_id)}.wav"


def read_speakers_info(root, problems):
    """Speaker id -> gender letter from ``speakers_info.json``; ``{}`` when absent or unusable (noted).

    Arguments
    ---------
    root : str
        The corpus root.
    problems : list
        Receives one line when the file exists but cannot be read.

    Returns
    -------
    dict
        ``{speaker_id: "m" | "f"}`` for the entries that give a gender.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); problems = []
    >>> read_speakers_info(root, problems), problems
    ({}, [])
    >>> _ = open(os.path.join(root, SPEAKERS_FILE), "w").write('{"3": {"age": 21, "gender": "f"}, "4": {}}')
    >>> read_speakers_info(root, problems)
    {'3': 'f'}
    """
    path = os.path.join(root, SPEAKERS_FILE)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as info_file:
            info = json.load(info_file)
    except (OSError, ValueError) as err:
        problems.append(f"{SPEAKERS_FILE}: cannot be read ({err}); genders taken from the file names only")
        return {}
    if not isinstance(info, dict):
        problems.append(f"{SPEAKERS_FILE}: not an object of speaker ids; genders taken from the file names only")
        return {}
    genders = {}
    for speaker_id, entry in info.items():
        gender = str(entry.get("gender", "")).strip().lower() if isinstance(entry, dict) else ""
        if gender in GENDERS:
            genders[str(speaker_id).strip()] = gender
    return genders


def _name_fields(rel_path):
    """The name's match groups ``(speaker, gender, age, word, level, record)``, or ``None`` when misnamed."""
    match = _FILE_PATTERN.match(nfc(os.path.splitext(os.path.basename(rel_path))[0]))
    return match.groups() if match else None


def _record_fields_of(info_genders, disagreements):
    """The ``record_fields`` function of :func:`parse_files`, cross-checking genders against ``info_genders``."""

    def record_fields(rel_path, problems):
        fields = _name_fields(rel_path)
        if fields is None:
            problems.append(f"{rel_path}: name does not follow {LAYOUT}, skipped")
            return None
        speaker_id, gender_letter, _, word, level, _ = fields
        gender_letter = gender_letter.lower()
        folder = nfc(os.path.basename(os.path.dirname(rel_path)))
        if folder in WORDS and folder != word:
            problems.append(f"{rel_path}: file name says word {word} but its folder says {folder}; kept as word {word}")
        listed = info_genders.get(speaker_id, info_genders.get(str(int(speaker_id))))
        if listed is not None and listed != gender_letter:
            disagreements.setdefault((speaker_id, gender_letter, listed), []).append(rel_path)
        return {
            "id": nfc(os.path.splitext(os.path.basename(rel_path))[0]), "speaker": speaker_of(speaker_id),
            "gender": GENDERS[gender_letter], "language": LANGUAGE, "corpus": CORPUS, "label": level,
            "emotion": LABEL_MAP[level], "style": STYLE, "text_id": word, "text": WORDS[word],
        }

    return record_fields


def parse(data_folder, drop_duplicates=True):
    """Parse BAVED (Basic Arabic Vocal Emotions Dataset) in its release layout.

    The labels are arousal levels, not emotion categories: each speaker says a word at level ``0`` low (tired,
    down), ``1`` neutral (everyday speech) and ``2`` high (strong positive *or* negative emotion), so
    ``emotion`` is ``low`` / ``neutral`` / ``high`` and none of these is a canonical emotion name.

    Arguments
    ---------
    data_folder : str
        The folder that holds ``0/`` .. ``6/`` (one per spoken word) and ``speakers_info.json``.
    drop_duplicates : bool
        The release holds byte-identical files under two speaker ids (27 pairs), which would put the same audio
        on both sides of a speaker-independent split. When True (default) only the first file of each group, in
        sorted path order, is kept; either way each group is one problem line.

    Returns
    -------
    ParsedCorpus
        One record per recording: ``id`` the file stem, speaker ``baved_<id>``, gender from the name (a
        disagreement with ``speakers_info.json`` is a problem, the name wins), ``label`` the level digit,
        ``text_id`` the word id, ``text`` the word, ``style`` acted. Misnamed files are listed in the problems
        and skipped; a file whose folder holds another word is listed and kept.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "4"))
    >>> sf.write(os.path.join(root, "4", "12-f-21-4-2-30.wav"), np.full(1600, 0.1), SAMPLE_RATE)
    >>> sf.write(os.path.join(root, "4", "13-m-20-4-0-31.wav"), np.full(1600, 0.1), SAMPLE_RATE)
    >>> parsed = parse(root)
    >>> rec = parsed.records[0]
    >>> rec["speaker"], rec["gender"], rec["label"], rec["emotion"], rec["text_id"], rec["wav"]
    ('baved_12', 'female', '2', 'high', '4', '4/12-f-21-4-2-30.wav')
    >>> len(parsed), len(parse(root, drop_duplicates=False)), parsed.problems[0].split(":")[0]
    (1, 2, '4/12-f-21-4-2-30.wav, 4/13-m-20-4-0-31.wav')
    """
    root = check_data_folder(data_folder, CORPUS, f"0/ .. 6/ and {SPEAKERS_FILE}")
    problems = []
    info_genders = read_speakers_info(root, problems)
    rel_paths = find_audio_files(root)
    dropped = set()
    for group in duplicate_audio_groups(root, [path for path in rel_paths if _name_fields(path) is not None]):
        speakers = ", ".join(sorted({speaker_of(_name_fields(path)[0]) for path in group}))
        if drop_duplicates:
            dropped.update(group[1:])
            outcome = f"kept {group[0]}, dropped {', '.join(group[1:])}"
        else:
            outcome = "all kept (drop_duplicates=False)"
        who = "speakers" if "," in speakers else "speaker"
        problems.append(f"{', '.join(group)}: byte-identical audio ({who} {speakers}); {outcome}")
    disagreements = {}
    records = parse_files(
        root, [path for path in rel_paths if path not in dropped], _record_fields_of(info_genders, disagreements),
        problems,
    )
    for (speaker_id, gender_letter, listed), paths in sorted(disagreements.items()):
        problems.append(
            f"speaker {speaker_id}: {len(paths)} file name(s) say {GENDERS[gender_letter]} but {SPEAKERS_FILE} says "
            f"{GENDERS[listed]} (first {paths[0]}); the file names' gender kept"
        )
    return parsed_corpus(
        CORPUS, data_folder, records, problems, f"no BAVED recordings found in {root}",
        f"point --data_folder at a folder with {LAYOUT}",
    )
