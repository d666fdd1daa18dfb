"""Frozen modules: a wrapper that keeps a pre-trained module frozen, and frozen batch norms kept in eval mode."""
import torch


class Frozen(torch.nn.Module):
    """Run ``module`` without gradients and always in eval mode, whatever ``train()`` calls reach it.

    SpeechBrain's ``Brain`` calls ``modules.train()`` at every training epoch; this wrapper ignores it, so
    batch-norm running statistics, dropout and running normalisation statistics stay as pre-trained and
    the parameters (which also get ``requires_grad=False``) stay bit-identical.

    Arguments
    ---------
    module : torch.nn.Module
        The pre-trained module (its weights already loaded).

    Example
    -------
    >>> frozen = Frozen(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)))
    >>> _ = frozen.train()
    >>> frozen.training, frozen.module[1].training, frozen.module[0].weight.requires_grad
    (False, False, False)
    >>> out = frozen(torch.randn(4, 3))
    >>> out.shape, out.requires_grad, int(frozen.module[1].num_batches_tracked)
    (torch.Size([4, 2]), False, 0)
    """

    def __init__(self, module):
        super().__init__()
        self.module = module
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)
        self.train(False)

    def train(self, mode=True):
        """Ignore ``mode``: the wrapped module stays in eval mode."""
        return super().train(False)

    def forward(self, *args, **kwargs):
        """Call the wrapped module under ``torch.no_grad()``."""
        with torch.no_grad():
            return self.module(*args, **kwargs)


def is_frozen_batch_norm(module):
    """Whether ``module`` is a batch norm whose affine parameters are all frozen (``requires_grad`` False).

    Example
    -------
    >>> norm = torch.nn.BatchNorm1d(2)
    >>> before = is_frozen_batch_norm(norm)
    >>> _ = norm.requires_grad_(False)
    >>> before, is_frozen_batch_norm(norm), is_frozen_batch_norm(torch.nn.BatchNorm1d(2, affine=False))
    (False, True, False)
    """
    if not isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        return False
    parameters = list(module.parameters(recurse=False))
    return bool(parameters) and not any(parameter.requires_grad for parameter in parameters)


def keep_frozen_batch_norms_in_eval(model):
    """Put every frozen batch norm of ``model`` (:func:`is_frozen_batch_norm`) in eval mode; returns how many.

    A part frozen for training (e.g. the backbone of a head-only transfer baseline) must not change: in train mode
    its batch norms would normalise with batch statistics and update their running statistics. Call it after
    ``model.train()`` (SpeechBrain calls ``modules.train()`` at each training epoch's start).

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.BatchNorm1d(2), torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    >>> _ = net[0].requires_grad_(False)
    >>> keep_frozen_batch_norms_in_eval(net.train()), net[0].training, net[2].training
    (1, False, True)
    >>> _ = net(torch.randn(4, 2))
    >>> int(net[0].num_batches_tracked), int(net[2].num_batches_tracked)
    (0, 1)
    """
    frozen = [module for module in model.modules() if is_frozen_batch_norm(module)]
    for module in frozen:
        module.eval()
    return len(frozen)
