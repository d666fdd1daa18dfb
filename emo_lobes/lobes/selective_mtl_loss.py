"""Joint SER + style loss (selective MTL paper, eq. 3), optionally selective: no style loss for neutral samples.

Authors: emo-lobes contributors, after Zhang et al. (selective MTL with style, 2021, Sections 2.2-2.3).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SelectiveMTLLoss(nn.Module):
    """``L = lambda * L_SER + (1 - lambda) * L_style`` per sample, averaged over the batch (eq. 3).

    Both terms are cross-entropies. For samples whose emotion is in ``style_free_classes`` (the neutral
    class in selective MTL, Section 2.3) the style loss is not computed and ``lambda`` is 1, so such samples
    add ``L_SER`` only and send no gradient to the style head. With ``style_free_classes`` empty this is the
    standard MTL loss; without style logits (or with ``ser_weight=1``) it is plain cross-entropy.

    Arguments
    ---------
    ser_weight : float
        lambda, the weight of the SER loss, in [0, 1] (0.8 in Section 4.2; 0.1-0.9 in Table 2).
    style_free_classes : sequence of int
        Emotion indices whose samples skip the style loss (the neutral index for selective MTL).

    Example
    -------
    >>> loss = SelectiveMTLLoss(ser_weight=0.8, style_free_classes=[0])
    >>> emotion_logits, style_logits = torch.zeros(4, 4), torch.zeros(4, 2)
    >>> emotions, styles = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 0, 1, 1])
    >>> round(loss(emotion_logits, emotions, style_logits, styles).item(), 3)  # (ln 4 * 3.6 + ln 2 * 0.4) / 4
    1.317
    >>> loss.sample_weights(emotions)
    tensor([1.0000, 0.8000, 0.8000, 1.0000])
    """

    def __init__(self, ser_weight=0.8, style_free_classes=()):
        super().__init__()
        if not 0.0 <= float(ser_weight) <= 1.0:
            raise ValueError(f"ser_weight (lambda) must lie in [0, 1], not {ser_weight}")
        self.ser_weight = float(ser_weight)
        self.register_buffer("style_free_classes", torch.tensor(list(style_free_classes), dtype=torch.long))

    def sample_weights(self, emotion_targets):
        """Per-sample lambda: ``ser_weight``, or 1 for samples of a style-free class.

        Arguments
        ---------
        emotion_targets : torch.Tensor
            Emotion indices, shape ``[batch]`` or ``[batch, 1]``.

        Returns
        -------
        torch.Tensor
            Shape ``[batch]``.
        """
        emotion_targets = emotion_targets.reshape(-1)
        weights = torch.full(emotion_targets.shape, self.ser_weight, device=emotion_targets.device)
        free = torch.isin(emotion_targets, self.style_free_classes.to(emotion_targets.device))
        return weights.masked_fill(free, 1.0)

    def forward(self, emotion_logits, emotion_targets, style_logits=None, style_targets=None):
        """The batch loss.

        Arguments
        ---------
        emotion_logits : torch.Tensor
            Shape ``[batch, n_emotions]`` (unnormalised scores).
        emotion_targets : torch.Tensor
            Shape ``[batch]`` or ``[batch, 1]``.
        style_logits : torch.Tensor, optional
            Shape ``[batch, n_styles]``; ``None`` trains SER alone.
        style_targets : torch.Tensor, optional
            Shape ``[batch]`` or ``[batch, 1]``.

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        emotion_targets = emotion_targets.reshape(-1)
        ser_loss = F.cross_entropy(emotion_logits, emotion_targets, reduction="none")
        if style_logits is None or self.ser_weight == 1.0:
            return ser_loss.mean()
        weights = self.sample_weights(emotion_targets)
        style_loss = F.cross_entropy(style_logits, style_targets.reshape(-1), reduction="none")
        # Style-free samples: drop the style term itself (not only its weight), so it is never computed into L.
        style_loss = torch.where(weights < 1.0, style_loss, torch.zeros_like(style_loss))
        return (weights * ser_loss + (1.0 - weights) * style_loss).mean()
