"""Tests of the metrics against hand-computed values, exact McNemar, fold aggregation and test_results.json."""
import json
import math

import numpy as np
import pytest

from emo_lobes.errors import EmoLobesError
from emo_lobes.evaluation.metrics import (
    aggregate_folds, classification_metrics, format_percent, mcnemar_exact, read_test_results, write_test_results,
)

LABELS = ["neu", "hap", "sad", "ang"]
Y_TRUE = ["ang", "ang", "ang", "hap", "hap", "sad", "sad", "sad", "sad", "neu"]
Y_PRED = ["ang", "ang", "hap", "hap", "sad", "sad", "sad", "neu", "sad", "hap"]


def test_metrics_match_hand_computation():
    m = classification_metrics(Y_TRUE, Y_PRED, labels=LABELS)
    # correct: 2 ang + 1 hap + 3 sad = 6 of 10
    assert m["wa"] == pytest.approx(0.6)
    # recalls: neu 0/1, hap 1/2, sad 3/4, ang 2/3 -> mean 23/48
    assert m["per_class_recall"] == pytest.approx({"neu": 0.0, "hap": 0.5, "sad": 0.75, "ang": 2 / 3})
    assert m["ua"] == pytest.approx(23 / 48)
    # F1: ang P=2/2 R=2/3 -> 0.8; hap P=1/3 R=1/2 -> 0.4; sad P=3/4 R=3/4 -> 0.75; neu 0
    assert m["macro_f1"] == pytest.approx((0.8 + 0.4 + 0.75 + 0.0) / 4)
    assert m["confusion"] == [[0, 1, 0, 0], [0, 1, 1, 0], [1, 0, 3, 0], [0, 1, 0, 2]]
    assert m["labels"] == LABELS and m["n"] == 10
    json.dumps(m)  # plain Python types only


def test_ua_ignores_classes_absent_from_truth_and_int_labels_work():
    m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1]), labels=[0, 1, 2, 3])
    assert m["ua"] == pytest.approx((0.5 + 1.0) / 2)  # classes 2 and 3 have no true utterance
    assert m["per_class_recall"] == {"0": 0.5, "1": 1.0, "2": None, "3": None}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)  # over classes in truth or predictions
    assert m["confusion"][0] == [1, 0, 1, 0]
    assert m["labels"] == [0, 1, 2, 3] and isinstance(m["labels"][0], int)
    assert classification_metrics([10, 2], [10, 2])["labels"] == [2, 10]


def test_metrics_input_errors():
    with pytest.raises(EmoLobesError, match="3 true labels but 2 predictions"):
        classification_metrics(["a", "b", "a"], ["a", "b"])
    with pytest.raises(EmoLobesError, match="labels c are not in the label list"):
        classification_metrics(["a", "b"], ["a", "c"], labels=["a", "b"])
    with pytest.raises(EmoLobesError, match="no test utterances"):
        classification_metrics([], [])


def pairs_with(b, c, both_right=3, both_wrong=2):
    """Truth and two systems' predictions with b (A right, B wrong) and c (A wrong, B right) pairs."""
    truth = [1] * (b + c + both_right + both_wrong)
    pred_a = [1] * b + [0] * c + [1] * both_right + [0] * both_wrong
    pred_b = [0] * b + [1] * c + [1] * both_right + [2] * both_wrong
    return truth, pred_a, pred_b


def exact_two_sided(b, c):
    n, k = b + c, min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


@pytest.mark.parametrize("b, c, expected", [(1, 7, 0.0703125), (0, 5, 0.0625), (3, 3, 1.0), (2, 10, 158 / 4096),
                                            (12, 4, None), (0, 0, 1.0)])
def test_mcnemar_exact_known_values(b, c, expected):
    result = mcnemar_exact(*pairs_with(b, c))
    assert (result["b"], result["c"], result["n"]) == (b, c, b + c + 5)
    expected = exact_two_sided(b, c) if expected is None else expected
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)
    if b + c:
        assert result["p_value"] == pytest.approx(exact_two_sided(b, c), rel=1e-12)


def test_mcnemar_is_symmetric_and_checks_lengths():
    truth, a, b = pairs_with(2, 9)
    assert mcnemar_exact(truth, a, b)["p_value"] == mcnemar_exact(truth, b, a)["p_value"]
    with pytest.raises(EmoLobesError, match="equal lengths"):
        mcnemar_exact(truth, a, b[:-1])


def test_aggregate_folds_sample_std_and_summed_confusion():
    folds = [classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1]),   # wa 0.75
             classification_metrics([0, 0, 1, 1], [0, 0, 1, 1], labels=[0, 1]),   # wa 1.0
             classification_metrics([0, 0, 1, 1], [1, 1, 1, 1], labels=[0, 1])]   # wa 0.5
    agg = aggregate_folds(folds)
    assert agg["wa"]["mean"] == pytest.approx(0.75)
    assert agg["wa"]["std"] == pytest.approx(0.25)  # sqrt((0^2 + .25^2 + .25^2) / (3 - 1))
    assert agg["wa"]["n"] == 3 and agg["n_folds"] == 3
    assert agg["ua"]["mean"] == pytest.approx(0.75)
    assert agg["confusion"] == [[3, 3], [0, 6]] and agg["labels"] == [0, 1]
    assert agg["pooled"] == pytest.approx({"wa": 0.75, "ua": 0.75})
    single = aggregate_folds(folds[:1])
    assert single["wa"] == {"mean": 0.75, "std": 0.0, "n": 1}


def test_aggregate_folds_with_different_labels_and_missing_metric():
    folds = [classification_metrics(["a", "b"], ["a", "b"]), classification_metrics(["a", "c"], ["a", "a"])]
    agg = aggregate_folds(folds)
    assert agg["confusion"] is None and agg["labels"] is None and agg["pooled"] is None
    assert agg["wa"]["mean"] == pytest.approx(0.75)
    with pytest.raises(EmoLobesError, match="'ua' is missing in fold 2"):
        aggregate_folds([{"ua": 0.5}, {"wa": 0.5}], keys=("ua",))
    with pytest.raises(EmoLobesError, match="no fold results"):
        aggregate_folds([])


def test_test_results_round_trip_with_predictions(tmp_path):
    metrics = classification_metrics(Y_TRUE, Y_PRED, labels=LABELS)
    predictions = [{"id": f"u{i}", "wav": f"Session1/u{i}.wav", "corpus": "iemocap", "true": t, "pred": p,
                    "probs": np.full(4, 0.25, dtype=np.float32)} for i, (t, p) in enumerate(zip(Y_TRUE, Y_PRED))]
    path = write_test_results(str(tmp_path / "test_results.json"), metrics, predictions,
                              extra={"corpus": "iemocap", "fold": 2})
    results = read_test_results(str(tmp_path))
    for key in ("wa", "ua", "macro_f1", "per_class_recall", "confusion", "labels", "n"):
        assert results[key] == metrics[key]
    assert results["fold"] == 2 and results["corpus"] == "iemocap"
    assert results["predictions"][3] == {"id": "u3", "wav": "Session1/u3.wav", "corpus": "iemocap", "true": "hap",
                                         "pred": "hap", "probs": [0.25] * 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "test_results.json"]  # no temporary file
    # McNemar can be run straight from two stored result files
    truth = [p["true"] for p in results["predictions"]]
    assert mcnemar_exact(truth, [p["pred"] for p in results["predictions"]], truth)["c"] == 4
    assert path.endswith("test_results.json")


def test_test_results_errors(tmp_path):
    metrics = classification_metrics(["a"], ["a"])
    with pytest.raises(EmoLobesError, match="miss wa"):
        write_test_results(str(tmp_path), {k: v for k, v in metrics.items() if k != "wa"})
    with pytest.raises(EmoLobesError, match="extra key 'ua' would overwrite"):
        write_test_results(str(tmp_path), metrics, extra={"ua": 1})
    with pytest.raises(EmoLobesError, match="prediction 0 has no pred"):
        write_test_results(str(tmp_path), metrics, [{"id": "x", "wav": "x.wav", "corpus": "c", "true": "a"}])
    with pytest.raises(EmoLobesError, match="prediction 0 has no wav, corpus. Fix: give each prediction id, wav"):
        write_test_results(str(tmp_path), metrics, [{"id": "x", "true": "a", "pred": "a"}])
    (tmp_path / "broken.json").write_text(json.dumps({"wa": 1.0}))
    with pytest.raises(EmoLobesError, match="misses ua"):
        read_test_results(str(tmp_path / "broken.json"))
    with pytest.raises(EmoLobesError, match="no test results"):
        read_test_results(str(tmp_path / "nothing"))


def test_format_percent():
    assert format_percent(0.47916) == "47.9%"
    assert format_percent(0.5, digits=2) == "50.00%"
    assert format_percent(np.float32(0.25)) == "25.0%"
    assert format_percent(None) == "–"
