"""2D attention pooling (EmoNet Section 5.2.1, eqs. 1-4, after Zhao et al.): a smoothed-softmax weighted sum over
all time-frequency positions of a CNN feature map, padded frames excluded.

Authors: emo-lobes contributors.
"""
import torch
import torch.nn as nn
from speechbrain.dataio.dataio import length_to_mask


class AttentionPooling2d(nn.Module):
    """Pool a ``[batch, channels, time, freq]`` map to ``[batch, channels]`` with learnt attention.

    The time x frequency positions are flattened into N vectors x_i (eq. 1); each gets a score
    e_i = u^T tanh(W x_i + b) (eq. 2); the weights are the smoothed softmax
    alpha_i = exp(lambda e_i) / sum_k exp(lambda e_k) (eq. 3), taken over valid (unpadded) positions only;
    the output is c = sum_i alpha_i x_i (eq. 4). lambda = 0 is global average pooling, lambda = 1 no smoothing.
    SpeechBrain's AttentiveStatisticsPooling is 1D with statistics, so this 2D form is written here.

    Arguments
    ---------
    channels : int
        Channels of the feature map (256 in the paper).
    attention_size : int
        Units of the tanh projection W and of u (256 in the paper).
    smoothing : float
        lambda of eq. 3 (0.3 in the paper).

    Example
    -------
    >>> pool = AttentionPooling2d(256)
    >>> feature_map = torch.rand(2, 256, 13, 8)
    >>> pool(feature_map, torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 256])
    >>> flat = AttentionPooling2d(4, 8, smoothing=0.0)   # lambda = 0: global average pooling
    >>> x = torch.rand(1, 4, 3, 2)
    >>> torch.allclose(flat(x), x.mean(dim=(2, 3)))
    True
    """

    def __init__(self, channels, attention_size=256, smoothing=0.3):
        super().__init__()
        self.projection = nn.Linear(channels, attention_size)
        self.context = nn.Parameter(torch.empty(attention_size))
        nn.init.normal_(self.context, std=attention_size ** -0.5)
        self.smoothing = smoothing

    def attention_weights(self, x, lengths=None):
        """The weights alpha of eq. 3, ``[batch, time, freq]``, zero on padded frames and summing to 1.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, channels, time, freq]``.
        lengths : torch.Tensor, optional
            Relative valid lengths along time ``[batch]``; None when nothing is padded.

        Returns
        -------
        torch.Tensor
            ``[batch, time, freq]``.
        """
        vectors = x.permute(0, 2, 3, 1)  # [batch, time, freq, channels]: the x_i of eq. 1
        scores = torch.tanh(self.projection(vectors)) @ self.context  # e_i of eq. 2
        scores = self.smoothing * scores
        if lengths is not None:
            n_frames = x.shape[2]
            valid = length_to_mask(torch.round(lengths * n_frames).long().clamp(min=1), n_frames, device=x.device)
            scores = scores.masked_fill(~valid.bool()[:, :, None], float("-inf"))
        weights = torch.softmax(scores.flatten(1), dim=1)
        return weights.view_as(scores)

    def forward(self, x, lengths=None):
        """Attention-weighted sum of the valid positions of ``x`` (eq. 4).

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, channels, time, freq]``.
        lengths : torch.Tensor, optional
            Relative valid lengths along time ``[batch]``; None when nothing is padded.

        Returns
        -------
        torch.Tensor
            ``[batch, channels]``.
        """
        weights = self.attention_weights(x, lengths)
        return torch.einsum("bctf,btf->bc", x, weights)
