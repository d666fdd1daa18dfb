"""Generic importer: any corpus described by a ``path,label[,speaker,gender,...]`` CSV (GEMEP, MASC, your own)."""
import csv
import os
import re
from collections import Counter

from emo_lobes.data.corpora.base import ParsedCorpus, audio_record, check_data_folder, nfc
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.labels import canonical_emotion

#: Columns every metadata CSV has.
REQUIRED_COLUMNS = ("path", "label")
#: Columns read when present (others are ignored).
OPTIONAL_COLUMNS = (
    "speaker", "gender", "language", "style", "session", "annotations", "text", "text_id", "intensity", "emotion",
)
#: Spellings of the ``gender`` column (lower case) -> schema gender.
GENDER_MAP = {
    "m": "male", "male": "male", "man": "male", "f": "female", "female": "female", "woman": "female",
    "": "unknown", "u": "unknown", "unknown": "unknown",
}
#: Values of the ``style`` column.
STYLES = ("acted", "elicited", "spontaneous")
#: In the ``annotations`` column: between annotators, and between one annotator's labels.
ANNOTATOR_SEPARATOR = "|"
LABEL_SEPARATOR = ";"
#: What to do with a label outside ``allowed_labels``.
UNKNOWN_LABEL_ACTIONS = ("error", "drop")
DEFAULT_CSV = "metadata.csv"
FORMAT = "a CSV with columns path,label and optionally " + ",".join(OPTIONAL_COLUMNS)


def parse_annotations(cell):
    """Split an ``annotations`` cell into ``{annotator: [labels]}`` (annotators ``a1``, ``a2``, ... in order).

    Annotators are separated by ``|`` and one annotator's labels by ``;``. An empty cell gives ``{}``.

    Arguments
    ---------
    cell : str
        E.g. ``"neutral|neutral;angry|angry"``.

    Returns
    -------
    dict
        Annotator id -> list of labels, as written (stripped).

    Example
    -------
    >>> parse_annotations("neutral|neutral;angry|angry")
    {'a1': ['neutral'], 'a2': ['neutral', 'angry'], 'a3': ['angry']}
    >>> parse_annotations("  ")
    {}
    """
    cell = (cell or "").strip()
    if not cell:
        return {}
    annotations = {}
    for index, part in enumerate(cell.split(ANNOTATOR_SEPARATOR), start=1):
        labels = [label.strip() for label in part.split(LABEL_SEPARATOR) if label.strip()]
        if labels:
            annotations[f"a{index}"] = labels
    return annotations


def default_corpus_name(data_folder):
    """The corpus name when none is given: the folder name, lower case, other characters as ``_``.

    Example
    -------
    >>> default_corpus_name("/data/My Corpus/")
    'my_corpus'
    """
    name = os.path.basename(os.path.normpath(os.path.abspath(data_folder))).lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_") or "csv"


def _resolve_csv(root, csv_file):
    """The CSV path: relative to the data folder, else as given (absolute or from the working directory)."""
    for candidate in (os.path.join(root, csv_file), csv_file):
        if os.path.isfile(candidate):
            return candidate
    raise EmoLobesError(
        f"metadata CSV {csv_file} not found in {root}",
        f"write {FORMAT} to {os.path.join(root, DEFAULT_CSV)}, or pass csv_file=<its path>",
    )


def read_metadata(csv_path):
    """Read a metadata CSV into its (lower-cased) columns and ``(line number, row)`` pairs.

    Arguments
    ---------
    csv_path : str
        A comma-separated UTF-8 file with a header line.

    Returns
    -------
    tuple
        ``(columns, rows)``; each row maps a column to its stripped cell (``''`` when empty).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "m.csv")
    >>> _ = open(path, "w").write("Path,Label\\nwav/a.wav, angry\\n")
    >>> read_metadata(path)
    (['path', 'label'], [(2, {'path': 'wav/a.wav', 'label': 'angry'})])
    """
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            columns = [nfc(name).strip().lower() for name in header]
            rows = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                cells = {col: nfc(row[i]).strip() if i < len(row) else "" for i, col in enumerate(columns) if col}
                rows.append((reader.line_num, cells))
    except UnicodeDecodeError:
        raise EmoLobesError(f"{csv_path} is not UTF-8 text", "save the CSV as UTF-8") from None
    missing = [col for col in REQUIRED_COLUMNS if col not in columns]
    if missing:
        separator = next((sep for sep in (";", "\t") if len(columns) == 1 and sep in columns[0]), None)
        hint = f" (it seems separated by {separator!r}: use commas)" if separator else ""
        raise EmoLobesError(
            f"{csv_path} lacks column(s) {', '.join(missing)} (found {', '.join(columns) or 'no header'}){hint}",
            f"give it a header line with {FORMAT}",
        )
    if not rows:
        raise EmoLobesError(f"{csv_path} has a header but no rows", "add one row per audio file")
    return columns, rows


def _relative_audio_path(root, cell):
    """The audio path relative to the corpus root, or ``None`` when it points outside it."""
    path = cell.replace("\\", "/")
    if os.path.isabs(path):
        path = os.path.relpath(path, root)
    path = os.path.normpath(path).replace(os.sep, "/")
    return None if path == ".." or path.startswith("../") else path


def _check_labels(rows, csv_path, allowed_labels, unknown_labels, problems):
    """Rows whose label is allowed (as written or as its canonical emotion); raise or drop the others."""
    if allowed_labels is None:
        return rows
    allowed = {str(label) for label in allowed_labels} | {canonical_emotion(label) for label in allowed_labels}
    allowed_text = ", ".join(map(str, allowed_labels))
    kept, dropped = [], Counter()
    for line, row in rows:
        label = row["label"]
        emotion = canonical_emotion(row.get("emotion") or label)
        if not label or label in allowed or emotion in allowed:
            kept.append((line, row))
        elif unknown_labels == "error":
            raise EmoLobesError(
                f"label '{label}' in row {line} of {csv_path} is not in allowed_labels ({allowed_text})",
                "correct the label, add it to allowed_labels, or pass unknown_labels='drop' to skip such rows",
            )
        else:
            dropped[label] += 1
    for label, count in sorted(dropped.items()):
        problems.append(f"label '{label}' is not in allowed_labels: {count} row(s) dropped")
    return kept


def _unique_ids(paths):
    """File stems as ids; the relative path (``/`` as ``_``) where two files share a stem.

    Example
    -------
    >>> _unique_ids(["a/x.wav", "b/x.wav", "b/y.wav"])
    ['a_x', 'b_x', 'y']
    """
    stems = [os.path.splitext(os.path.basename(path))[0] for path in paths]
    counts = Counter(stems)
    return [
        stem if counts[stem] == 1 else os.path.splitext(path)[0].replace("/", "_") for stem, path in zip(stems, paths)
    ]


def parse(
    data_folder, csv_file=DEFAULT_CSV, corpus_name=None, language=None, allowed_labels=None, unknown_labels="error"
):
    """Parse a corpus described by a metadata CSV.

    Arguments
    ---------
    data_folder : str
        The corpus root; the CSV's ``path`` column is relative to it (absolute paths must lie inside it).
    csv_file : str
        The CSV, relative to ``data_folder`` or absolute (default ``<data_folder>/metadata.csv``). Columns:
        ``path,label`` and optionally ``speaker,gender,language,style,session,annotations,text,text_id,intensity,
        emotion``. ``annotations``: annotators separated by ``|``, one annotator's labels by ``;``. ``emotion``:
        what a coded label means (``ang`` -> ``anger``); the record's ``emotion`` is its canonical name.
    corpus_name : str, optional
        The ``corpus`` of the records (default: the folder name in lower case). Speakers are prefixed with it.
    language : str, optional
        ISO 639-1 code for rows without a ``language`` cell (otherwise ``'unknown'``, noted in the problems).
    allowed_labels : list of str, optional
        The labels this corpus may have (compared with the label as written and with its canonical emotion).
    unknown_labels : str
        ``'error'`` (default): a label outside ``allowed_labels`` raises; ``'drop'``: such rows are skipped.

    Returns
    -------
    ParsedCorpus
        One record per usable row; ``label`` as written, ``emotion`` the canonical name of the ``emotion`` cell,
        else of the label. Rows with a missing,
        duplicated or unreadable file, or an empty label, are listed in the problems and skipped.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp(); sf.write(os.path.join(root, "c1.wav"), np.zeros(800), 8000)
    >>> _ = open(os.path.join(root, "metadata.csv"), "w").write(
    ...     "path,label,speaker,gender,annotations\\nc1.wav,Anger,07,F,anger|anger;joy\\n")
    >>> rec = parse(root, corpus_name="calls", language="es").records[0]
    >>> rec["speaker"], rec["gender"], rec["emotion"], rec["language"], rec["annotations"]
    ('calls_07', 'female', 'angry', 'es', {'a1': ['anger'], 'a2': ['anger', 'joy']})
    """
    if unknown_labels not in UNKNOWN_LABEL_ACTIONS:
        raise EmoLobesError(f"unknown_labels='{unknown_labels}' is not an option", "use 'error' or 'drop'")
    root = check_data_folder(data_folder, "csv", f"the audio files and {DEFAULT_CSV}")
    csv_path = _resolve_csv(root, csv_file or DEFAULT_CSV)
    corpus = corpus_name or default_corpus_name(root)
    columns, rows = read_metadata(csv_path)
    problems = []
    rows = _check_labels(rows, csv_path, allowed_labels, unknown_labels, problems)
    unknown_speaker = f"{corpus}_unknown"
    usable, seen_paths = [], {}
    for line, row in rows:
        rel_path = _relative_audio_path(root, row["path"])
        if not row["path"] or rel_path is None:
            problems.append(f"row {line}: path '{row['path']}' is empty or outside {root}, skipped")
        elif not row["label"]:
            problems.append(f"row {line}: {rel_path} has no label, skipped")
        elif rel_path in seen_paths:
            problems.append(f"row {line}: {rel_path} is listed again (first in row {seen_paths[rel_path]}), skipped")
        elif not os.path.isfile(os.path.join(root, rel_path)):
            problems.append(f"row {line}: {rel_path} does not exist, skipped")
        else:
            seen_paths[rel_path] = line
            usable.append((line, rel_path, row))
    records, odd_genders, no_speaker_rows, no_language_rows = [], Counter(), 0, 0
    for (line, rel_path, row), utt_id in zip(usable, _unique_ids([rel_path for _, rel_path, _ in usable])):
        speaker = row.get("speaker", "")
        if "speaker" in columns and not speaker:
            no_speaker_rows += 1
        if not speaker:
            speaker = unknown_speaker
        elif not speaker.startswith(f"{corpus}_"):
            speaker = f"{corpus}_{speaker}"
        gender = GENDER_MAP.get(row.get("gender", "").lower())
        if gender is None:
            odd_genders[row["gender"]] += 1
        row_language = (row.get("language") or language or "").lower()
        if not row_language:
            no_language_rows += 1
        style = row.get("style", "").lower()
        if style and style not in STYLES:
            raise EmoLobesError(
                f"style '{row['style']}' in row {line} of {csv_path} is not one of {', '.join(STYLES)}",
                "correct the style cell or leave it empty",
            )
        optional = {key: row[key] for key in ("session", "text", "text_id", "intensity") if row.get(key)}
        if style:
            optional["style"] = style
        annotations = parse_annotations(row.get("annotations"))
        if annotations:
            optional["annotations"] = annotations
        record = audio_record(
            root, rel_path, problems, id=utt_id, speaker=speaker, gender=gender or "unknown",
            language=row_language or "unknown", corpus=corpus, label=row["label"],
            emotion=canonical_emotion(row.get("emotion") or row["label"]), **optional,
        )
        if record is not None:
            records.append(record)
    if "speaker" not in columns:
        problems.append(
            f"no speaker column in {os.path.basename(csv_path)}: every clip has speaker {unknown_speaker}, "
            "so folds are random, not speaker-independent"
        )
    if no_speaker_rows:
        problems.append(f"{no_speaker_rows} row(s) with an empty speaker cell get speaker {unknown_speaker}")
    for value, count in sorted(odd_genders.items()):
        problems.append(f"gender '{value}' ({count} row(s)) is not m/f/male/female: gender 'unknown'")
    if no_language_rows:
        problems.append(f"{no_language_rows} row(s) without a language cell and no language option: language 'unknown'")
    if not records:
        raise EmoLobesError(
            f"no usable rows in {csv_path} ({len(problems)} problems, first: {problems[0] if problems else 'none'})",
            f"list existing audio files relative to {root} in {FORMAT}",
        )
    return ParsedCorpus(corpus, data_folder, records, problems)
