"""Tests of MLEE existence vectors (eq. 5), soft targets (eq. 4), the weighted losses (eqs. 2, 6) and eq. 7."""
import math

import pytest
import torch

from emo_lobes.lobes.existence import (
    annotator_counts, existence_bce_loss, existence_class_weights, existence_ratios, existence_vector,
    predict_from_existence, soft_class_weights, soft_target, weighted_soft_cross_entropy,
)

# Hand-written IEMOCAP-style panels: evaluator -> category words as the parser keeps them.
PANELS = {
    "unanimous_sad": {"C-E1": ["Sadness"], "C-E2": ["Sadness"], "C-E3": ["Sadness"]},
    "neu_with_minor_sad": {"C-E1": ["Neutral"], "C-E2": ["Neutral"], "C-E4": ["Sadness", "Frustration"]},
    "no_target": {"C-E1": ["Frustration"], "C-E3": ["Excited"], "C-E5": ["Other"]},
    "split_hap_ang": {"C-E1": ["Happiness", "Anger"], "C-E2": ["Anger"], "C-E3": ["Excited"], "C-E6": ["Neutral"]},
}


@pytest.mark.parametrize("panel, counts, existence", [
    ("unanimous_sad", [0, 0, 3, 0], [0, 0, 1, 0]),
    ("neu_with_minor_sad", [2, 0, 1, 0], [1, 0, 1, 0]),
    ("no_target", [0, 0, 0, 0], [0, 0, 0, 0]),
    ("split_hap_ang", [1, 1, 0, 2], [1, 1, 0, 1]),
])
def test_counts_and_existence_from_annotator_lists(panel, counts, existence):
    assert annotator_counts(PANELS[panel]) == counts
    assert existence_vector(PANELS[panel]) == existence


def test_an_annotator_counts_once_per_class_and_spelling_variants_count():
    panel = {"C-E1": ["Anger", "Anger"], "C-E2": ["Neutral state"], "C-E3": ["Other:bored"]}
    assert annotator_counts(panel) == [1, 0, 0, 1]


def test_self_evaluations_add_existence_only_when_merged():
    evaluators = {"C-E1": ["Neutral"], "C-E2": ["Neutral"]}
    self_evaluation = {"C-F1": ["Happiness"]}
    assert existence_vector(evaluators) == [1, 0, 0, 0]
    assert existence_vector({**evaluators, **self_evaluation}) == [1, 1, 0, 0]


def test_soft_targets_follow_eq4_with_alpha_075():
    # neu 2, sad 1: (0.75 + n_k) / (4 * 0.75 + 3)
    q = soft_target(PANELS["neu_with_minor_sad"])
    assert q == pytest.approx([2.75 / 6, 0.75 / 6, 1.75 / 6, 0.75 / 6])
    assert sum(q) == pytest.approx(1.0)
    assert soft_target(PANELS["no_target"]) == pytest.approx([0.25] * 4)
    assert soft_target(PANELS["unanimous_sad"], alpha=0.0) == pytest.approx([0, 0, 1, 0])
    # split panel: hap 1, ang 2, neu 1 -> denominator 3 + 4
    assert soft_target(PANELS["split_hap_ang"]) == pytest.approx([1.75 / 7, 1.75 / 7, 0.75 / 7, 2.75 / 7])


def test_existence_weights_balance_each_class():
    existence = torch.tensor([existence_vector(p) for p in PANELS.values()])
    positive, negative = existence_class_weights(existence)
    # neu exists in 2/4 -> both 1; hap 1/4 -> 2 and 2/3; sad 2/4; ang 1/4
    assert positive.tolist() == pytest.approx([1.0, 2.0, 1.0, 2.0])
    assert negative.tolist() == pytest.approx([1.0, 2 / 3, 1.0, 2 / 3])
    total_pos = positive * existence.sum(0)
    total_neg = negative * (4 - existence.sum(0))
    assert torch.allclose(total_pos, total_neg)


def test_weighted_bce_matches_eq6_written_out():
    torch.manual_seed(0)
    logits = torch.randn(3, 4)
    existence = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.float)
    positive, negative = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0.5, 0.25, 1.0, 2.0])
    expected = 0.0
    for row in range(3):
        for k in range(4):
            p = 1 / (1 + math.exp(-logits[row, k].item()))
            q = existence[row, k].item()
            weight = positive[k] if q else negative[k]
            expected += -weight.item() * (q * math.log(p) + (1 - q) * math.log(1 - p))
    assert existence_bce_loss(logits, existence, positive, negative).item() == pytest.approx(expected / 3, rel=1e-5)


def test_weighted_soft_cross_entropy_matches_eq2_written_out():
    logits = torch.tensor([[1.0, 0.0, -1.0, 0.5], [0.0, 2.0, 0.0, 0.0]])
    targets = torch.tensor([soft_target(PANELS["neu_with_minor_sad"]), [0.0, 1.0, 0.0, 0.0]])
    weights = torch.tensor([0.5, 2.0, 1.0, 1.5])
    log_p = torch.log_softmax(logits, dim=1)
    expected = -(weights * targets * log_p).sum(1).mean()
    assert weighted_soft_cross_entropy(logits, targets, weights).item() == pytest.approx(expected.item(), rel=1e-6)


def test_class_weights_inverse_to_frequency():
    hard = torch.nn.functional.one_hot(torch.tensor([0, 0, 0, 1, 2, 2]), 4).float()
    weights = soft_class_weights(hard)
    assert weights[3] == 0  # absent class
    assert weights[1] / weights[0] == pytest.approx(3.0)
    assert weights[:3].mean() == pytest.approx(1.0)


def test_prediction_is_argmax_existence_and_ratios_are_percent():
    logits = torch.tensor([[-3.0, -2.0, -1.0, -4.0], [5.0, 6.0, 1.0, 0.0]])
    assert predict_from_existence(logits).tolist() == [2, 1]
    existence = [existence_vector(p) for p in PANELS.values()]
    assert existence_ratios(existence) == [50.0, 25.0, 50.0, 25.0]
