"""A wrapper that keeps a pre-trained module frozen: no gradients, eval mode (batch norm too) even in training."""
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
