"""Multi-corpus batch streams: round-robin over corpora (one batch of each per round, EmoNet 5.2.2) or chained.

Each stream is a ``torch.utils.data.IterableDataset`` of ready-made batches; :func:`batch_stream_loader` wraps it
in a ``DataLoader`` (no re-batching) so ``speechbrain.Brain.fit``/``evaluate`` take it as they are.
"""
import torch


def _identity(batch):
    return batch


class RoundRobinBatches(torch.utils.data.IterableDataset):
    """Yield one batch of each loader in turn, ``rounds`` rounds per pass; exhausted loaders restart (reshuffled).

    The position in every loader is kept between passes, so successive epochs continue through the corpora
    instead of restarting them.

    Arguments
    ---------
    loaders : sequence of iterable
        One batch loader per corpus (domain), in domain order.
    rounds : int
        Rounds per pass (one pass = one epoch of ``Brain.fit``).

    Example
    -------
    >>> stream = RoundRobinBatches([["a1", "a2"], ["b1"], ["c1", "c2", "c3"]], rounds=3)
    >>> list(stream)
    ['a1', 'b1', 'c1', 'a2', 'b1', 'c2', 'a1', 'b1', 'c3']
    >>> list(stream)[:3], len(stream)
    (['a2', 'b1', 'c1'], 9)
    """

    def __init__(self, loaders, rounds):
        super().__init__()
        self.loaders = list(loaders)
        self.rounds = int(rounds)
        self._iterators = [None] * len(self.loaders)

    def _next_batch(self, index):
        if self._iterators[index] is not None:
            try:
                return next(self._iterators[index])
            except StopIteration:
                pass
        self._iterators[index] = iter(self.loaders[index])
        try:
            return next(self._iterators[index])
        except StopIteration:
            raise ValueError(f"loader {index} yields no batch") from None

    def __iter__(self):
        for _ in range(self.rounds):
            for index in range(len(self.loaders)):
                yield self._next_batch(index)

    def __len__(self):
        return self.rounds * len(self.loaders)


class ChainedBatches(torch.utils.data.IterableDataset):
    """Yield every batch of each loader, one loader after the other (multi-corpus dev/test passes).

    Arguments
    ---------
    loaders : sequence of iterable
        Batch loaders, in domain order.

    Example
    -------
    >>> list(ChainedBatches([["a1", "a2"], ["b1"]]))
    ['a1', 'a2', 'b1']
    """

    def __init__(self, loaders):
        super().__init__()
        self.loaders = list(loaders)

    def __iter__(self):
        for loader in self.loaders:
            yield from loader

    def __len__(self):
        return sum(len(loader) for loader in self.loaders)


def batch_stream_loader(stream):
    """Wrap a stream of ready-made batches in a ``DataLoader`` that passes them through unchanged.

    Arguments
    ---------
    stream : torch.utils.data.IterableDataset
        E.g. :class:`RoundRobinBatches`.

    Returns
    -------
    torch.utils.data.DataLoader
        Iterating it yields the stream's batches.

    Example
    -------
    >>> loader = batch_stream_loader(ChainedBatches([["a"], ["b"]]))
    >>> list(loader), len(loader)
    (['a', 'b'], 2)
    """
    return torch.utils.data.DataLoader(stream, batch_size=None, collate_fn=_identity)
