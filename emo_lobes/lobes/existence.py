"""Multi-label emotion existence (MLEE paper): existence (eq. 5), soft targets (eq. 4), losses (eqs. 2, 6), eq. 7."""
import torch
import torch.nn.functional as F

from emo_lobes.data.corpora.iemocap import code_votes

#: The four target emotions of the paper, as IEMOCAP consensus codes, in output order.
TARGET_CODES = ("neu", "hap", "sad", "ang")
#: Soft-target smoothing coefficient alpha (Section 4.1).
SOFT_TARGET_ALPHA = 0.75


def annotator_counts(annotations, targets=TARGET_CODES):
    """How many annotators gave each target class: ``sum_n h^n_k`` of eqs. 4-5.

    An annotator who wrote several categories counts once for each of them; words outside ``targets``
    (``Frustration``, ``Other:bored`` ...) are not counted.

    Arguments
    ---------
    annotations : dict
        ``{annotator_id: [category word, ...]}`` (a parsed IEMOCAP record's ``annotations``).
    targets : tuple of str
        Target codes in output order.

    Returns
    -------
    list of int
        One count per target.

    Example
    -------
    >>> annotator_counts({"C-E1": ["Neutral", "Sadness"], "C-E2": ["Neutral"], "C-E3": ["Frustration"]})
    [2, 0, 1, 0]
    """
    votes = code_votes(annotations)
    return [int(votes.get(code, 0)) for code in targets]


def existence_vector(annotations, targets=TARGET_CODES):
    """Reference existence of each target (eq. 5): 1 when any annotator gave that class, else 0.

    Arguments
    ---------
    annotations : dict
        ``{annotator_id: [category word, ...]}``.
    targets : tuple of str
        Target codes in output order.

    Returns
    -------
    list of int
        ``q(e1 | c_k)`` for each target.

    Example
    -------
    >>> existence_vector({"C-E1": ["Anger", "Frustration"], "C-E2": ["Frustration"], "C-E4": ["Sadness"]})
    [0, 0, 1, 1]
    >>> existence_vector({"C-E1": ["Excited"], "C-E2": ["Surprise"]})
    [0, 0, 0, 0]
    """
    return [int(count > 0) for count in annotator_counts(annotations, targets)]


def soft_target(annotations, alpha=SOFT_TARGET_ALPHA, targets=TARGET_CODES):
    """Smoothed soft target of eq. 4: ``(alpha + count_k) / (alpha K + sum_k' count_k')``.

    Arguments
    ---------
    annotations : dict
        ``{annotator_id: [category word, ...]}``.
    alpha : float
        Smoothing coefficient (0.75 in the paper).
    targets : tuple of str
        Target codes in output order (``K = len(targets)``).

    Returns
    -------
    list of float
        A distribution over the targets (sums to 1). With no target annotation at all it is uniform, which is
        why soft-target training drops such utterances.

    Example
    -------
    >>> [round(q, 4) for q in soft_target({"C-E1": ["Neutral"], "C-E2": ["Neutral"], "C-E3": ["Sadness"]})]
    [0.4583, 0.125, 0.2917, 0.125]
    >>> soft_target({"C-E1": ["Frustration"]})
    [0.25, 0.25, 0.25, 0.25]
    """
    counts = annotator_counts(annotations, targets)
    denominator = alpha * len(targets) + sum(counts)
    return [(alpha + count) / denominator for count in counts]


def existence_class_weights(existence):
    """Per-class weights of existent and non-existent labels, inverse to their frequencies (Section 4.1).

    Weights are ``N / (2 n_pos_k)`` and ``N / (2 n_neg_k)``: each class's positives and negatives weigh the
    same in total, and a class with equal counts gets weight 1 for both. A side with no example gets 0.

    Arguments
    ---------
    existence : torch.Tensor
        ``[N, K]`` 0/1 existence vectors of the training set.

    Returns
    -------
    positive_weights : torch.Tensor
        ``[K]``.
    negative_weights : torch.Tensor
        ``[K]``.

    Example
    -------
    >>> pos, neg = existence_class_weights(torch.tensor([[1, 0], [1, 0], [1, 1], [0, 0]]))
    >>> [round(w, 4) for w in pos.tolist()], [round(w, 4) for w in neg.tolist()]
    ([0.6667, 2.0], [2.0, 0.6667])
    """
    existence = existence.float()
    total = existence.shape[0]
    positives = existence.sum(0)
    negatives = total - positives
    positive_weights = torch.where(positives > 0, total / (2 * positives.clamp(min=1)), torch.zeros_like(positives))
    negative_weights = torch.where(negatives > 0, total / (2 * negatives.clamp(min=1)), torch.zeros_like(negatives))
    return positive_weights, negative_weights


def soft_class_weights(targets):
    """Class weights inverse to the class frequencies of (hard or soft) targets, averaging 1 over present classes.

    For hard targets (one-hot rows) the frequency is the class count; for soft targets it is the total
    probability mass of the class over the training set. A class with no mass gets weight 0.

    Arguments
    ---------
    targets : torch.Tensor
        ``[N, K]`` target distributions.

    Returns
    -------
    torch.Tensor
        ``[K]`` weights.

    Example
    -------
    >>> weights = soft_class_weights(torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    >>> [round(w, 4) for w in weights.tolist()]
    [0.6667, 1.3333, 0.0]
    """
    mass = targets.float().sum(0)
    inverse = torch.where(mass > 0, 1.0 / mass.clamp(min=1e-12), torch.zeros_like(mass))
    present = int((mass > 0).sum())
    return inverse * (present / inverse.sum()) if present else inverse


def weighted_soft_cross_entropy(logits, targets, class_weights=None):
    """Softmax cross entropy against target distributions (eq. 2), each class weighted, averaged over the batch.

    ``L = -sum_k w_k q(c_k) log p(c_k | X)``; hard targets are one-hot rows. Computed by
    :func:`torch.nn.functional.cross_entropy` with probability targets.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, K]``.
    targets : torch.Tensor
        ``[batch, K]`` distributions.
    class_weights : torch.Tensor, optional
        ``[K]``; ``None``: all 1.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> targets = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    >>> round(weighted_soft_cross_entropy(logits, targets).item(), 4)  # (log(1 + e^-2) + log 2) / 2
    0.41
    >>> round(weighted_soft_cross_entropy(logits, targets, torch.tensor([2.0, 0.0])).item(), 4)
    0.4735
    """
    return F.cross_entropy(logits, targets, weight=class_weights)


def existence_bce_loss(logits, existence, positive_weights=None, negative_weights=None):
    """Class-wise binary cross entropy of eq. 6, weighted per class and label side, summed over classes.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, K]`` pre-sigmoid outputs; ``sigmoid(logits)`` is ``p(e1 | c_k, X)``.
    existence : torch.Tensor
        ``[batch, K]`` 0/1 references ``q(e1 | c_k)``.
    positive_weights, negative_weights : torch.Tensor, optional
        ``[K]`` weights of existent / non-existent labels (:func:`existence_class_weights`); ``None``: 1.

    Returns
    -------
    torch.Tensor
        Scalar: sum over classes, mean over the batch.

    Example
    -------
    >>> logits = torch.zeros(2, 4)
    >>> existence = torch.tensor([[1.0, 0, 0, 1], [0, 0, 1, 0]])
    >>> round(existence_bce_loss(logits, existence).item(), 4)  # 4 * log 2
    2.7726
    >>> round(existence_bce_loss(logits, existence, torch.full((4,), 2.0), torch.ones(4)).item(), 4)  # 5.5 log 2
    3.8123
    """
    existence = existence.to(logits.dtype)
    weights = torch.ones_like(logits)
    if positive_weights is not None:
        weights = torch.where(existence > 0.5, positive_weights.to(logits), weights)
    if negative_weights is not None:
        weights = torch.where(existence > 0.5, weights, negative_weights.to(logits))
    losses = F.binary_cross_entropy_with_logits(logits, existence, weight=weights, reduction="none")
    return losses.sum(dim=1).mean()


def predict_from_existence(logits):
    """Dominant emotion from existence outputs (eq. 7): the class with the highest existence probability.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, K]`` pre-sigmoid MLEE outputs (sigmoid is monotonic, so the argmax is the same).

    Returns
    -------
    torch.Tensor
        ``[batch]`` class indices.

    Example
    -------
    >>> predict_from_existence(torch.tensor([[0.1, 2.0, -1.0, 0.0], [3.0, 2.0, 2.5, -4.0]])).tolist()
    [1, 0]
    """
    return logits.argmax(dim=-1)


def existence_ratios(existence):
    """Share of utterances in which each class exists (the rows of the paper's Table 1), in percent.

    Arguments
    ---------
    existence : list of list of int
        Existence vectors of a data set.

    Returns
    -------
    list of float
        One percentage per class (0 for an empty set).

    Example
    -------
    >>> existence_ratios([[1, 0, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    [75.0, 25.0, 0.0, 25.0]
    """
    if not existence:
        return [0.0] * len(TARGET_CODES)
    columns = list(zip(*existence))
    return [100.0 * sum(column) / len(existence) for column in columns]
