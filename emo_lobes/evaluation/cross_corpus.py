"""Cross-corpus scoring: one corpus's utterances through another corpus's classifier head (w2v2 paper, Table III).

Labels of two corpora differ, so a prediction is scored either (a) after mapping both the true label and the
head's label to negative / neutral / positive (Table I of the paper), or (b) on the classes the two corpora
share (compared by canonical emotion, e.g. CaFE's ``Joie`` and GEMEP's ``joy`` are both ``happy``). The score is
the unweighted average recall (UAR) over the true classes present; within-corpus pairs (source = head) are
scored the same way, on the corpus's own labels for (b). Pairs are summarised as mean (sample std).
"""
from collections import defaultdict

import numpy as np

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.label_tables import sentiment, sentiment_of_emotion, sentiment_table
from emo_lobes.evaluation.metrics import classification_metrics

#: Order of the three classes of mode (a).
SENTIMENTS = ("negative", "neutral", "positive")
#: What a prediction outside the shared classes counts as in mode (b): always wrong.
OUTSIDE_SHARED = "(not shared)"
#: The two scoring modes.
MODES = ("sentiment", "shared")


def corpus_sentiment(corpus, emotion):
    """Negative/neutral/positive of a corpus's emotion: Table I for its four corpora, else by emotion.

    Arguments
    ---------
    corpus : str
        Corpus name (``cafe``, ``emodb``, ``gemep``, ``ravdess``, or any other).
    emotion : str
        The record's canonical emotion (``happy``) or the label word.

    Returns
    -------
    str
        ``negative``, ``neutral`` or ``positive``.

    Example
    -------
    >>> corpus_sentiment("emodb", "boredom"), corpus_sentiment("gemep", "amusement"), corpus_sentiment("urdu", "sad")
    ('negative', 'positive', 'negative')
    """
    table_corpora = {row["corpus"].lower() for row in sentiment_table()}
    if str(corpus).lower() in table_corpora:
        return sentiment(corpus, emotion)
    return sentiment_of_emotion(emotion)


#: The sentiment "group" of a predicted class that has none: always wrong.
NO_SENTIMENT = "no_sentiment"


def _sentiment_or_none(corpus, emotion):
    # corpus_sentiment, or None for a class neither table maps.
    try:
        return corpus_sentiment(corpus, emotion)
    except EmoLobesError:
        return None


def _check_predictions(predictions, label_emotions):
    # Every prediction names a known corpus and label; every head prediction a known head label.
    for index, prediction in enumerate(predictions):
        for key in ("corpus", "true", "heads"):
            if key not in prediction:
                raise EmoLobesError(f"prediction {index} has no '{key}'",
                                    "give each prediction corpus, true (its label) and heads ({head: label})")
        corpus = prediction["corpus"]
        if corpus not in label_emotions or prediction["true"] not in label_emotions[corpus]:
            raise EmoLobesError(f"prediction {index}: label '{prediction['true']}' of corpus '{corpus}' is not in "
                                "the label tables", "pass label_emotions for every corpus and label")
        for head, label in prediction["heads"].items():
            if head not in label_emotions or label not in label_emotions[head]:
                raise EmoLobesError(f"prediction {index}: head '{head}' predicts unknown label '{label}'",
                                    "pass label_emotions for every head and its labels")


def score_pair(predictions, label_emotions, source, head):
    """Score corpus ``source``'s utterances through ``head``'s classifier, in both modes.

    Arguments
    ---------
    predictions : list of dict
        ``{"corpus": source corpus, "true": its label, "heads": {head corpus: predicted label}}``.
    label_emotions : dict
        ``{corpus: {label: canonical emotion}}`` for sources and heads.
    source, head : str
        The utterances' corpus and the head's corpus.

    Returns
    -------
    dict
        ``source``, ``head``, ``n``; ``sentiment_ua`` (mode a); ``shared_ua`` (mode b, ``None`` when the
        corpora share no class), ``shared_classes``, ``n_shared``.

    Example
    -------
    >>> emotions = {"a": {"A1": "angry", "A2": "sad", "A3": "happy"}, "b": {"B1": "angry", "B2": "fear", "B3": "happy"}}
    >>> preds = [{"corpus": "a", "true": "A1", "heads": {"b": "B1"}},   # angry -> angry
    ...          {"corpus": "a", "true": "A2", "heads": {"b": "B2"}},   # sad -> fear: negative both
    ...          {"corpus": "a", "true": "A3", "heads": {"b": "B1"}}]   # happy -> angry: wrong
    >>> pair = score_pair(preds, emotions, "a", "b")
    >>> pair["sentiment_ua"], pair["shared_ua"], pair["shared_classes"], pair["n_shared"]
    (0.5, 0.5, ['angry', 'happy'], 2)
    >>> emotions["a"]["A4"] = "other"   # no sentiment: left out of mode a
    >>> score_pair(preds + [{"corpus": "a", "true": "A4", "heads": {"b": "B1"}}], emotions, "a", "b")["n_sentiment"]
    3
    """
    _check_predictions(predictions, label_emotions)
    chosen = [p for p in predictions if p["corpus"] == source and head in p["heads"]]
    if not chosen:
        raise EmoLobesError(f"no utterance of '{source}' was predicted by head '{head}'",
                            "evaluate the source corpus's test set through that head first")
    source_emotions, head_emotions = label_emotions[source], label_emotions[head]
    # Classes with no sentiment (IEMOCAP's 'other', say) are left out of mode a as true classes; predicted, they
    # count as wrong.
    with_sentiment = [p for p in chosen if _sentiment_or_none(source, source_emotions[p["true"]]) is not None]
    true_sentiment = [corpus_sentiment(source, source_emotions[p["true"]]) for p in with_sentiment]
    pred_sentiment = [_sentiment_or_none(head, head_emotions[p["heads"][head]]) or NO_SENTIMENT
                      for p in with_sentiment]
    result = {
        "source": source, "head": head, "n": len(chosen), "n_sentiment": len(with_sentiment),
        "sentiment_ua": classification_metrics(true_sentiment, pred_sentiment,
                                               labels=list(SENTIMENTS) + [NO_SENTIMENT])["ua"]
        if with_sentiment else None,
    }
    if source == head:  # within-corpus: the corpus's own labels
        shared = sorted(set(source_emotions.values()))
        result["shared_ua"] = classification_metrics([p["true"] for p in chosen],
                                                     [p["heads"][head] for p in chosen])["ua"]
        result.update(shared_classes=shared, n_shared=len(chosen))
        return result
    shared = sorted(set(source_emotions.values()) & set(head_emotions.values()))
    kept = [p for p in chosen if source_emotions[p["true"]] in shared]
    result.update(shared_classes=shared, n_shared=len(kept), shared_ua=None)
    if kept:
        true_shared = [source_emotions[p["true"]] for p in kept]
        pred_shared = [head_emotions[p["heads"][head]] for p in kept]
        pred_shared = [emotion if emotion in shared else OUTSIDE_SHARED for emotion in pred_shared]
        result["shared_ua"] = classification_metrics(true_shared, pred_shared, labels=shared + [OUTSIDE_SHARED])["ua"]
    return result


def score_all_pairs(predictions, label_emotions):
    """:func:`score_pair` for every (source corpus, head) pair present in ``predictions``.

    Arguments
    ---------
    predictions : list of dict
        As for :func:`score_pair`.
    label_emotions : dict
        ``{corpus: {label: canonical emotion}}``.

    Returns
    -------
    list of dict
        One per pair, sorted by source then head.

    Example
    -------
    >>> emotions = {"a": {"x": "angry", "y": "sad"}, "b": {"u": "angry", "v": "happy"}}
    >>> preds = [{"corpus": "a", "true": "x", "heads": {"a": "x", "b": "u"}},
    ...          {"corpus": "b", "true": "v", "heads": {"a": "y", "b": "v"}}]
    >>> [(p["source"], p["head"]) for p in score_all_pairs(preds, emotions)]
    [('a', 'a'), ('a', 'b'), ('b', 'a'), ('b', 'b')]
    """
    _check_predictions(predictions, label_emotions)
    pairs = sorted({(p["corpus"], head) for p in predictions for head in p["heads"]})
    return [score_pair(predictions, label_emotions, source, head) for source, head in pairs]


def _mean_std(values):
    # Mean and sample standard deviation (ddof 1, as Table III: its std of Table II's four UARs), None if empty.
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return {"mean": float(np.mean(values)), "std": std, "n": len(values)}


def summarize_pairs(pairs):
    """Table III's cells: mean (std) of within-corpus pairs and of cross-corpus pairs, for both modes.

    Arguments
    ---------
    pairs : list of dict
        From :func:`score_all_pairs` (possibly gathered over several runs).

    Returns
    -------
    dict
        ``{mode: {"within": {"mean", "std", "n"}, "cross": {...}}}`` for ``sentiment`` and ``shared``.

    Example
    -------
    >>> pairs = [{"source": "a", "head": "a", "sentiment_ua": 0.8, "shared_ua": 0.6},
    ...          {"source": "b", "head": "b", "sentiment_ua": 0.6, "shared_ua": 0.4},
    ...          {"source": "a", "head": "b", "sentiment_ua": 0.5, "shared_ua": None}]
    >>> summary = summarize_pairs(pairs)
    >>> round(summary["sentiment"]["within"]["mean"], 3), round(summary["sentiment"]["within"]["std"], 4)
    (0.7, 0.1414)
    >>> summary["shared"]["cross"]
    {'mean': None, 'std': None, 'n': 0}
    """
    summary = {}
    for mode in MODES:
        key = f"{mode}_ua"
        summary[mode] = {
            "within": _mean_std([p[key] for p in pairs if p["source"] == p["head"]]),
            "cross": _mean_std([p[key] for p in pairs if p["source"] != p["head"]]),
        }
    return summary


def pair_confusion(predictions, label_emotions, source, head):
    """Confusion counts of ``source``'s utterances (rows, its labels) through ``head``'s classifier (columns).

    Arguments
    ---------
    predictions : list of dict
        As for :func:`score_pair`.
    label_emotions : dict
        ``{corpus: {label: canonical emotion}}``.
    source, head : str
        Rows' corpus and columns' corpus.

    Returns
    -------
    matrix : numpy.ndarray
        ``[n source labels, n head labels]`` counts.
    row_labels, column_labels : list of str
        The labels, sorted.

    Example
    -------
    >>> emotions = {"a": {"x": "angry", "y": "sad"}, "b": {"u": "angry", "v": "happy", "w": "fear"}}
    >>> preds = [{"corpus": "a", "true": "x", "heads": {"b": "u"}}, {"corpus": "a", "true": "y", "heads": {"b": "w"}},
    ...          {"corpus": "a", "true": "y", "heads": {"b": "w"}}]
    >>> matrix, rows, cols = pair_confusion(preds, emotions, "a", "b")
    >>> matrix.tolist(), rows, cols
    ([[1, 0, 0], [0, 0, 2]], ['x', 'y'], ['u', 'v', 'w'])
    """
    _check_predictions(predictions, label_emotions)
    rows, cols = sorted(label_emotions[source]), sorted(label_emotions[head])
    matrix = np.zeros((len(rows), len(cols)), dtype=np.int64)
    counted = defaultdict(int)
    for p in predictions:
        if p["corpus"] == source and head in p["heads"]:
            counted[(p["true"], p["heads"][head])] += 1
    for (true, pred), count in counted.items():
        matrix[rows.index(true), cols.index(pred)] = count
    if not matrix.sum():
        raise EmoLobesError(f"no utterance of '{source}' was predicted by head '{head}'",
                            "evaluate the source corpus's test set through that head first")
    return matrix, rows, cols
