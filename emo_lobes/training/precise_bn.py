"""Precise batch-norm statistics: running statistics recomputed from the current weights by one pass over data.

Batch norm's running statistics are an exponential average (momentum 0.1) of the batch statistics of the last
few dozen steps. With few steps per epoch and a large learning rate (EmoNet: lr 0.1, momentum 0.9, batch 64 on a
corpus of a few hundred clips, about 6 steps per epoch) the weights move so far between steps that the running
statistics at the end of an epoch describe none of the recent models, and eval mode (dev, test, and the checkpoint
every later evaluation loads) normalises with the wrong mean and variance: the loss of the training set itself is
tens of times higher in eval mode than in train mode, and predictions pile onto one class. Recomputing them with
the final weights of the epoch (Wu and Johnson, "Rethinking 'Batch' in BatchNorm", 2021, "precise BN") removes the
mismatch.

Authors: emo-lobes contributors.
"""
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from emo_lobes.lobes.frozen import is_frozen_batch_norm


def recompute_batch_norm_statistics(model, batches, forward):
    """Replace the running statistics of ``model``'s batch norms by their average over ``batches``.

    Each batch norm's statistics are reset and accumulated with ``momentum=None`` (PyTorch's cumulative average
    of the batch statistics) while ``forward(batch)`` runs every batch in train mode with dropout off and no
    gradients. Batch norms that see no batch (e.g. other domains' ones) keep their statistics, and frozen ones
    (:func:`~emo_lobes.lobes.frozen.is_frozen_batch_norm`, e.g. a head-only baseline's backbone) are left in
    eval mode and unchanged. Momentum,
    ``num_batches_tracked``, train/eval mode and dropout are restored afterwards; no random generator is drawn
    from here (the batches' order is the caller's).

    Arguments
    ---------
    model : torch.nn.Module
        The model whose batch norms to update (not a DDP wrapper).
    batches : iterable
        The batches to pass (e.g. a loader over the training set).
    forward : callable
        ``forward(batch)`` runs ``model`` on one batch.

    Returns
    -------
    int
        The number of batches passed.

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    >>> data = [torch.randn(8, 3) * 5 + 2 for _ in range(4)]
    >>> recompute_batch_norm_statistics(net, data, net)
    4
    >>> with torch.no_grad():
    ...     means = torch.stack([net[0](x).mean(0) for x in data]).mean(0)
    >>> torch.allclose(net[1].running_mean, means, atol=1e-5), net.training
    (True, True)
    """
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats
             and not is_frozen_batch_norm(m)]
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in norms]
    dropouts = [(m, m.training) for m in model.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    was_training = model.training
    frozen = [m for m in model.modules() if is_frozen_batch_norm(m)]
    frozen_modes = [m.training for m in frozen]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    for dropout, _ in dropouts:
        dropout.eval()
    for norm in frozen:
        norm.eval()
    count = 0
    try:
        with torch.no_grad():
            for batch in batches:
                forward(batch)
                count += 1
    finally:
        for norm, (momentum, mean, var, tracked) in zip(norms, saved):
            if int(norm.num_batches_tracked) == 0:  # not used by these batches: keep what it had
                norm.running_mean.copy_(mean)
                norm.running_var.copy_(var)
            norm.num_batches_tracked.copy_(tracked)
            norm.momentum = momentum
        model.train(was_training)
        for dropout, training in dropouts:
            dropout.train(training)
        for norm, training in zip(frozen, frozen_modes):
            norm.train(training)
    return count
