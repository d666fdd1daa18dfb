"""Tests of the papers' label tables: every row maps, every canonical emotion has a pair, the papers' examples hold."""
import pytest

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.label_tables import (
    arousal_valence, arousal_valence_table, sentiment, sentiment_of_emotion, sentiment_table,
)
from emo_lobes.data.labels import canonical_emotion

# Emotions of all corpora the project parses.
PARSED_EMOTIONS = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise", "calm", "boredom", "excited",
                   "frustration", "contempt")


def test_every_arousal_valence_row_maps_to_itself_with_valid_levels():
    table = arousal_valence_table()
    assert len(table) == 48  # 47 categories of Table 2 plus calm
    for word, pair in table.items():
        assert word == word.lower().strip()
        assert pair[0] in ("low", "high") and pair[1] in ("negative", "neutral", "positive")
        assert arousal_valence(word) == pair
        assert arousal_valence(word.upper()) == pair


def test_table_2_has_the_six_columns_of_the_paper():
    table = arousal_valence_table()
    columns = {}
    for word, pair in table.items():
        columns.setdefault(pair, set()).add(word)
    assert len(columns) == 6
    assert columns[("low", "neutral")] == {"boredom", "confusion", "neutral", "pondering", "rest", "sneakiness"}
    assert columns[("high", "neutral")] == {"emphatic", "interest", "intoxication", "medium-stress", "nervousness",
                                            "surprise"}
    assert columns[("low", "positive")] == {"admiration", "kindness", "pride", "relief", "tenderness", "calm"}
    assert len(columns[("low", "negative")]) == 13 and len(columns[("high", "negative")]) == 8
    assert len(columns[("high", "positive")]) == 9


def test_every_parsed_canonical_emotion_has_an_arousal_valence_pair():
    expected = {
        "neutral": ("low", "neutral"), "happy": ("high", "positive"), "sad": ("low", "negative"),
        "angry": ("high", "negative"), "fear": ("high", "negative"), "disgust": ("low", "negative"),
        "surprise": ("high", "neutral"), "calm": ("low", "positive"), "boredom": ("low", "neutral"),
        "excited": ("high", "positive"), "frustration": ("low", "negative"), "contempt": ("low", "negative"),
    }
    assert {emotion: arousal_valence(emotion) for emotion in PARSED_EMOTIONS} == expected


def test_rows_sharing_a_canonical_emotion_agree():
    by_canonical = {}
    for word, pair in arousal_valence_table().items():
        by_canonical.setdefault(canonical_emotion(word), set()).add(pair)
    assert all(len(pairs) == 1 for pairs in by_canonical.values()), by_canonical


def test_corpus_spellings_reach_the_papers_rows():
    assert arousal_valence("hap") == arousal_valence("happiness") == arousal_valence("joy")
    assert arousal_valence("Colère") == arousal_valence("anger") == ("high", "negative")
    assert arousal_valence("exc") == arousal_valence("excitement")
    assert arousal_valence("high-stress") == ("high", "negative")
    assert arousal_valence("worry") == ("low", "negative") and arousal_valence("anxiety") == ("high", "negative")


def test_unknown_words_raise_with_the_fix():
    for word in ("zorgy", "other", "undecided"):
        with pytest.raises(EmoLobesError, match="add a row"):
            arousal_valence(word)
    with pytest.raises(EmoLobesError, match="emonet_arousal_valence.csv"):
        sentiment_of_emotion("zorgy")


def test_every_sentiment_row_maps_and_carries_its_canonical_emotion():
    rows = sentiment_table()
    counts = {}
    for row in rows:
        counts[row["corpus"]] = counts.get(row["corpus"], 0) + 1
        assert row["sentiment"] in ("negative", "neutral", "positive")
        assert sentiment(row["corpus"], row["label"]) == row["sentiment"]
        assert sentiment(row["corpus"].lower(), row["emotion"]) == row["sentiment"]
        assert row["emotion"] == canonical_emotion(row["label"])
    assert counts == {"CaFE": 7, "EmoDB": 7, "GEMEP": 12, "RAVDESS": 8}


def test_table_i_groups_as_in_the_paper():
    assert [sentiment("CaFE", w) for w in ("anger", "surprise", "joy")] == ["negative", "neutral", "positive"]
    assert sentiment("EmoDB", "anxiety") == sentiment("EmoDB", "boredom") == "negative"
    assert sentiment("EmoDB", "happiness") == "positive" and sentiment("EmoDB", "neutral") == "neutral"
    assert {sentiment("GEMEP", w) for w in ("despair", "irritation", "worry")} == {"negative"}
    assert {sentiment("GEMEP", w) for w in ("fun", "amusement", "interest", "pride", "relief")} == {"positive"}
    assert sentiment("RAVDESS", "calm") == sentiment("RAVDESS", "calmness") == "positive"
    assert sentiment("RAVDESS", "surprised") == "neutral"
    assert sentiment("cafe", "Colère") == "negative"
    with pytest.raises(EmoLobesError, match="no sentiment mapping"):
        sentiment("GEMEP", "neutral")  # GEMEP's core set has no neutral class
    with pytest.raises(EmoLobesError, match="use one of CaFE, EmoDB, GEMEP, RAVDESS"):
        sentiment("IEMOCAP", "neu")


def test_sentiment_of_emotion_covers_the_parsed_emotions():
    expected = {
        "neutral": "neutral", "happy": "positive", "sad": "negative", "angry": "negative", "fear": "negative",
        "disgust": "negative", "surprise": "neutral", "calm": "positive", "boredom": "negative",
        "excited": "positive", "frustration": "negative", "contempt": "negative",
    }
    assert {emotion: sentiment_of_emotion(emotion) for emotion in PARSED_EMOTIONS} == expected
    assert sentiment_of_emotion("fun") == sentiment_of_emotion("amusement") == "positive"
