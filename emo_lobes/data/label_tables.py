"""The papers' label tables: EmoNet's arousal/valence of emotion words and the w2v2 paper's sentiment groups."""
import csv
import functools
import importlib.resources
import io

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.labels import canonical_emotion

AROUSAL_VALENCE_CSV = "emonet_arousal_valence.csv"
SENTIMENT_CSV = "w2v2_sentiment.csv"


def _read_csv(filename):
    """Rows of a CSV shipped in ``emo_lobes/data/tables``, skipping ``#`` comment lines."""
    text = importlib.resources.files("emo_lobes.data").joinpath("tables").joinpath(filename).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def _clean(word):
    return " ".join(str(word).strip().lower().split())


@functools.lru_cache(maxsize=1)
def arousal_valence_table():
    """EmoNet's Table 2 (plus ``calm``): emotion word -> (arousal, valence).

    Returns
    -------
    dict
        ``{word: ("low"|"high", "negative"|"neutral"|"positive")}``, words lower case as in the paper.

    Example
    -------
    >>> table = arousal_valence_table()
    >>> len(table), table["anger"], table["boredom"]
    (48, ('high', 'negative'), ('low', 'neutral'))
    """
    return {row["emotion"]: (row["arousal"], row["valence"]) for row in _read_csv(AROUSAL_VALENCE_CSV)}


@functools.lru_cache(maxsize=1)
def _arousal_valence_by_canonical():
    """Canonical emotion -> (arousal, valence), from the rows whose word maps onto it (first row wins)."""
    index = {}
    for word, pair in arousal_valence_table().items():
        index.setdefault(canonical_emotion(word), pair)
    return index


def arousal_valence(emotion_word):
    """Arousal and valence of an emotion word after EmoNet's Table 2.

    The word is looked up as is, then through its canonical form, so corpus spellings work (IEMOCAP ``hap`` ->
    ``happy`` -> the paper's ``happiness`` row).

    Arguments
    ---------
    emotion_word : str
        Any emotion word or corpus label.

    Returns
    -------
    tuple of str
        ``(arousal, valence)``: ``low``/``high`` and ``negative``/``neutral``/``positive``.

    Raises
    ------
    EmoLobesError
        When neither the word nor its canonical form has a row.

    Example
    -------
    >>> arousal_valence("hap"), arousal_valence("Sadness"), arousal_valence("pride")
    (('high', 'positive'), ('low', 'negative'), ('low', 'positive'))
    """
    word = _clean(emotion_word)
    table = arousal_valence_table()
    if word in table:
        return table[word]
    canonical = canonical_emotion(word)
    if canonical in table:
        return table[canonical]
    if canonical in _arousal_valence_by_canonical():
        return _arousal_valence_by_canonical()[canonical]
    raise EmoLobesError(
        f"emotion '{emotion_word}' has no arousal/valence mapping",
        f"add a row '{word},<low|high>,<negative|neutral|positive>' to emo_lobes/data/tables/{AROUSAL_VALENCE_CSV}",
    )


@functools.lru_cache(maxsize=1)
def sentiment_table():
    """The w2v2 paper's Table I: one dict per (corpus, label) with its sentiment and canonical emotion.

    Returns
    -------
    list of dict
        Rows with keys ``corpus``, ``label``, ``sentiment`` and ``emotion``.

    Example
    -------
    >>> rows = sentiment_table()
    >>> len(rows), sorted({row["corpus"] for row in rows})
    (34, ['CaFE', 'EmoDB', 'GEMEP', 'RAVDESS'])
    """
    return [dict(row) for row in _read_csv(SENTIMENT_CSV)]


def sentiment(corpus, label):
    """The negative/neutral/positive group of a corpus's label, after the w2v2 paper's Table I.

    Arguments
    ---------
    corpus : str
        ``CaFE``, ``EmoDB``, ``GEMEP`` or ``RAVDESS`` (any case).
    label : str
        The label word as Table I writes it, any spelling with the same canonical emotion (``Colère``,
        ``calm``, ``amusement``), or the record's canonical ``emotion`` (for corpora with coded labels).

    Returns
    -------
    str
        ``negative``, ``neutral`` or ``positive``.

    Raises
    ------
    EmoLobesError
        For a corpus outside Table I or a label that is not in that corpus's row.

    Example
    -------
    >>> sentiment("emodb", "boredom"), sentiment("RAVDESS", "calm"), sentiment("gemep", "amusement")
    ('negative', 'positive', 'positive')
    """
    rows = [row for row in sentiment_table() if row["corpus"].lower() == _clean(corpus)]
    if not rows:
        corpora = ", ".join(sorted({row["corpus"] for row in sentiment_table()}))
        raise EmoLobesError(
            f"Table I of the w2v2 paper has no corpus '{corpus}'",
            f"use one of {corpora}, or sentiment_of_emotion(emotion) for other corpora",
        )
    word = _clean(label)
    for key, value in (("label", word), ("emotion", canonical_emotion(word))):
        for row in rows:
            if row[key] == value:
                return row["sentiment"]
    raise EmoLobesError(
        f"label '{label}' of {rows[0]['corpus']} has no sentiment mapping",
        f"add a row '{rows[0]['corpus']},{word},<negative|neutral|positive>,{canonical_emotion(word)}' "
        f"to emo_lobes/data/tables/{SENTIMENT_CSV}",
    )


def sentiment_of_emotion(emotion):
    """The negative/neutral/positive group of any emotion word, whatever its corpus.

    Looks the canonical emotion up in Table I of the w2v2 paper (all corpora agree on each emotion), then
    falls back on the valence of EmoNet's Table 2 for emotions outside those four corpora (``excited``,
    ``frustration``, ``contempt``). The papers differ on ``boredom`` (negative in Table I, neutral valence in
    EmoNet); Table I wins here.

    Arguments
    ---------
    emotion : str
        A canonical emotion or any emotion word.

    Returns
    -------
    str
        ``negative``, ``neutral`` or ``positive``.

    Raises
    ------
    EmoLobesError
        When neither table maps the word.

    Example
    -------
    >>> [sentiment_of_emotion(e) for e in ("happy", "boredom", "surprise", "frustration", "tenderness")]
    ['positive', 'negative', 'neutral', 'negative', 'positive']
    """
    word = _clean(emotion)
    canonical = canonical_emotion(word)
    for row in sentiment_table():
        if canonical == row["emotion"] or word == row["label"]:
            return row["sentiment"]
    try:
        return arousal_valence(word)[1]
    except EmoLobesError:
        raise EmoLobesError(
            f"emotion '{emotion}' has no sentiment mapping",
            f"add a row for '{word}' to emo_lobes/data/tables/{SENTIMENT_CSV} or emo_lobes/data/tables/{AROUSAL_VALENCE_CSV}",
        ) from None


def table_label(corpus, emotion):
    """The word the w2v2 paper's Table I uses for a corpus's class with this canonical emotion.

    Table I keeps each corpus's own names where the canonical names merge them: EmoDB's fear class is
    ``anxiety``, CaFE's and GEMEP's happiness is ``joy``, EmoDB's and RAVDESS's is ``happiness``. Figure 2 is read
    with those names (anxiety next to the other corpora's fear; happiness and joy next to anger).

    Arguments
    ---------
    corpus : str
        A corpus name (any case); one outside Table I keeps the canonical name.
    emotion : str
        The class's canonical emotion (``emo_lobes.data.labels.canonical_emotion``).

    Returns
    -------
    str
        Table I's word, or the canonical emotion where Table I has none.

    Example
    -------
    >>> [table_label(c, e) for c, e in (("emodb", "fear"), ("cafe", "happy"), ("ravdess", "happy"), ("urdu", "sad"))]
    ['anxiety', 'joy', 'happiness', 'sad']
    """
    canonical = canonical_emotion(_clean(emotion))
    for row in sentiment_table():
        if row["corpus"].lower() == _clean(corpus) and row["emotion"] == canonical:
            return row["label"]
    return canonical
