"""The canonical emotion vocabulary and the mapping of any corpus's label words onto it."""
import re

#: Canonical emotion names. Corpus labels keep their own value in ``label``; ``emotion`` holds one of these,
#: or, for a word with no basic-emotion equivalent (GEMEP's ``pride``, a user's ``annoyed``), that word in
#: lower case, so no information is lost.
CANONICAL_EMOTIONS = (
    "neutral", "happy", "sad", "angry", "fear", "disgust", "surprise", "calm", "boredom",
    "excited", "frustration", "contempt", "other", "undecided",
)

#: Spellings met across corpora and user CSVs, mapped to canonical names (keys lower case, no accents needed).
_SYNONYMS = {
    "neutral": "neutral", "neu": "neutral", "n": "neutral", "neutre": "neutral", "neutrale": "neutral",
    "happy": "happy", "happiness": "happy", "hap": "happy", "joy": "happy", "joie": "happy", "gioia": "happy",
    "gio": "happy", "freude": "happy",
    "sad": "sad", "sadness": "sad", "sadness.": "sad", "tristesse": "sad", "tristezza": "sad", "tri": "sad",
    "trauer": "sad",
    "angry": "angry", "anger": "angry", "ang": "angry", "colere": "angry", "colère": "angry", "rabbia": "angry",
    "rab": "angry", "wut": "angry", "ärger": "angry",
    "fear": "fear", "fearful": "fear", "fea": "fear", "anxiety": "fear", "peur": "fear", "paura": "fear",
    "pau": "fear", "angst": "fear",
    "disgust": "disgust", "dis": "disgust", "disgusted": "disgust", "degout": "disgust", "dégoût": "disgust",
    "disgusto": "disgust", "ekel": "disgust",
    "surprise": "surprise", "surprised": "surprise", "sur": "surprise", "ps": "surprise", "sorpresa": "surprise",
    "sor": "surprise",
    "calm": "calm", "calmness": "calm", "fun": "amusement", "boredom": "boredom", "bored": "boredom", "langeweile": "boredom",
    "excited": "excited", "exc": "excited", "excitement": "excited",
    "frustration": "frustration", "frustrated": "frustration", "fru": "frustration",
    "contempt": "contempt", "other": "other", "oth": "other", "xxx": "undecided", "undecided": "undecided",
}


def canonical_emotion(word):
    """Map a label word from any corpus or CSV to the canonical vocabulary.

    Known spellings (English, French, German, Italian words and IEMOCAP codes) map to
    :data:`CANONICAL_EMOTIONS`; any other word is kept, lower-cased and stripped, so unknown labels are
    never lost. Corpus modules with coded labels (EmoDB's letters, RAVDESS's numbers) map their codes
    themselves and use this for words.

    Arguments
    ---------
    word : str
        The label as written in the corpus.

    Returns
    -------
    str
        The canonical name, or the cleaned word itself.

    Example
    -------
    >>> [canonical_emotion(w) for w in ("Anger", "Colère", " neu ", "xxx", "Pride")]
    ['angry', 'angry', 'neutral', 'undecided', 'pride']
    """
    cleaned = re.sub(r"\s+", " ", str(word).strip().lower())
    return _SYNONYMS.get(cleaned, cleaned)
