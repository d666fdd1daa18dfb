"""Small training utilities every recipe shares: class weights and label counting."""
from collections import Counter

import torch


def inverse_frequency_weights(labels, n_classes, normalize=True):
    """Class weights proportional to the inverse of each class's count in ``labels``.

    Used for class-weighted cross-entropy (MLEE Section 4.2, EmoNet Section 5.3): a class seen
    half as often weighs twice as much. Classes absent from ``labels`` get weight 0 (they cannot be
    learnt and must not blow up the loss).

    Arguments
    ---------
    labels : iterable of int
        Encoded training labels.
    n_classes : int
        Number of classes.
    normalize : bool
        Scale so that the weights average to 1 over the classes present.

    Returns
    -------
    torch.Tensor
        Shape ``[n_classes]``.

    Example
    -------
    >>> inverse_frequency_weights([0, 0, 0, 1], 3)
    tensor([0.5000, 1.5000, 0.0000])
    """
    counts = Counter(int(label) for label in labels)
    weights = torch.zeros(n_classes)
    for cls, count in counts.items():
        weights[cls] = 1.0 / count
    if normalize and weights.sum() > 0:
        weights = weights * (len(counts) / weights.sum())
    return weights
