"""A classifier head: fully connected, batch norm, ReLU, dropout, then the softmax layer (EmoNet Section 5.2.1).

Authors: emo-lobes contributors.
"""
import torch
import torch.nn as nn
from speechbrain.nnet.activations import Softmax


class ClassifierHead(nn.Module):
    """Fully connected -> batch norm -> ReLU -> dropout -> linear -> log-softmax.

    The paper lists "fully connected layer, BN and dropout ... before the softmax classification layer"; the
    ReLU, the hidden size (half the input) and the dropout rate 0.2 follow the authors' released code.

    Arguments
    ---------
    input_size : int
        Size of the pooled embedding (256 in the paper).
    n_classes : int
        Number of classes of this domain.
    hidden_size : int
        Units of the fully connected layer.
    dropout : float
        Dropout probability.

    Example
    -------
    >>> head = ClassifierHead(256, 4)
    >>> log_probs = head(torch.rand(8, 256))
    >>> log_probs.shape, bool(torch.allclose(log_probs.exp().sum(dim=1), torch.ones(8)))
    (torch.Size([8, 4]), True)
    """

    def __init__(self, input_size, n_classes, hidden_size=128, dropout=0.2):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_size, hidden_size),
            nn.BatchNorm1d(hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, n_classes),
        )
        self.softmax = Softmax(apply_log=True)

    def forward(self, x):
        """Log class probabilities of a batch of embeddings.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, input_size]``.

        Returns
        -------
        torch.Tensor
            ``[batch, n_classes]`` log probabilities.
        """
        return self.softmax(self.layers(x))
