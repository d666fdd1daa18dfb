"""Tests of the EmoNet lobes: parallel adapters, the adapter Wide-ResNet, 2D attention pooling and the full model."""
import pytest
import torch

from emo_lobes.lobes.adapters import (
    ParallelAdapterConv2d,
    domain_parameter_names,
    freeze_shared_parameters,
    load_shared_state_dict,
    parameter_counts,
    shared_parameter_names,
    shared_state_dict,
)
from emo_lobes.lobes.attention_pooling_2d import AttentionPooling2d
from emo_lobes.lobes.emonet import EmoNet
from emo_lobes.lobes.wide_resnet import WideResNet

SMALL = dict(stem_channels=4, stack_channels=(8, 8, 16), attention_size=8, head_hidden_size=8)


@pytest.mark.parametrize("stride", [1, 2])
def test_zeroed_adapter_equals_plain_shared_conv(stride):
    torch.manual_seed(0)
    adapted = ParallelAdapterConv2d(3, 6, n_domains=2, stride=stride)
    plain = torch.nn.Conv2d(3, 6, 3, stride=stride, padding=1, bias=False)
    plain.weight.data.copy_(adapted.shared.weight.data)
    x = torch.randn(2, 3, 9, 10)
    assert not torch.allclose(adapted(x, domain=1), plain(x))  # the adapter contributes while non-zero
    torch.nn.init.zeros_(adapted.adapters[1].weight)
    assert torch.equal(adapted(x, domain=1), plain(x))
    assert not torch.allclose(adapted(x, domain=0), plain(x))  # domain 0's adapter is untouched


def test_adapter_is_one_by_one_with_same_stride_and_filters():
    conv = ParallelAdapterConv2d(5, 7, n_domains=3, stride=2)
    for adapter in conv.adapters:
        assert adapter.kernel_size == (1, 1) and adapter.stride == (2, 2) and adapter.out_channels == 7
    assert ParallelAdapterConv2d(5, 7, use_adapters=False).adapters is None


def test_attention_padding_changes_nothing():
    torch.manual_seed(0)
    pool = AttentionPooling2d(6, attention_size=5, smoothing=0.3)
    short = torch.randn(1, 6, 4, 3)
    padded = torch.cat([short, 100 * torch.randn(1, 6, 5, 3)], dim=2)  # 9 frames, the last 5 are garbage
    alone = pool(short)
    in_batch = pool(padded, torch.tensor([4 / 9]))
    assert torch.allclose(alone, in_batch, atol=1e-6)
    weights = pool.attention_weights(padded, torch.tensor([4 / 9]))
    assert torch.all(weights[:, 4:] == 0) and torch.allclose(weights.sum(), torch.tensor(1.0))


def test_attention_smoothing_enters_as_lambda_times_scores():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 4, 3)
    sharp = AttentionPooling2d(6, 5, smoothing=1.0)
    smooth = AttentionPooling2d(6, 5, smoothing=0.3)
    smooth.load_state_dict(sharp.state_dict())
    scores = torch.tanh(sharp.projection(x.permute(0, 2, 3, 1))) @ sharp.context
    expected = torch.softmax(0.3 * scores.flatten(1), dim=1).view_as(scores)
    assert torch.allclose(smooth.attention_weights(x), expected, atol=1e-6)


def test_model_output_does_not_depend_on_padding():
    torch.manual_seed(0)
    model = EmoNet([3, 5], **SMALL).eval()
    long, short = torch.randn(1, 37, 16), torch.randn(1, 21, 16)
    padded = torch.cat([short, torch.randn(1, 16, 16)], dim=1)  # padding filled with non-zero junk
    batch = torch.cat([long, padded])
    with torch.no_grad():
        batched = model(batch, torch.tensor([1.0, 21 / 37]), domain=1)
        assert torch.allclose(batched[1], model(short, domain=1)[0], atol=1e-5)
        assert torch.allclose(batched[0], model(long, domain=1)[0], atol=1e-5)


def test_resnet_downsamples_by_eight_with_256_channels():
    out, lengths = WideResNet()(torch.randn(2, 40, 64), torch.tensor([1.0, 0.3]))
    assert out.shape == (2, 256, 5, 8)
    assert lengths.tolist() == pytest.approx([1.0, 2 / 5])  # 12 frames -> 6 -> 3 -> 2


def test_parameter_counts_match_paper_order_of_magnitude():
    counts = parameter_counts(EmoNet([4]))
    assert 2e6 < counts["total"] < 4e6  # paper: about 3 M
    assert 2e5 < counts["per_domain"][0] < 5e5  # paper: about 300 k per domain
    assert counts["shared"] + sum(counts["per_domain"]) == counts["total"]


def test_domain_and_shared_parameters_partition_the_model():
    model = EmoNet([2, 3, 4], **SMALL)
    shared = set(shared_parameter_names(model))
    per_domain = [set(domain_parameter_names(model, d)) for d in range(3)]
    assert not shared & set().union(*per_domain)
    assert not per_domain[0] & per_domain[1]
    assert shared | set().union(*per_domain) == {name for name, _ in model.named_parameters()}
    assert all(".adapters." in n or ".norms." in n or n.startswith("heads.") for n in per_domain[2])
    assert "attention.context" in shared and "resnet.stem.shared.weight" in shared


def test_freeze_and_transfer_shared_parameters():
    torch.manual_seed(0)
    source, target = EmoNet([4, 2], **SMALL), EmoNet([6], **SMALL)
    assert load_shared_state_dict(target, shared_state_dict(source)) == []
    trainable = freeze_shared_parameters(target)
    assert trainable == parameter_counts(target)["per_domain"][0]
    before = shared_state_dict(target)
    optimizer = torch.optim.SGD([p for p in target.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    for _ in range(2):
        loss = target(torch.randn(4, 24, 16)).logsumexp(dim=1).sum() - target(torch.randn(4, 24, 16))[:, 0].sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(torch.equal(before[name], value) for name, value in shared_state_dict(target).items())
    assert load_shared_state_dict(EmoNet([6], **{**SMALL, "stem_channels": 8}), before)  # shape mismatch listed
