"""Tests of the MLEE spectrogram, CNN-BLSTM-attention encoder, dense classifier and the Frozen wrapper."""
import math

import pytest
import torch
from speechbrain.processing.features import InputNormalization

from emo_lobes.lobes.cnn_blstm_attention import ConvBLSTMAttentionEncoder, DenseClassifier, MaskedAttentionPooling
from emo_lobes.lobes.frozen import Frozen
from emo_lobes.lobes.spectrogram import LogPowerSpectrogram

TINY = dict(channels=(4, 4, 4), lstm_size=8, attention_size=8)


def test_spectrogram_grid_is_10_hz_bins_up_to_4_khz():
    spectrogram = LogPowerSpectrogram()
    time = torch.arange(16000) / 16000
    wav = torch.sin(2 * math.pi * 1230.0 * time).unsqueeze(0)
    feats, lens = spectrogram(wav)
    assert feats.shape == (1, 101, 400)  # 1 s at 10 ms shift (centred frames), 400 bins of 10 Hz
    assert int(feats[0, 50].argmax()) == 123  # 1230 Hz -> bin 123
    assert lens.tolist() == [1.0]


def test_spectrogram_of_padded_utterance_equals_spectrogram_alone():
    spectrogram = LogPowerSpectrogram()
    short, long = torch.randn(7777), torch.randn(12000)
    batch = torch.stack([torch.cat([short, torch.zeros(12000 - 7777)]), long])
    feats, lens = spectrogram(batch, torch.tensor([7777 / 12000, 1.0]))
    alone, _ = spectrogram(short.unsqueeze(0))
    frames = int(torch.round(lens[0] * feats.shape[1]))
    assert frames == alone.shape[1] == 7777 // 160 + 1
    assert torch.equal(feats[0, :frames], alone[0])


@pytest.mark.parametrize("frames", [3, 10, 57, 160, 333])
def test_encoder_shapes_on_variable_lengths(frames):
    encoder = ConvBLSTMAttentionEncoder(n_bins=400, **TINY).eval()
    lengths = torch.tensor([1.0, 0.5, 1 / frames])
    embeddings, attention = encoder(torch.randn(3, frames, 400), lengths)
    steps = encoder.output_lengths(torch.round(lengths * frames).long())
    assert embeddings.shape == (3, 16)
    assert attention.shape[0] == 3 and attention.shape[1] == int(steps.max())
    for row, valid in zip(attention, steps.tolist()):
        assert torch.allclose(row[:valid].sum(), torch.tensor(1.0))
        assert torch.all(row[valid:] == 0)
        assert torch.all(row[:valid] > 0)


def test_paper_sized_encoder_reduces_time_by_16_and_feeds_800_features_to_the_blstm():
    encoder = ConvBLSTMAttentionEncoder()
    assert encoder.blstm.input_size == 32 * 25 and encoder.blstm.hidden_size == 128
    assert encoder.frames_per_step == 16 and encoder.output_size == 256
    assert [b.conv.kernel_size for b in encoder.blocks] == [(12, 16), (8, 12), (5, 7)]
    assert [b.conv.stride for b in encoder.blocks] == [(2, 2), (1, 1), (1, 1)]
    assert [b.conv.out_channels for b in encoder.blocks] == [16, 24, 32]
    assert DenseClassifier(256, 64, 4).output.w.out_features == 4


def test_padding_changes_nothing_in_eval_mode():
    torch.manual_seed(0)
    encoder = ConvBLSTMAttentionEncoder(n_bins=40, channels=(4, 6, 8), lstm_size=8, attention_size=8)
    # a few training steps so batch-norm statistics are not the identity
    encoder.train()
    for _ in range(3):
        encoder(torch.randn(4, 90, 40), torch.tensor([1.0, 0.8, 0.6, 0.3]))
    encoder.eval()
    short, long = torch.randn(1, 61, 40), torch.randn(1, 150, 40)
    padded = torch.cat([torch.cat([short, torch.full((1, 89, 40), 7.0)], 1), long])
    emb_batch, att_batch = encoder(padded, torch.tensor([61 / 150, 1.0]))
    emb_alone, att_alone = encoder(short)
    assert torch.allclose(emb_batch[0], emb_alone[0], atol=1e-5)
    steps = att_alone.shape[1]
    assert torch.allclose(att_batch[0, :steps], att_alone[0], atol=1e-6)
    assert torch.all(att_batch[0, steps:] == 0)


def test_attention_pooling_ignores_padded_frames():
    pool = MaskedAttentionPooling(6, 4)
    x = torch.randn(1, 5, 6)
    garbage = torch.cat([x, 1e3 * torch.randn(1, 4, 6)], 1)
    pooled, weights = pool(garbage, torch.tensor([5]))
    alone, _ = pool(x, torch.tensor([5]))
    assert torch.allclose(pooled, alone, atol=1e-6)
    assert torch.all(weights[0, 5:] == 0)


def test_frozen_encoder_stays_identical_while_classifier_trains():
    torch.manual_seed(0)
    normalizer = InputNormalization(norm_type="global")
    encoder = ConvBLSTMAttentionEncoder(n_bins=40, **TINY)
    normalizer(torch.randn(2, 50, 40), torch.ones(2))  # statistics from "pre-training"
    encoder(torch.randn(2, 50, 40))
    frozen_encoder, frozen_normalizer = Frozen(encoder), Frozen(normalizer)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    mean_before = normalizer.glob_mean.clone()
    classifier = DenseClassifier(encoder.output_size, 8, 4)
    model = torch.nn.ModuleDict({"encoder": frozen_encoder, "normalizer": frozen_normalizer, "cls": classifier})
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    cls_before = classifier.output.w.weight.clone()
    for _ in range(3):
        model.train()
        feats = frozen_normalizer(torch.randn(3, 70, 40) * 5 + 2, torch.ones(3), epoch=1)
        embeddings, _ = frozen_encoder(feats)
        loss = torch.nn.functional.cross_entropy(classifier(embeddings), torch.tensor([0, 1, 2]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not encoder.training and not encoder.blocks[0].norm.training
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert torch.equal(normalizer.glob_mean, mean_before)
    assert not torch.equal(classifier.output.w.weight, cls_before)
