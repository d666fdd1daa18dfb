"""IEMOCAP parser: ``Session<n>/sentences/wav/<dialog>/<utt>.wav`` with ``dialog/EmoEvaluation/<dialog>.txt`` labels."""
import os
import re
from collections import Counter

from emo_lobes.data.corpora.base import AUDIO_EXTENSIONS, ParsedCorpus, audio_record, check_data_folder
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.labels import canonical_emotion

CORPUS = "iemocap"
#: The corpus's conventional folder name under a data folder (a declaration's default ``folder``).
FOLDER = "IEMOCAP_full_release"
LANGUAGE = "en"
SESSIONS = (1, 2, 3, 4, 5)
#: IEMOCAP is acted (actors performing scenarios or scripts, as the Selective-MTL paper argues); whether an
#: utterance is improvised or scripted is kept in the separate ``improvised`` field.
STYLE = "acted"
LAYOUT = "Session1..Session5/sentences/wav/<dialog>/<utterance>.wav and Session<n>/dialog/EmoEvaluation/<dialog>.txt"

#: Consensus codes of the EmoEvaluation files -> canonical emotions (``xxx``: the evaluators did not agree).
CODE_TO_EMOTION = {
    code: canonical_emotion(code)
    for code in ("neu", "hap", "sad", "ang", "exc", "fru", "fea", "sur", "dis", "oth", "xxx")
}
#: Category words of the ``C-`` annotator lines -> the consensus code they count for.
CATEGORY_TO_CODE = {
    "Neutral": "neu", "Happiness": "hap", "Sadness": "sad", "Anger": "ang", "Excited": "exc",
    "Frustration": "fru", "Fear": "fea", "Surprise": "sur", "Disgust": "dis", "Other": "oth",
}
#: The category words an evaluator may choose, in the order of the IEMOCAP annotation tool.
CATEGORY_WORDS = tuple(CATEGORY_TO_CODE)
#: Code -> category word (inverse of :data:`CATEGORY_TO_CODE`).
CODE_TO_CATEGORY = {code: word for word, code in CATEGORY_TO_CODE.items()}
_EMOTION_TO_CODE = {canonical_emotion(code): code for code in CATEGORY_TO_CODE.values()}

_HEADER = re.compile(r"^\[\s*([-+0-9.eE]+)\s*-\s*([-+0-9.eE]+)\s*\]\s+(\S+)\s+(\S+)(?:\s+\[([^\]]*)\])?\s*$")
_ANNOTATOR = re.compile(r"^([CA])-([A-Za-z]+[0-9]*)\s*:(.*)$")
_DIMENSION = re.compile(r"\b(val|act|dom)\s*:?\s*([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)
_UTTERANCE = re.compile(r"^Ses([0-9]{2})([FM])_(.+)_([FM])[^_]*$")
_DIALOG = re.compile(r"^Ses[0-9]{2}[FM]_(?:impro[0-9]+[A-Za-z]?|script[0-9]+[A-Za-z]?_[0-9]+[A-Za-z]?)$")
_OTHER = re.compile(r"^other\b", re.IGNORECASE)
_MAX_LISTED = 5  # ids named in one summary problem line
_MAX_MALFORMED = 20  # malformed lines listed one by one, the rest counted


def _parse_id(utterance_id):
    match = _UTTERANCE.match(str(utterance_id).strip())
    if match is None:
        raise EmoLobesError(
            f"'{utterance_id}' is not an IEMOCAP utterance id",
            "use ids such as Ses01F_impro01_M003 (<dialog>_<F|M><number>)",
        )
    return match


def speaker_of(utterance_id):
    """The speaker of an utterance: its session plus the letter opening its last ``_`` token.

    The letter after the session in the dialog name only says who wore the motion-capture markers.

    Arguments
    ---------
    utterance_id : str
        E.g. ``Ses01F_impro01_M003``.

    Returns
    -------
    str
        E.g. ``Ses01M``.

    Example
    -------
    >>> speaker_of("Ses01F_impro01_M003"), speaker_of("Ses05M_script02_2_F014")
    ('Ses01M', 'Ses05F')
    """
    match = _parse_id(utterance_id)
    return f"Ses{match.group(1)}{match.group(4)}"


def gender_of(utterance_id):
    """``female`` or ``male`` from the speaker letter of an utterance id.

    Example
    -------
    >>> gender_of("Ses01F_impro01_M003"), gender_of("Ses03M_impro05a_F000")
    ('male', 'female')
    """
    return "female" if _parse_id(utterance_id).group(4) == "F" else "male"


def session_of(utterance_id):
    """The session number (1-5) of an utterance or dialog id.

    Example
    -------
    >>> session_of("Ses03M_impro05a_F000"), session_of("Ses05F_script01_1")
    (3, 5)
    """
    match = re.match(r"^Ses([0-9]{2})[FM]_", str(utterance_id).strip())
    if match is None:
        raise EmoLobesError(
            f"'{utterance_id}' is not an IEMOCAP dialog or utterance id", "use ids such as Ses01F_impro01"
        )
    return int(match.group(1))


def dialog_of(utterance_id):
    """The dialog of an utterance: its id without the last ``_`` token.

    Example
    -------
    >>> dialog_of("Ses01F_script01_1_F000"), dialog_of("Ses01F_impro05a_M010")
    ('Ses01F_script01_1', 'Ses01F_impro05a')
    """
    _parse_id(utterance_id)
    return utterance_id.strip().rsplit("_", 1)[0]


def is_improvised(dialog_or_utterance_id):
    """Whether a dialog (or an utterance of it) is improvised: ``impro`` in the dialog name, else scripted.

    Example
    -------
    >>> is_improvised("Ses01F_impro01_M003"), is_improvised("Ses02M_impro05a"), is_improvised("Ses01F_script01_1_F000")
    (True, True, False)
    """
    name = str(dialog_or_utterance_id).strip()
    session_of(name)
    return name.split("_")[1].lower().startswith("impro")


def clean_category(word):
    """One category word as written, whitespace trimmed and collapsed; ``Other`` with free text -> ``Other``.

    Example
    -------
    >>> clean_category("  Frustration "), clean_category("Other:bored"), clean_category("Neutral  state")
    ('Frustration', 'Other', 'Neutral state')
    """
    cleaned = re.sub(r"\s+", " ", str(word).strip())
    return "Other" if _OTHER.match(cleaned) else cleaned


def category_code(word):
    """The consensus code a category word counts for (``Anger`` -> ``ang``), or ``None`` for unknown words.

    Spelling variants are accepted through :func:`emo_lobes.data.labels.canonical_emotion` of the first word
    (``Neutral state`` -> ``neu``, ``angry`` -> ``ang``).

    Example
    -------
    >>> category_code("Anger"), category_code("Other:bored"), category_code("Neutral state"), category_code("Pride")
    ('ang', 'oth', 'neu', None)
    """
    cleaned = clean_category(word)
    if cleaned in CATEGORY_TO_CODE:
        return CATEGORY_TO_CODE[cleaned]
    first = cleaned.split(" ")[0] if cleaned else ""
    return _EMOTION_TO_CODE.get(canonical_emotion(first))


def code_votes(annotations):
    """How many annotators gave each code (an annotator counts once per code, however many words it wrote).

    Arguments
    ---------
    annotations : dict
        ``{annotator_id: [category word, ...]}`` as in a record's ``annotations``.

    Returns
    -------
    collections.Counter
        ``{code: number of annotators}``; unknown words are not counted.

    Example
    -------
    >>> votes = code_votes({"C-E1": ["Frustration", "Anger"], "C-E3": ["Anger"], "C-E4": ["Neutral"]})
    >>> sorted(votes.items())
    [('ang', 2), ('fru', 1), ('neu', 1)]
    """
    votes = Counter()
    for words in annotations.values():
        votes.update({code for code in map(category_code, words) if code is not None})
    return votes


def majority_code(annotations):
    """The consensus code of categorical annotations: the code more than half the annotators gave, else ``xxx``.

    Arguments
    ---------
    annotations : dict
        ``{annotator_id: [category word, ...]}``.

    Returns
    -------
    str
        A code of :data:`CODE_TO_EMOTION`; ``xxx`` when no code, or more than one, has a majority.

    Example
    -------
    >>> majority_code({"C-E1": ["Anger"], "C-E2": ["Frustration", "Anger"], "C-E3": ["Neutral"]})
    'ang'
    >>> majority_code({"C-E1": ["Frustration", "Anger"], "C-E3": ["Neutral"], "C-E4": ["Excited"]})
    'xxx'
    """
    raters = sum(1 for words in annotations.values() if words)
    winners = [code for code, count in code_votes(annotations).items() if count > raters / 2]
    return winners[0] if len(winners) == 1 else "xxx"


def _is_self_evaluation(annotator):
    """``C-F1``/``C-M1`` (and ``A-F1``...) are the actors' own judgements; ``E<k>`` are external evaluators."""
    return annotator.split("-", 1)[1][:1].upper() in ("F", "M")


def parse_emo_evaluation(text, source="<text>", problems=None):
    """Parse the text of one ``EmoEvaluation/<dialog>.txt`` file into utterance blocks.

    Arguments
    ---------
    text : str
        The file's content: a ``%`` header line, then blank-line-separated blocks, each opened by
        ``[start - end] <TAB> utterance <TAB> code <TAB> [v, a, d]`` and followed by ``C-<annotator>:`` and
        ``A-<annotator>:`` lines.
    source : str
        File name used in problem lines (``source:line: ...``).
    problems : list, optional
        Receives one line per malformed line; the line is skipped, parsing goes on.

    Returns
    -------
    list of dict
        One dict per block, in file order: ``id``, ``start``, ``end`` (s), ``code`` (as written), ``vad``
        (``[v, a, d]`` floats or ``None``), ``annotations`` (``{"C-E2": [words]}`` of external evaluators),
        ``self_annotations`` (``{"C-F1": [words]}``), ``dim_annotations`` (``{"A-E3": [val, act, dom]}``,
        external and self), ``line`` (1-based line of the block's first line).

    Example
    -------
    >>> text = ("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\\n\\n"
    ...         "[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5000, 2.5000, 2.5000]\\n"
    ...         "C-E2:\\tNeutral;\\t()\\nC-F1:\\tNeutral;\\t(curious)\\n"
    ...         "A-E3:\\tval 3; act 2; dom  2;\\t()\\n\\n"
    ...         "[10.0100 - 11.3925]\\tSes01F_impro01_M001\\txxx\\t[2.0000, 3.0000, 3.5000]\\n"
    ...         "C-E1:\\tFrustration; Anger;\\t()\\n")
    >>> blocks = parse_emo_evaluation(text)
    >>> [(b["id"], b["code"], b["vad"]) for b in blocks]
    [('Ses01F_impro01_F000', 'neu', [2.5, 2.5, 2.5]), ('Ses01F_impro01_M001', 'xxx', [2.0, 3.0, 3.5])]
    >>> blocks[0]["self_annotations"], blocks[0]["dim_annotations"], blocks[1]["annotations"]
    ({'C-F1': ['Neutral']}, {'A-E3': [3.0, 2.0, 2.0]}, {'C-E1': ['Frustration', 'Anger']})
    """
    problems = [] if problems is None else problems
    blocks, block, skipping = [], None, False

    def malformed(number, why, line):
        problems.append(f"{source}:{number}: {why}, skipped: {line.strip()[:80]!r}")

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            block, skipping = None, False
            continue
        if stripped.startswith("%"):
            continue
        if stripped.startswith("["):
            block, skipping = _parse_header(stripped, number, source, problems), False
            if block is None:
                skipping = True  # the block's annotator lines go with its bad first line, reported once
            else:
                blocks.append(block)
            continue
        if skipping:
            continue
        match = _ANNOTATOR.match(stripped)
        if match is None:
            malformed(number, "unrecognised line", line)
            continue
        if block is None:
            malformed(number, "annotator line outside an utterance block", line)
            continue
        kind, annotator = match.group(1), f"{match.group(1)}-{match.group(2)}"
        fields = match.group(3)
        if kind == "C":
            words = [clean_category(w) for w in fields.split("(", 1)[0].split(";")]
            words = [w for w in words if w]
            if not words:
                malformed(number, "categorical line without a category", line)
                continue
            target = "self_annotations" if _is_self_evaluation(annotator) else "annotations"
            block[target][annotator] = words
        else:
            values = dict((name.lower(), float(value)) for name, value in _DIMENSION.findall(fields.split("(", 1)[0]))
            if set(values) != {"val", "act", "dom"}:
                malformed(number, "dimensional line without val, act and dom numbers", line)
                continue
            block["dim_annotations"][annotator] = [values["val"], values["act"], values["dom"]]
    return blocks


def _parse_header(line, number, source, problems):
    """The block dict of a ``[start - end] id code [v, a, d]`` line, or ``None`` (and a problem) if malformed."""
    match = _HEADER.match(line)
    if match is None or _UTTERANCE.match(match.group(3)) is None:
        problems.append(f"{source}:{number}: malformed utterance line, block skipped: {line[:80]!r}")
        return None
    vad = None
    if match.group(5) is not None:
        try:
            vad = [float(v) for v in match.group(5).split(",")]
        except ValueError:
            vad = None
        if vad is None or len(vad) != 3:
            problems.append(f"{source}:{number}: unreadable [V, A, D] in {line[:80]!r}, kept without vad")
            vad = None
    try:
        start, end = float(match.group(1)), float(match.group(2))
    except ValueError:
        problems.append(f"{source}:{number}: unreadable times, block skipped: {line[:80]!r}")
        return None
    return {
        "id": match.group(3), "start": start, "end": end, "code": match.group(4), "vad": vad,
        "annotations": {}, "self_annotations": {}, "dim_annotations": {}, "line": number,
    }


def _check_sessions(sessions):
    try:
        chosen = sorted({int(s) for s in sessions})
    except (TypeError, ValueError):
        chosen = None
    if not chosen or any(s not in SESSIONS for s in chosen):
        raise EmoLobesError(f"invalid IEMOCAP sessions {sessions!r}", "give session numbers among 1, 2, 3, 4, 5")
    return chosen


def _visible(name):
    return not name.startswith(".")


def _scan_audio(root, session):
    """``{utterance_id: relative wav path}`` of one session (``._*``, hidden and non-audio files ignored)."""
    rel_base = f"Session{session}/sentences/wav"
    base = os.path.join(root, f"Session{session}", "sentences", "wav")
    found = {}
    if not os.path.isdir(base):
        return found, False
    for dialog in sorted(filter(_visible, os.listdir(base))):
        folder = os.path.join(base, dialog)
        if not os.path.isdir(folder):
            continue
        for name in sorted(filter(_visible, os.listdir(folder))):
            stem, ext = os.path.splitext(name)
            if ext.lower() in AUDIO_EXTENSIONS and stem not in found:
                found[stem] = f"{rel_base}/{dialog}/{name}"
    return found, True


def _scan_labels(root, session, problems, malformed):
    """Blocks of every ``EmoEvaluation/<dialog>.txt`` of one session (sub-folders and other files ignored)."""
    rel_base = f"Session{session}/dialog/EmoEvaluation"
    base = os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")
    if not os.path.isdir(base):
        return [], False
    blocks = []
    for name in sorted(filter(_visible, os.listdir(base))):
        stem, ext = os.path.splitext(name)
        path = os.path.join(base, name)
        if ext.lower() != ".txt" or not _DIALOG.match(stem) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as label_file:
                text = label_file.read()
        except OSError as err:
            problems.append(f"{rel_base}/{name}: cannot be read ({err.strerror}), its labels skipped")
            continue
        blocks.extend(parse_emo_evaluation(text, f"{rel_base}/{name}", malformed))
    return blocks, True


def _missing_fix(root):
    nested = os.path.join(root, "IEMOCAP_full_release")
    if os.path.isdir(nested):
        return f"pass --data_folder={nested}"
    return "pass --data_folder=<IEMOCAP_full_release>, the folder that holds Session1 ... Session5"


def _summary_line(ids, what, action="skipped"):
    shown = ", ".join(ids[:_MAX_LISTED]) + (", ..." if len(ids) > _MAX_LISTED else "")
    return f"{what}: {len(ids)}, {action} ({shown})"


def parse(data_folder, sessions=SESSIONS, include_self_evaluations=False):
    """Parse IEMOCAP_full_release: one record per utterance that has both audio and a label block.

    Arguments
    ---------
    data_folder : str
        The ``IEMOCAP_full_release`` folder (holding ``Session1`` ... ``Session5``).
    sessions : iterable of int
        Sessions to read.
    include_self_evaluations : bool
        Also put the actors' self-evaluations (``C-F1``/``C-M1``) into ``annotations``. They are always in
        ``self_annotations``.

    Returns
    -------
    ParsedCorpus
        Records sorted by id with the required fields plus ``session``, ``style`` (``acted``), ``improvised``,
        ``text_id`` (the dialog), ``start``/``end`` (s in the dialog), ``vad`` (when readable), ``annotations``
        (``{"C-E2": ["Frustration", "Anger"]}``), ``self_annotations``, ``dim_annotations``
        (``{"A-E3": [val, act, dom]}``). ``label`` is the consensus code as written (``exc``, ``xxx`` ...).
        Problems list missing sessions, label blocks without audio and audio without a label block (one line
        each with the count), unreadable audio and malformed label lines (``file:line``).

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "Session1/sentences/wav/Ses01F_impro01"))
    >>> os.makedirs(os.path.join(root, "Session1/dialog/EmoEvaluation"))
    >>> sf.write(os.path.join(root, "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M000.wav"),
    ...          np.zeros(16000), 16000)
    >>> _ = open(os.path.join(root, "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"), "w").write(
    ...     "[1.0 - 2.0]\\tSes01F_impro01_M000\\tfru\\t[2.0, 3.0, 3.5]\\nC-E1:\\tFrustration;\\t()\\n")
    >>> parsed = parse(root, sessions=[1])
    >>> rec = parsed.records[0]
    >>> rec["speaker"], rec["gender"], rec["label"], rec["emotion"], rec["improvised"], rec["duration"]
    ('Ses01M', 'male', 'fru', 'frustration', True, 1.0)
    >>> parsed.problems
    []
    """
    root = check_data_folder(data_folder, CORPUS, "Session1 ... Session5 of IEMOCAP_full_release")
    chosen = _check_sessions(sessions)
    present = [s for s in SESSIONS if os.path.isdir(os.path.join(root, f"Session{s}"))]
    if not present:
        raise EmoLobesError(f"no IEMOCAP Session1 ... Session5 folder in {data_folder}", _missing_fix(root))
    if not any(s in present for s in chosen):
        raise EmoLobesError(
            f"none of the requested IEMOCAP sessions {chosen} is in {data_folder}",
            f"request sessions among {present}, or point --data_folder at the complete IEMOCAP_full_release",
        )

    problems, malformed = [], []
    audio, blocks = {}, []
    for session in chosen:
        if session not in present:
            problems.append(f"Session{session}/ missing, session skipped")
            continue
        session_audio, has_audio = _scan_audio(root, session)
        session_blocks, has_labels = _scan_labels(root, session, problems, malformed)
        if not has_audio:
            problems.append(f"Session{session}/sentences/wav/ missing: no audio in this session")
        if not has_labels:
            problems.append(f"Session{session}/dialog/EmoEvaluation/ missing: no labels in this session")
        audio.update(session_audio)
        blocks.extend(session_blocks)

    labelled, duplicates = {}, []
    for block in blocks:
        if block["id"] in labelled:
            duplicates.append(block["id"])
        else:
            labelled[block["id"]] = block
    if duplicates:
        problems.append(_summary_line(duplicates, "utterances with more than one label block", "first block kept"))
    no_audio = sorted(set(labelled) - set(audio))
    no_label = sorted(set(audio) - set(labelled))
    if no_audio:
        problems.append(_summary_line(no_audio, "label blocks without audio"))
    if no_label:
        problems.append(_summary_line(no_label, "audio files without a label block"))
    problems.extend(malformed[:_MAX_MALFORMED])
    if len(malformed) > _MAX_MALFORMED:
        problems.append(f"... and {len(malformed) - _MAX_MALFORMED} more malformed label lines")

    records = []
    for utterance_id in sorted(set(labelled) & set(audio)):
        block = labelled[utterance_id]
        annotations = dict(block["annotations"])
        if include_self_evaluations:
            annotations.update(block["self_annotations"])
        fields = {
            "id": utterance_id,
            "speaker": speaker_of(utterance_id),
            "gender": gender_of(utterance_id),
            "language": LANGUAGE,
            "corpus": CORPUS,
            "label": block["code"],
            "emotion": CODE_TO_EMOTION.get(block["code"], canonical_emotion(block["code"])),
            "session": session_of(utterance_id),
            "style": STYLE,
            "improvised": is_improvised(utterance_id),
            "text_id": dialog_of(utterance_id),
            "start": block["start"],
            "end": block["end"],
            "annotations": annotations,
            "self_annotations": dict(block["self_annotations"]),
            "dim_annotations": dict(block["dim_annotations"]),
        }
        if block["vad"] is not None:
            fields["vad"] = block["vad"]
        record = audio_record(root, audio[utterance_id], problems, **fields)
        if record is not None:
            records.append(record)
    return ParsedCorpus(CORPUS, data_folder, records, problems)
