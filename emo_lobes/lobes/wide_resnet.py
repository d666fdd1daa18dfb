"""The Wide-ResNet of EmoNet Section 5.2.1 (Fig. 5) with a parallel residual adapter beside every 3x3 convolution.

Padded time frames are zeroed before every convolution and excluded from the shortcut's average pooling and (in
training) from the batch-norm statistics, so an utterance gives the same output alone or padded in a batch, in eval
mode, and in train mode the batch statistics (hence the running statistics eval mode uses) do not depend on how
much of a batch is padding.

Authors: emo-lobes contributors, after Gerczuk et al. (EmoNet, 2021).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from speechbrain.dataio.dataio import length_to_mask

from emo_lobes.lobes.adapters import DomainBatchNorm, ParallelAdapterConv2d


def _time_mask(lengths, n_frames, like):
    """``[batch, 1, n_frames, 1]`` float mask of valid frames from absolute ``lengths`` (None: no mask)."""
    if lengths is None:
        return None
    mask = length_to_mask(lengths, max_len=n_frames, dtype=like.dtype, device=like.device)
    return mask[:, None, :, None]


def _apply_mask(x, mask):
    return x if mask is None else x * mask


class AdapterResidualBlock(nn.Module):
    """Residual block: adapter-conv (stride) -> BN -> ReLU -> adapter-conv -> BN, plus the shortcut, then ReLU.

    When the stride is 2 or the channels grow, the shortcut is 2x2 average pooling with stride 2 (over valid
    frames only) and zero channels concatenated (EmoNet Section 5.2.1), so it has no parameters.

    Arguments
    ---------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels (at least ``in_channels``).
    stride : int
        1 or 2, applied to time and frequency by the first convolution.
    n_domains : int
        Number of domains (adapters and batch norms per layer).
    use_adapters : bool
        False gives a plain residual block (shared convolutions only, batch norms still per domain).
    masked_batch_norm : bool
        True (default): in training, batch statistics are taken over valid (unpadded) frames only. False: over
        every frame, padding included (the behaviour before 2026-12; it makes train-mode outputs and the running
        statistics depend on how much of each batch is padding).

    Example
    -------
    >>> block = AdapterResidualBlock(32, 64, stride=2, n_domains=2)
    >>> out, out_lengths = block(torch.rand(3, 32, 25, 64), torch.tensor([25, 13, 7]), domain=1)
    >>> out.shape, out_lengths.tolist()
    (torch.Size([3, 64, 13, 32]), [13, 7, 4])
    """

    def __init__(self, in_channels, out_channels, stride=1, n_domains=1, use_adapters=True, masked_batch_norm=True):
        super().__init__()
        if out_channels < in_channels or stride not in (1, 2):
            raise ValueError(f"need out_channels >= in_channels and stride 1 or 2, "
                             f"got {in_channels}->{out_channels}, stride {stride}")
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        self.conv1 = ParallelAdapterConv2d(in_channels, out_channels, n_domains, 3, stride, use_adapters)
        self.norm1 = DomainBatchNorm(out_channels, n_domains, masked=masked_batch_norm)
        self.conv2 = ParallelAdapterConv2d(out_channels, out_channels, n_domains, 3, 1, use_adapters)
        self.norm2 = DomainBatchNorm(out_channels, n_domains, masked=masked_batch_norm)

    def shortcut(self, x, mask):
        """Average-pool (over valid frames) when strided and append zero channels when widening."""
        if self.stride == 2:
            if mask is None:
                x = F.avg_pool2d(x, 2, 2, ceil_mode=True)
            else:
                # Both poolings share PyTorch's edge divisor, so the ratio is the mean over valid frames only.
                count = F.avg_pool2d(mask.expand(-1, 1, -1, x.shape[3]), 2, 2, ceil_mode=True)
                x = F.avg_pool2d(x * mask, 2, 2, ceil_mode=True) / count.clamp(min=1e-8)
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x

    def forward(self, x, lengths=None, domain=0):
        """Run the block on ``x`` for ``domain``.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, in_channels, time, freq]``, zero on padded frames.
        lengths : torch.Tensor, optional
            Absolute valid frame counts ``[batch]``; None when nothing is padded.
        domain : int
            Which domain's adapters and batch norms to use.

        Returns
        -------
        out : torch.Tensor
            ``[batch, out_channels, ceil(time / stride), ceil(freq / stride)]``, zero on padded frames.
        out_lengths : torch.Tensor or None
            Valid frame counts at the output resolution.
        """
        mask_in = _time_mask(lengths, x.shape[2], x)
        out = self.conv1(x, domain)
        out_lengths = None
        if lengths is not None:  # ceil(length / stride), as the padded convolutions give
            out_lengths = torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")
        mask_out = _time_mask(out_lengths, out.shape[2], out)
        out = F.relu(self.norm1(out, domain, mask_out))
        out = self.norm2(self.conv2(_apply_mask(out, mask_out), domain), domain, mask_out)
        out = F.relu(out + self.shortcut(x, mask_in))
        return _apply_mask(out, mask_out), out_lengths


class WideResNet(nn.Module):
    """EmoNet's convolutional base: 3x3 stem (32 filters) + BN, three stacks of residual blocks (64, 128, 256
    filters, the first block of each with stride 2), final BN + ReLU; every 3x3 convolution has a parallel
    1x1 adapter per domain and every batch norm is per domain (Section 5.2.1, Fig. 5 and 6).

    Arguments
    ---------
    n_domains : int
        Number of domains (corpora).
    stem_channels : int
        Filters of the first convolution (32 in the paper).
    stack_channels : sequence of int
        Filters of each stack ((64, 128, 256) in the paper).
    blocks_per_stack : int
        Residual blocks per stack (2 in the paper).
    use_adapters : bool
        False gives the plain ResNet (shared convolutions only).
    masked_batch_norm : bool
        Batch statistics over valid frames only in training (True, default), or over padding too (False); see
        :class:`AdapterResidualBlock`.

    Example
    -------
    >>> net = WideResNet(n_domains=2)
    >>> feats = torch.rand(2, 100, 64)   # [batch, time frames, mel bins]
    >>> out, out_lengths = net(feats, torch.tensor([1.0, 0.5]), domain=1)
    >>> out.shape, out_lengths.tolist()
    (torch.Size([2, 256, 13, 8]), [1.0, 0.5384615659713745])
    >>> round(sum(p.numel() for p in net.parameters()) / 1e6, 2)
    3.32
    """

    def __init__(
        self, n_domains=1, stem_channels=32, stack_channels=(64, 128, 256), blocks_per_stack=2, use_adapters=True,
        masked_batch_norm=True,
    ):
        super().__init__()
        self.stem = ParallelAdapterConv2d(1, stem_channels, n_domains, 3, 1, use_adapters)
        self.stem_norm = DomainBatchNorm(stem_channels, n_domains, masked=masked_batch_norm)
        blocks, channels = [], stem_channels
        for width in stack_channels:
            for index in range(blocks_per_stack):
                blocks.append(AdapterResidualBlock(channels, width, 2 if index == 0 else 1, n_domains, use_adapters,
                                                   masked_batch_norm))
                channels = width
        self.blocks = nn.ModuleList(blocks)
        self.final_norm = DomainBatchNorm(channels, n_domains, masked=masked_batch_norm)
        self.out_channels = channels

    def forward(self, x, lengths=None, domain=0):
        """Compute the feature map of a batch of spectrograms for ``domain``.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, time, freq]`` features (e.g. log mel spectrogram).
        lengths : torch.Tensor, optional
            Relative valid lengths ``[batch]`` in (0, 1], SpeechBrain style; None when nothing is padded.
        domain : int
            Which domain's adapters and batch norms to use.

        Returns
        -------
        out : torch.Tensor
            ``[batch, out_channels, time', freq']`` with time and freq divided by 2 per stack (rounded up).
        out_lengths : torch.Tensor or None
            Relative valid lengths at the output resolution (exact frame counts divided by ``time'``).
        """
        x = x.unsqueeze(1)
        abs_lengths = None if lengths is None else torch.round(lengths * x.shape[2]).long().clamp(min=1)
        mask = _time_mask(abs_lengths, x.shape[2], x)
        x = _apply_mask(x, mask)
        out = _apply_mask(self.stem_norm(self.stem(x, domain), domain, mask), mask)
        for block in self.blocks:
            out, abs_lengths = block(out, abs_lengths, domain)
        mask = _time_mask(abs_lengths, out.shape[2], out)
        out = F.relu(self.final_norm(out, domain, mask))
        if abs_lengths is None:
            return out, None
        return _apply_mask(out, mask), abs_lengths.float() / out.shape[2]
