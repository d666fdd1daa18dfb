"""The full EmoNet model (Section 5.2.1, Fig. 5): adapter Wide-ResNet, 2D attention pooling, one head per domain.

Authors: emo-lobes contributors.
"""
import torch
import torch.nn as nn

from emo_lobes.lobes.adapters import DomainModules
from emo_lobes.lobes.attention_pooling_2d import AttentionPooling2d
from emo_lobes.lobes.classifier_head import ClassifierHead
from emo_lobes.lobes.wide_resnet import WideResNet


class EmoNet(nn.Module):
    """Log mel spectrogram -> adapter Wide-ResNet -> 2D attention -> the domain's classifier head.

    Shared across domains: the 3x3 convolutions and (by default, as in the paper's multi-domain runs) the 2D
    attention. Per domain: the 1x1 adapters, every batch norm and the classifier head. With one domain and all
    parameters trained it is the paper's "ResNet from scratch" (Section 4.3).

    Arguments
    ---------
    n_classes : sequence of int
        Classes of each domain (corpus), domain 0 first.
    stem_channels, stack_channels, blocks_per_stack, use_adapters
        See :class:`~emo_lobes.lobes.wide_resnet.WideResNet`.
    attention_size : int
        Units of the attention projection (256).
    smoothing : float
        Softmax smoothing lambda of the attention (0.3).
    shared_attention : bool
        One attention for all domains (True) or one per domain.
    head_hidden_size : int
        Units of each head's fully connected layer.
    dropout : float
        Dropout of each head.
    masked_batch_norm : bool
        Batch statistics of the Wide-ResNet over valid frames only in training (True, default); False counts
        padded frames too (see :class:`~emo_lobes.lobes.wide_resnet.WideResNet`).

    Example
    -------
    >>> model = EmoNet(n_classes=[4, 7])
    >>> log_probs = model(torch.rand(3, 120, 64), torch.tensor([1.0, 0.8, 0.4]), domain=1)
    >>> log_probs.shape
    torch.Size([3, 7])
    >>> model.embed(torch.rand(3, 120, 64), torch.tensor([1.0, 0.8, 0.4]), domain=1).shape  # pooled, eq. 4
    torch.Size([3, 256])
    >>> from emo_lobes.lobes.adapters import parameter_counts
    >>> parameter_counts(model)   # paper: about 3 M in total for one corpus, about 300 k of them per corpus
    {'total': 3454059, 'shared': 2775840, 'per_domain': [338916, 339303]}
    """

    def __init__(
        self,
        n_classes,
        stem_channels=32,
        stack_channels=(64, 128, 256),
        blocks_per_stack=2,
        use_adapters=True,
        attention_size=256,
        smoothing=0.3,
        shared_attention=True,
        head_hidden_size=128,
        dropout=0.2,
        masked_batch_norm=True,
    ):
        super().__init__()
        n_domains = len(n_classes)
        self.n_classes = list(n_classes)
        self.resnet = WideResNet(n_domains, stem_channels, tuple(stack_channels), blocks_per_stack, use_adapters,
                                 masked_batch_norm)
        channels = self.resnet.out_channels
        if shared_attention:
            self.attention = AttentionPooling2d(channels, attention_size, smoothing)
        else:
            self.attention = DomainModules(AttentionPooling2d(channels, attention_size, smoothing) for _ in n_classes)
        self.heads = DomainModules(ClassifierHead(channels, n, head_hidden_size, dropout) for n in n_classes)

    def embed(self, feats, lengths=None, domain=0):
        """The pooled embedding c of eq. 4, ``[batch, channels]``, of ``feats`` ``[batch, time, freq]``."""
        feature_map, map_lengths = self.resnet(feats, lengths, domain)
        attention = self.attention[domain] if isinstance(self.attention, DomainModules) else self.attention
        return attention(feature_map, map_lengths)

    def forward(self, feats, lengths=None, domain=0):
        """Log class probabilities of ``domain``'s classes.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, time, freq]`` log mel spectrogram.
        lengths : torch.Tensor, optional
            Relative valid lengths ``[batch]``; None when nothing is padded.
        domain : int
            Which domain's adapters, batch norms and head to use.

        Returns
        -------
        torch.Tensor
            ``[batch, n_classes[domain]]`` log probabilities.
        """
        return self.heads[domain](self.embed(feats, lengths, domain))
