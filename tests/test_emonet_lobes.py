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


def test_train_mode_batch_norm_statistics_do_not_depend_on_padding():
    # Padded frames must not enter the batch-norm statistics in training: with them, train-mode outputs and the
    # running statistics that eval mode uses depend on how much of each batch is padding (EmoNet's dev loss blew up
    # on real speech, whose batches are part padding, while evaluation never sees that padding).
    torch.manual_seed(0)
    model = EmoNet([3], **SMALL)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    feats = torch.randn(3, 37, 16) * 4 - 6   # log-mel-like: far from zero mean
    lengths = torch.tensor([1.0, 29 / 37, 21 / 37])
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    tight = model(feats, lengths)
    tight_stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    model.load_state_dict(state)
    padded = torch.cat([feats, torch.zeros(3, 40, 16)], dim=1)  # the same batch padded to 77 frames
    loose = model(padded, lengths * 37 / 77)
    loose_stats = {k: v for k, v in model.state_dict().items() if "running" in k}
    assert torch.allclose(tight, loose, atol=1e-4)
    for key, value in tight_stats.items():
        assert torch.allclose(value, loose_stats[key], rtol=1e-4, atol=1e-5), key
    model.eval()   # and the statistics eval mode uses are those of the valid frames
    with torch.no_grad():
        assert torch.allclose(model(feats[2:, :21]), model(padded, lengths * 37 / 77)[2:], atol=1e-4)


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


def test_precise_bn_makes_eval_mode_match_train_mode_after_a_short_lr_0_1_fit():
    # EmoNet's blow-up: after a few lr-0.1 SGD steps the exponential running statistics lag far behind the weights,
    # so eval mode scores the training set itself much worse than train mode. Recomputing them with the final
    # weights (precise BN, what train.py does at each epoch end) must close that gap.
    from emo_lobes.lobes.adapters import DomainBatchNorm  # noqa: F401  (the model's batch norms)
    from emo_lobes.training.precise_bn import recompute_batch_norm_statistics

    torch.manual_seed(0)
    model = EmoNet([3], **SMALL)
    labels = torch.arange(48) % 3
    feats = torch.randn(48, 30, 16) + labels[:, None, None] * 0.7 - 6   # log-mel-like offset, class shift
    lengths = torch.ones(48)
    lengths[::3] = 20 / 30   # some padding
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    batches = [slice(0, 16), slice(16, 32), slice(32, 48)]
    model.train()
    for _ in range(2):   # 6 steps, as one EmoNet epoch on a few hundred clips
        for part in batches:
            optimiser.zero_grad()
            torch.nn.functional.nll_loss(model(feats[part], lengths[part]), labels[part]).backward()
            optimiser.step()

    def losses():
        state = {k: v.clone() for k, v in model.state_dict().items()}
        model.train()
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.eval()
        with torch.no_grad():
            train_mode = sum(float(torch.nn.functional.nll_loss(model(feats[p], lengths[p]), labels[p]))
                             for p in batches) / 3
            model.load_state_dict(state)
            model.eval()
            eval_mode = sum(float(torch.nn.functional.nll_loss(model(feats[p], lengths[p]), labels[p]))
                            for p in batches) / 3
        return train_mode, eval_mode

    train_mode, stale = losses()
    assert recompute_batch_norm_statistics(model, batches, lambda p: model(feats[p], lengths[p])) == 3
    train_mode_after, precise = losses()
    assert train_mode_after == pytest.approx(train_mode)   # only the running statistics changed
    assert abs(precise - train_mode) < 0.25 * train_mode + 0.05, (train_mode, stale, precise)
    assert stale > precise   # the exponential running statistics were the worse estimate
