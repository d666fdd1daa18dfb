"""Multi-corpus batches: round-robin training (one batch of each corpus per round, EmoNet 5.2.2) and chained evaluation.

The batch samplers below yield lists of ``(corpus, index, pass)`` keys into a :class:`MultiCorpusDataset`. What they
yield is a function of the seed, the epoch and the process only (no iterator state), so SpeechBrain's
``SaveableDataLoader`` resumes them mid-epoch by skipping batches, and under torchrun each process takes its own
share of every batch (SpeechBrain's ``DistributedSamplerWrapper`` would deal whole batches, i.e. whole corpora, to
processes), with the same number of rounds on every process.
"""
import math

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from emo_lobes.training.distributed import process_rank_and_count
from emo_lobes.errors import EmoLobesError


class MultiCorpusDataset(Dataset):
    """Items of several datasets addressed by ``(corpus, index, pass)`` keys.

    Arguments
    ---------
    datasets : sequence of Dataset
        One dataset per corpus (domain), in domain order.
    set_pass : callable, optional
        Called with the key's pass number before the item is read (e.g. to seed a random crop per pass), in the
        process that reads it (a loader worker or the main process).

    Example
    -------
    >>> passes = []
    >>> data = MultiCorpusDataset([["a0", "a1"], ["b0"]], set_pass=passes.append)
    >>> data[(1, 0, 3)], data[(0, 1, 0)], passes, len(data)
    ('b0', 'a1', [3, 0], 3)
    """

    def __init__(self, datasets, set_pass=None):
        self.datasets = list(datasets)
        self.set_pass = set_pass

    def __getitem__(self, key):
        corpus, index, pass_index = key
        if self.set_pass is not None:
            self.set_pass(pass_index)
        return self.datasets[corpus][index]

    def __len__(self):
        return sum(len(dataset) for dataset in self.datasets)


def pass_permutation(size, seed, corpus, pass_index):
    """The shuffled order of ``size`` items of ``corpus`` in its pass ``pass_index`` (the same in every process).

    Example
    -------
    >>> order = pass_permutation(5, 1986, 0, 2)
    >>> sorted(order), order == pass_permutation(5, 1986, 0, 2), order == pass_permutation(5, 1986, 0, 3)
    ([0, 1, 2, 3, 4], True, False)
    """
    state = np.random.SeedSequence([int(seed), int(corpus), int(pass_index)]).generate_state(1)[0]
    return torch.randperm(size, generator=torch.Generator().manual_seed(int(state))).tolist()


def shard_batches(n_items, batch_size):
    """Batches a process makes of ``n_items``: a last batch of one item joins the one before (batch norm needs 2).

    Example
    -------
    >>> shard_batches(9, 4), shard_batches(10, 4), shard_batches(1, 4)
    (2, 3, 1)
    """
    batches = math.ceil(n_items / batch_size)
    return batches - 1 if n_items % batch_size == 1 and batches > 1 else batches


class RoundRobinBatchSampler(Sampler):
    """Training batches, one of each corpus per round, ``rounds`` rounds per epoch, shuffled per pass and shard.

    Round ``r`` (counted over all epochs) takes corpus ``c``'s batch ``r mod B_c`` of its pass ``r div B_c``: a
    corpus that runs out starts a new pass (a new order), and successive epochs continue through the corpora
    instead of restarting them. Each pass's order is shared by all processes; process ``k`` of ``P`` takes items
    ``k, k + P, ...`` of it, so ``P`` processes with batches of ``batch_size`` see, round by round, the utterances
    one process sees with batches of ``P x batch_size``. Call :meth:`set_epoch` (SpeechBrain does) before iterating.

    Arguments
    ---------
    corpus_sizes : sequence of int
        Items in each corpus's training set.
    batch_size : int
        Utterances per batch and process.
    rounds : int
        Rounds per epoch.
    seed : int
        Seed of the shuffling.
    rank, world_size : int, optional
        This process and the number of processes (default: from ``torch.distributed``).
    shuffle : bool
        A new order for every pass (True), or each corpus's own order in every pass.

    Example
    -------
    >>> sampler = RoundRobinBatchSampler([5, 4], batch_size=2, rounds=3, seed=0)
    >>> sampler.set_epoch(1)
    >>> batches = list(sampler)
    >>> [batch[0][0] for batch in batches], [len(batch) for batch in batches], len(sampler)
    ([0, 1, 0, 1, 0, 1], [2, 2, 3, 2, 2, 2], 6)
    >>> sorted(key[1] for batch in batches[0:4:2] for key in batch), [key[2] for key in batches[4]]  # pass 0, pass 1
    ([0, 1, 2, 3, 4], [1, 1])
    >>> halves = [RoundRobinBatchSampler([4, 4], 1, rounds=3, seed=0, rank=k, world_size=2) for k in (0, 1)]
    >>> whole = RoundRobinBatchSampler([4, 4], 2, rounds=3, seed=0)
    >>> for one in halves + [whole]:
    ...     one.set_epoch(2)
    >>> [sorted(a + b) for a, b in zip(*halves)] == [sorted(batch) for batch in whole]
    True
    >>> in_order = RoundRobinBatchSampler([3], 2, rounds=2, shuffle=False)
    >>> list(in_order)
    [[(0, 0, 0), (0, 1, 0), (0, 2, 0)], [(0, 0, 1), (0, 1, 1), (0, 2, 1)]]
    """

    def __init__(self, corpus_sizes, batch_size, rounds, seed=0, rank=None, world_size=None, shuffle=True):
        default_rank, default_count = process_rank_and_count()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_count if world_size is None else world_size
        self.corpus_sizes = [int(size) for size in corpus_sizes]
        self.batch_size = int(batch_size)
        self.rounds = int(rounds)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = 1
        too_small = [c for c, size in enumerate(self.corpus_sizes) if size < 2 * self.world_size]
        if too_small:
            raise EmoLobesError(
                f"training set of corpus {too_small[0]} has {self.corpus_sizes[too_small[0]]} utterances, fewer than "
                f"2 per process ({self.world_size} processes)", "use fewer processes or more training data")
        self.batches_per_pass = [shard_batches(len(range(self.rank, size, self.world_size)), self.batch_size)
                                 for size in self.corpus_sizes]

    def set_epoch(self, epoch):
        """Choose the epoch (1-based, as SpeechBrain counts) whose rounds :meth:`__iter__` yields."""
        self.epoch = int(epoch)

    def batch(self, corpus, round_index):
        """This process's keys of ``corpus`` in round ``round_index``."""
        pass_index, position = divmod(round_index, self.batches_per_pass[corpus])
        size = self.corpus_sizes[corpus]
        order = pass_permutation(size, self.seed, corpus, pass_index) if self.shuffle else list(range(size))
        order = order[self.rank::self.world_size]
        stop = len(order) if position == self.batches_per_pass[corpus] - 1 else (position + 1) * self.batch_size
        return [(corpus, index, pass_index) for index in order[position * self.batch_size:stop]]

    def whole_pass(self, epoch):
        """Every training item of each corpus once, for a statistics pass (precise batch norm) after ``epoch``.

        Corpus after corpus, each in the order of the pass that process 0's last round of ``epoch`` belongs to
        (that pass's number in the keys, so random crops are that pass's), in batches of ``batch_size`` (a last
        batch of one item joins the one before: a batch norm needs two). Not sharded, and the same on every
        process (with uneven shards other processes may be on another pass), so all compute the same statistics.

        Arguments
        ---------
        epoch : int
            The finished epoch, 1-based as in :meth:`set_epoch`.

        Returns
        -------
        list of list of tuple
            Batches of ``(corpus, index, pass)`` keys, each batch from one corpus.

        Example
        -------
        >>> sampler = RoundRobinBatchSampler([5, 4], batch_size=2, rounds=3, seed=0)
        >>> batches = sampler.whole_pass(epoch=1)
        >>> [len(batch) for batch in batches], sorted(key[1] for batch in batches[:2] for key in batch)
        ([2, 3, 2, 2], [0, 1, 2, 3, 4])
        >>> {key[2] for batch in batches for key in batch}, {key[2] for key in sampler.batch(0, 2)}  # both in pass 1
        ({1}, {1})
        """
        last_round = int(epoch) * self.rounds - 1
        batches = []
        for corpus, size in enumerate(self.corpus_sizes):
            pass_index = last_round // shard_batches(len(range(0, size, self.world_size)), self.batch_size)
            order = pass_permutation(size, self.seed, corpus, pass_index) if self.shuffle else list(range(size))
            keys = [(corpus, index, pass_index) for index in order]
            corpus_batches = [keys[start:start + self.batch_size] for start in range(0, size, self.batch_size)]
            if len(corpus_batches) > 1 and len(corpus_batches[-1]) == 1:
                tail = corpus_batches.pop()
                corpus_batches[-1] += tail
            batches += corpus_batches
        return batches

    def __iter__(self):
        first = (self.epoch - 1) * self.rounds
        for round_index in range(first, first + self.rounds):
            for corpus in range(len(self.corpus_sizes)):
                yield self.batch(corpus, round_index)

    def __len__(self):
        return self.rounds * len(self.corpus_sizes)


class ChainedBatchSampler(Sampler):
    """Evaluation batches: every item of each corpus, one corpus after the other, in order, sharded by process.

    Process ``k`` of ``P`` takes items ``k, k + P, ...`` of each corpus (never padded or repeated), so
    :func:`emo_lobes.training.distributed.gather_in_dataset_order` of one corpus's per-item results restores its order.

    Arguments
    ---------
    corpus_sizes : sequence of int
        Items in each corpus's set.
    batch_size : int
        Utterances per batch.
    rank, world_size : int, optional
        This process and the number of processes (default: from ``torch.distributed``).

    Example
    -------
    >>> list(ChainedBatchSampler([3, 2], batch_size=2))
    [[(0, 0, 0), (0, 1, 0)], [(0, 2, 0)], [(1, 0, 0), (1, 1, 0)]]
    >>> list(ChainedBatchSampler([3, 2], batch_size=2, rank=1, world_size=2))
    [[(0, 1, 0)], [(1, 1, 0)]]
    """

    def __init__(self, corpus_sizes, batch_size, rank=None, world_size=None):
        default_rank, default_count = process_rank_and_count()
        rank = default_rank if rank is None else rank
        world_size = default_count if world_size is None else world_size
        self.batches = []
        for corpus, size in enumerate(corpus_sizes):
            shard = list(range(rank, int(size), world_size))
            self.batches += [[(corpus, index, 0) for index in shard[start:start + batch_size]]
                             for start in range(0, len(shard), batch_size)]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)
