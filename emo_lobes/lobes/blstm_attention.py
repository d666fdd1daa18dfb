"""Bi-LSTM + multi-head self-attention encoder of the selective MTL paper (Section 2.1, Fig. 1, Table 2).

Authors: emo-lobes contributors, after Zhang et al. (selective MTL with style, 2021).
"""
import torch
import torch.nn as nn
from speechbrain.nnet.RNN import rnn_init

from emo_lobes.lobes.multihead_attention_pooling import MultiHeadAttentionPooling, relative_to_absolute_lengths


def reverse_within_lengths(sequences, frames):
    """Reverse each sequence's first ``frames[i]`` steps in time; the padding after them stays where it is.

    Arguments
    ---------
    sequences : torch.Tensor
        Shape ``[batch, time, features]``.
    frames : torch.Tensor
        Real length of each sequence, shape ``[batch]`` (long).

    Returns
    -------
    torch.Tensor
        Same shape; applying it twice gives ``sequences`` back.

    Example
    -------
    >>> x = torch.arange(8.0).view(2, 4, 1)
    >>> reverse_within_lengths(x, torch.tensor([4, 2]))[..., 0]
    tensor([[3., 2., 1., 0.],
            [5., 4., 6., 7.]])
    """
    batch, time = sequences.shape[:2]
    steps = torch.arange(time, device=sequences.device).unsqueeze(0).expand(batch, time)
    source = frames.to(sequences.device).unsqueeze(1) - 1 - steps
    source = torch.where(source >= 0, source, steps)
    return sequences.gather(1, source.unsqueeze(-1).expand_as(sequences))


class BLSTMAttentionEncoder(nn.Module):
    """Frames -> Bi-LSTM -> multi-head attention pooling -> FC + ReLU layers: the representation both heads share.

    Padding is handled exactly: the backward direction of each Bi-LSTM layer reads every utterance from its
    last real frame (not from the padding) and the attention gives padded frames zero weight, so zero-padding
    an utterance to a longer length (e.g. 7.5 s, as in the paper) leaves its representation unchanged.

    Arguments
    ---------
    input_size : int
        Feature channels per frame (40 log mel filterbanks in Section 4.1).
    lstm_size : int
        Cells per direction (d_LSTM = 256, Table 2).
    lstm_layers : int
        Stacked Bi-LSTM layers (2 by default; Fig. 1).
    dropout : float
        Dropout on the output of every Bi-LSTM layer (0.2, Section 4.2).
    attention_size : int
        d_Att of each attention head (512, Table 2).
    attention_heads : int
        n_Head (8, Table 2).
    dense_sizes : sequence of int
        Sizes of the FC + ReLU layers after pooling (d_Den1 = 4096, d_Den2 = 1024, Table 2).

    Example
    -------
    >>> encoder = BLSTMAttentionEncoder(input_size=40, lstm_size=8, attention_size=6, attention_heads=2,
    ...                                 dense_sizes=(16, 12))
    >>> features = torch.rand(3, 50, 40)
    >>> encoder(features, torch.tensor([1.0, 0.8, 0.3])).shape
    torch.Size([3, 12])
    >>> encoder.output_size
    12
    """

    def __init__(
        self,
        input_size=40,
        lstm_size=256,
        lstm_layers=2,
        dropout=0.2,
        attention_size=512,
        attention_heads=8,
        dense_sizes=(4096, 1024),
    ):
        super().__init__()
        # One forward and one backward LSTM per layer, run on padded tensors: torch's packed-sequence backward pass
        # is ~20x slower on CPU, and reversing each sequence within its length keeps the backward direction exact.
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        size = input_size
        for _ in range(lstm_layers):
            for layers in (self.forward_layers, self.backward_layers):
                lstm = nn.LSTM(input_size=size, hidden_size=lstm_size, batch_first=True)
                rnn_init(lstm)
                layers.append(lstm)
            size = 2 * lstm_size
        self.lstm_dropout = nn.Dropout(dropout)
        self.pooling = MultiHeadAttentionPooling(2 * lstm_size, attention_size, attention_heads)
        layers = []
        size = attention_heads * 2 * lstm_size
        for dense_size in dense_sizes:
            layers += [nn.Linear(size, dense_size), nn.ReLU()]
            size = dense_size
        self.dense = nn.Sequential(*layers)
        self.output_size = size

    def pooled(self, features, lengths=None):
        """The attention-pooled Bi-LSTM outputs (eq. 2), before the FC layers: the utterance embedding.

        Arguments
        ---------
        features : torch.Tensor
            Shape ``[batch, time, input_size]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[batch]``; ``None`` means no padding.

        Returns
        -------
        torch.Tensor
            Shape ``[batch, attention_heads * 2 * lstm_size]``; ``self.dense`` of it is :meth:`forward`'s output.

        Example
        -------
        >>> encoder = BLSTMAttentionEncoder(input_size=4, lstm_size=3, attention_size=2, attention_heads=2,
        ...                                 dense_sizes=(5,)).eval()
        >>> features = torch.rand(2, 7, 4)
        >>> embedding = encoder.pooled(features)
        >>> embedding.shape, torch.equal(encoder.dense(embedding), encoder(features))
        (torch.Size([2, 12]), True)
        """
        batch, time, _ = features.shape
        if lengths is None:
            lengths = torch.ones(batch, device=features.device)
        frames = relative_to_absolute_lengths(lengths, time)
        hidden = features
        for forward_lstm, backward_lstm in zip(self.forward_layers, self.backward_layers):
            ahead, _ = forward_lstm(hidden)
            behind, _ = backward_lstm(reverse_within_lengths(hidden, frames))
            hidden = self.lstm_dropout(torch.cat([ahead, reverse_within_lengths(behind, frames)], dim=-1))
        return self.pooling(hidden, lengths)

    def forward(self, features, lengths=None):
        """Encode a padded batch of feature sequences.

        Arguments
        ---------
        features : torch.Tensor
            Shape ``[batch, time, input_size]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[batch]``; ``None`` means no padding.

        Returns
        -------
        torch.Tensor
            Shape ``[batch, output_size]``.
        """
        return self.dense(self.pooled(features, lengths))
