"""Cross-corpus scoring (Table III) on hand-made predictions: sentiment mapping, shared classes, summaries."""
import numpy as np
import pytest

from emo_lobes.evaluation.cross_corpus import corpus_sentiment, pair_confusion, score_all_pairs, score_pair, summarize_pairs
from emo_lobes.errors import EmoLobesError

#: Label tables as the recipe's prep writes them (label -> canonical emotion).
CAFE = {"Colère": "angry", "Dégoût": "disgust", "Joie": "happy", "Neutre": "neutral", "Peur": "fear",
        "Surprise": "surprise", "Tristesse": "sad"}
GEMEP = {"amu": "amusement", "ang": "angry", "anx": "worry", "des": "despair", "fea": "fear", "int": "interest",
         "irr": "irritation", "joy": "happy", "ple": "pleasure", "pri": "pride", "rel": "relief", "sad": "sad"}
EMODB = {"A": "fear", "E": "disgust", "F": "happy", "L": "boredom", "N": "neutral", "T": "sad", "W": "angry"}
TABLES = {"cafe": CAFE, "gemep": GEMEP, "emodb": EMODB}


def cafe_through_gemep():
    # (CaFE label, GEMEP head's prediction) for eight CaFE test utterances.
    made = [("Colère", "ang"), ("Colère", "irr"), ("Tristesse", "sad"), ("Tristesse", "des"),
            ("Joie", "joy"), ("Peur", "fea"), ("Dégoût", "irr"), ("Neutre", "ple")]
    return [{"corpus": "cafe", "true": true, "heads": {"gemep": pred}} for true, pred in made]


def test_sentiment_mapping_follows_table_one():
    assert corpus_sentiment("cafe", "surprise") == "neutral"
    assert corpus_sentiment("ravdess", "calm") == "positive"
    assert corpus_sentiment("emodb", "boredom") == "negative"
    assert corpus_sentiment("gemep", "pride") == "positive"
    assert corpus_sentiment("urdu", "happy") == "positive"  # outside Table I: by emotion


def test_cafe_through_gemep_both_modes():
    pair = score_pair(cafe_through_gemep(), TABLES, "cafe", "gemep")
    # (a) negative: Colère x2, Tristesse x2, Peur, Dégoût -> ang, irr, sad, des, fea, irr: all negative (6/6);
    #     positive: Joie -> joy (1/1); neutral: Neutre -> ple (positive): 0/1. UAR = (1 + 1 + 0) / 3.
    assert pair["sentiment_ua"] == pytest.approx(2 / 3)
    # (b) shared with GEMEP: angry, fear, happy, sad (the paper's four); disgust and neutral are left out.
    assert pair["shared_classes"] == ["angry", "fear", "happy", "sad"]
    assert pair["n_shared"] == 6
    # angry 1/2 (irr is not shared: wrong), sad 1/2 (despair: wrong), happy 1/1, fear 1/1 -> 0.75
    assert pair["shared_ua"] == pytest.approx(0.75)


def test_within_corpus_pair_uses_own_labels():
    preds = [{"corpus": "emodb", "true": t, "heads": {"emodb": p}} for t, p in
             [("A", "A"), ("A", "W"), ("W", "W"), ("N", "L")]]
    pair = score_pair(preds, TABLES, "emodb", "emodb")
    assert pair["shared_ua"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    # sentiment: A, W negative -> A, W, W (all negative) ; N neutral -> L negative: wrong
    assert pair["sentiment_ua"] == pytest.approx((1.0 + 0.0) / 2)


def test_all_pairs_and_summary_match_paper_arithmetic():
    preds = cafe_through_gemep() + [{"corpus": "gemep", "true": "ang", "heads": {"gemep": "ang"}},
                                    {"corpus": "gemep", "true": "joy", "heads": {"gemep": "amu"}}]
    for p in preds:
        p["heads"].setdefault("cafe", "Colère")
    pairs = score_all_pairs(preds, TABLES)
    assert [(p["source"], p["head"]) for p in pairs] == [("cafe", "cafe"), ("cafe", "gemep"), ("gemep", "cafe"),
                                                         ("gemep", "gemep")]
    summary = summarize_pairs(pairs)
    assert summary["sentiment"]["within"]["n"] == 2 and summary["sentiment"]["cross"]["n"] == 2
    # Table III's within-corpus common-class cell is the mean (sample std) of Table II's four UARs.
    table_ii = [{"source": c, "head": c, "sentiment_ua": 0.5, "shared_ua": u}
                for c, u in zip("abcd", (0.637, 0.575, 0.398, 0.604))]
    within = summarize_pairs(table_ii)["shared"]["within"]
    assert 100 * within["mean"] == pytest.approx(55.35) and round(100 * within["std"], 1) == 10.7


def test_confusion_rows_are_source_labels_columns_head_labels():
    matrix, rows, cols = pair_confusion(cafe_through_gemep(), TABLES, "cafe", "gemep")
    assert rows == sorted(CAFE) and cols == sorted(GEMEP)
    assert matrix.shape == (7, 12) and matrix.sum() == 8
    assert matrix[rows.index("Dégoût"), cols.index("irr")] == 1
    assert np.array_equal(matrix.sum(axis=1), [2, 1, 1, 1, 1, 0, 2])


def test_unknown_labels_and_missing_pairs_are_user_errors():
    with pytest.raises(EmoLobesError, match="predicts unknown label 'xyz'"):
        score_pair([{"corpus": "cafe", "true": "Joie", "heads": {"gemep": "xyz"}}], TABLES, "cafe", "gemep")
    with pytest.raises(EmoLobesError, match="no utterance of 'emodb'"):
        score_pair(cafe_through_gemep(), TABLES, "emodb", "gemep")
