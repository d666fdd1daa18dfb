"""Tests of the multi-head attention pooling (eqs. 1-2 of the selective MTL paper) and the Bi-LSTM-attention encoder."""
import torch

from emo_lobes.lobes.blstm_attention import BLSTMAttentionEncoder, reverse_within_lengths
from emo_lobes.lobes.multihead_attention_pooling import MultiHeadAttentionPooling


def test_pooling_matches_equations_1_and_2():
    torch.manual_seed(0)
    pool = MultiHeadAttentionPooling(input_size=6, attention_size=5, num_heads=3)
    hidden = torch.randn(2, 7, 6)
    pooled, weights = pool(hidden, return_weights=True)
    for head in range(3):
        w1 = pool.projection.weight[head * 5:(head + 1) * 5]  # W1_i: [attention_size, input_size]
        w2 = pool.head_vectors[head]                          # w2_i: [attention_size]
        for utt in range(2):
            a_i = torch.softmax(w2 @ torch.tanh(w1 @ hidden[utt].T), dim=-1)  # eq. 1
            assert torch.allclose(weights[utt, head], a_i, atol=1e-6)
            assert torch.allclose(pooled[utt, head * 6:(head + 1) * 6], a_i @ hidden[utt], atol=1e-6)  # eq. 2


def test_pooling_shapes_and_distinct_heads():
    torch.manual_seed(1)
    pool = MultiHeadAttentionPooling(input_size=512, attention_size=512, num_heads=8)
    pooled, weights = pool(torch.randn(4, 30, 512), torch.tensor([1.0, 0.5, 0.9, 0.1]), return_weights=True)
    assert pooled.shape == (4, 8 * 512) and weights.shape == (4, 8, 30)
    assert not torch.allclose(weights[0, 0], weights[0, 1])  # heads attend differently


def test_pooling_ignores_padding():
    torch.manual_seed(2)
    pool = MultiHeadAttentionPooling(input_size=4, attention_size=6, num_heads=2)
    utterance = torch.randn(1, 5, 4)
    alone = pool(utterance)
    padded = torch.cat([utterance, 100 * torch.randn(1, 4, 4)], dim=1)  # 4 frames of garbage padding
    batch = torch.cat([padded, torch.randn(1, 9, 4)], dim=0)
    pooled, weights = pool(batch, torch.tensor([5 / 9, 1.0]), return_weights=True)
    assert torch.allclose(pooled[0], alone[0], atol=1e-6)
    assert weights[0, :, 5:].abs().max() == 0.0
    # Without the mask the garbage would change the result: the test is not vacuous.
    assert not torch.allclose(pool(padded)[0], alone[0], atol=1e-3)


def test_backward_direction_reads_from_the_last_real_frame():
    torch.manual_seed(4)
    encoder = BLSTMAttentionEncoder(input_size=3, lstm_size=5, lstm_layers=1, attention_size=4, attention_heads=1,
                                    dense_sizes=()).eval()
    reference = torch.nn.LSTM(3, 5, batch_first=True, bidirectional=True)
    with torch.no_grad():  # copy the two directions into one torch Bi-LSTM
        for suffix, lstm in (("", encoder.forward_layers[0]), ("_reverse", encoder.backward_layers[0])):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(reference, f"{name}_l0{suffix}").copy_(getattr(lstm, f"{name}_l0"))
    features = torch.randn(1, 6, 3)
    expected, _ = reference(features)
    frames = torch.tensor([6])
    ahead, _ = encoder.forward_layers[0](features)
    behind, _ = encoder.backward_layers[0](reverse_within_lengths(features, frames))
    assert torch.allclose(torch.cat([ahead, reverse_within_lengths(behind, frames)], dim=-1), expected, atol=1e-6)


def test_encoder_output_independent_of_padding_and_batch():
    torch.manual_seed(3)
    encoder = BLSTMAttentionEncoder(input_size=40, lstm_size=8, lstm_layers=2, attention_size=8,
                                    attention_heads=2, dense_sizes=(16, 12)).eval()
    utterance = torch.randn(1, 20, 40)
    alone = encoder(utterance)
    other = torch.randn(1, 50, 40)
    padded = torch.cat([utterance, torch.randn(1, 30, 40)], dim=1)  # e.g. zero-padding to 7.5 s, but noisier
    both = encoder(torch.cat([padded, other], dim=0), torch.tensor([20 / 50, 1.0]))
    assert both.shape == (2, 12)
    assert torch.allclose(both[0], alone[0], atol=1e-5)
    assert torch.allclose(both[1], encoder(other)[0], atol=1e-5)


def test_encoder_paper_sizes_and_gradients():
    encoder = BLSTMAttentionEncoder()  # Table 2: 256 cells, 512 attention, 8 heads, FC 4096 and 1024
    assert encoder.output_size == 1024
    assert len(encoder.forward_layers) == len(encoder.backward_layers) == 2 and encoder.lstm_dropout.p == 0.2
    assert all(lstm.hidden_size == 256 for lstm in [*encoder.forward_layers, *encoder.backward_layers])
    assert encoder.forward_layers[1].input_size == 512  # layer 2 reads both directions of layer 1
    directions = [*encoder.forward_layers, *encoder.backward_layers]
    lstm_parameters = sum(p.numel() for m in directions for p in m.parameters())
    assert lstm_parameters == sum(p.numel() for p in torch.nn.LSTM(40, 256, 2, bidirectional=True).parameters())
    assert encoder.pooling.num_heads == 8 and encoder.pooling.attention_size == 512
    assert [m.out_features for m in encoder.dense if isinstance(m, torch.nn.Linear)] == [4096, 1024]
    small = BLSTMAttentionEncoder(input_size=40, lstm_size=4, attention_size=4, attention_heads=2, dense_sizes=(8,))
    out = small(torch.randn(3, 10, 40), torch.tensor([1.0, 0.7, 0.2]))
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in small.parameters())
    assert (out >= 0).all()  # ReLU after the last FC layer
