"""Structured multi-head self-attention pooling (selective MTL paper, eqs. 1-2): per-head weighted means, concatenated.

Authors: emo-lobes contributors, after Lin et al. (2017, structured self-attentive embedding) and
Zhang et al. (selective MTL with style, 2021, Section 2.1).
"""
import torch
import torch.nn as nn
from speechbrain.dataio.dataio import length_to_mask


def relative_to_absolute_lengths(lengths, max_len):
    """Relative SpeechBrain lengths (longest = 1.0) to frame counts, rounded, at least 1 and at most ``max_len``.

    Arguments
    ---------
    lengths : torch.Tensor
        Shape ``[batch]``, values in (0, 1].
    max_len : int
        Number of frames of the padded tensor.

    Returns
    -------
    torch.Tensor
        Shape ``[batch]``, dtype long.

    Example
    -------
    >>> relative_to_absolute_lengths(torch.tensor([1.0, 0.5, 0.001]), 10)
    tensor([10,  5,  1])
    """
    return torch.round(lengths * max_len).long().clamp(min=1, max=max_len)


class MultiHeadAttentionPooling(nn.Module):
    """Pool a sequence ``H`` ([batch, time, features]) into ``num_heads`` attention-weighted means, concatenated.

    Head ``i`` computes ``a_i = softmax_t(w2_i . tanh(W1_i H^T))`` (eq. 1) and returns ``a_i H``; the output is
    ``Concatenate(a_1 H, ..., a_n H)`` (eq. 2). Padded frames (beyond ``lengths``) get zero weight, so the
    output does not depend on how much padding follows an utterance.

    SpeechBrain's ``AttentionPooling`` has one head and no padding mask, hence this module.

    Arguments
    ---------
    input_size : int
        Feature size of ``H`` (512 for a Bi-LSTM with 256 cells per direction).
    attention_size : int
        Rows of each ``W1_i`` (d_Att = 512 in Table 2).
    num_heads : int
        Number of heads (n_Head = 8 in Table 2).

    Example
    -------
    >>> pool = MultiHeadAttentionPooling(input_size=6, attention_size=4, num_heads=3)
    >>> hidden = torch.rand(2, 5, 6)
    >>> pooled, weights = pool(hidden, torch.tensor([1.0, 0.6]), return_weights=True)
    >>> pooled.shape, weights.shape
    (torch.Size([2, 18]), torch.Size([2, 3, 5]))
    >>> torch.allclose(weights.sum(dim=-1), torch.ones(2, 3))
    True
    >>> weights[1, :, 3:].abs().max().item()  # the last 2 of 5 frames are padding for utterance 2
    0.0
    """

    def __init__(self, input_size, attention_size=512, num_heads=8):
        super().__init__()
        self.input_size = input_size
        self.attention_size = attention_size
        self.num_heads = num_heads
        # W1_i of all heads stacked: one matmul computes tanh(W1_i H^T) for every head at once.
        self.projection = nn.Linear(input_size, num_heads * attention_size, bias=False)
        # w2_i of all heads: one attention_size vector per head.
        self.head_vectors = nn.Parameter(torch.empty(num_heads, attention_size))
        nn.init.xavier_uniform_(self.head_vectors)

    def forward(self, hidden, lengths=None, return_weights=False):
        """Attention-pool ``hidden``.

        Arguments
        ---------
        hidden : torch.Tensor
            Shape ``[batch, time, input_size]``.
        lengths : torch.Tensor, optional
            Relative lengths ``[batch]`` (SpeechBrain convention); ``None`` means no padding.
        return_weights : bool
            Also return the attention weights.

        Returns
        -------
        pooled : torch.Tensor
            Shape ``[batch, num_heads * input_size]``, head 1 first.
        weights : torch.Tensor
            Shape ``[batch, num_heads, time]`` (only with ``return_weights``); zero on padded frames.
        """
        batch, time, _ = hidden.shape
        energies = torch.tanh(self.projection(hidden)).view(batch, time, self.num_heads, self.attention_size)
        scores = torch.einsum("btha,ha->bht", energies, self.head_vectors)
        if lengths is not None:
            frames = relative_to_absolute_lengths(lengths, time)
            mask = length_to_mask(frames, max_len=time, dtype=torch.bool, device=hidden.device)
            scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        pooled = torch.bmm(weights, hidden).reshape(batch, self.num_heads * self.input_size)
        if return_weights:
            return pooled, weights
        return pooled
