"""Several processes (torchrun / DDP): evaluation shards, and predictions and losses gathered over every process.

SpeechBrain shards only the training set (``DistributedSampler``) and leaves dev and test whole on every
process. emo-lobes recipes shard dev and test too (:class:`EvaluationShardSampler`), then compute their metrics
on the predictions of all processes (:func:`gather_in_dataset_order`) and the loss over all processes' batches
(:func:`sum_over_processes`). Without ``torch.distributed`` initialised every function is the one-process case.
"""
import time

import torch
from torch.utils.data import Sampler

from emo_lobes.errors import EmoLobesError


def is_distributed():
    """Whether a ``torch.distributed`` process group is running.

    Example
    -------
    >>> is_distributed()
    False
    """
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def process_rank_and_count():
    """``(rank, number of processes)``; ``(0, 1)`` without a process group.

    Example
    -------
    >>> process_rank_and_count()
    (0, 1)
    """
    if not is_distributed():
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


class EvaluationShardSampler(Sampler):
    """Dataset indices ``rank, rank + P, rank + 2P, ...`` for process ``rank`` of ``P``: no padding, no repeats.

    Unlike ``torch.utils.data.DistributedSampler`` it never repeats an utterance to even out the shards, so
    metrics over the gathered predictions count each utterance once, and it keeps the dataset's order (within a
    shard) so that :func:`gather_in_dataset_order` restores the single-process order.

    Arguments
    ---------
    dataset_length : int
        Number of items in the evaluation set.
    rank, world_size : int, optional
        This process and the number of processes (default: from ``torch.distributed``).

    Example
    -------
    >>> list(EvaluationShardSampler(7, rank=1, world_size=3)), len(EvaluationShardSampler(7, rank=1, world_size=3))
    ([1, 4], 2)
    >>> list(EvaluationShardSampler(3))  # one process: everything
    [0, 1, 2]
    """

    def __init__(self, dataset_length, rank=None, world_size=None):
        default_rank, default_count = process_rank_and_count()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_count if world_size is None else world_size
        self.dataset_length = int(dataset_length)
        if self.dataset_length < self.world_size:
            raise EmoLobesError(
                f"an evaluation set of {self.dataset_length} utterances cannot be shared by "
                f"{self.world_size} processes",
                "run with fewer processes (torchrun --nproc_per_node) or a larger dev/test set")

    def __iter__(self):
        return iter(range(self.rank, self.dataset_length, self.world_size))

    def __len__(self):
        return len(range(self.rank, self.dataset_length, self.world_size))


def gather_objects(obj):
    """Every process's ``obj`` (picklable), as a list in rank order; ``[obj]`` for one process.

    Example
    -------
    >>> gather_objects({"a": 1})
    [{'a': 1}]
    """
    if not is_distributed():
        return [obj]
    gathered = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, obj)
    return gathered


def gather_in_dataset_order(items):
    """Per-item results of every process's :class:`EvaluationShardSampler` shard, back in the dataset's order.

    Item ``i`` of process ``r`` is dataset item ``r + i * P``, so interleaving the lists restores the order a
    single process sees.

    Arguments
    ---------
    items : list
        This process's results, one per item of its shard, in loader order.

    Returns
    -------
    list
        All processes' results (every process gets the whole list).

    Example
    -------
    >>> gather_in_dataset_order([{"id": "a"}, {"id": "b"}])
    [{'id': 'a'}, {'id': 'b'}]
    """
    shards = gather_objects(list(items))
    longest = max(len(shard) for shard in shards)
    return [shard[i] for i in range(longest) for shard in shards if i < len(shard)]


def sum_over_processes(values):
    """Element-wise sum of a list of numbers over all processes (float64); the numbers themselves for one.

    Example
    -------
    >>> sum_over_processes([2.5, 3])
    [2.5, 3.0]
    """
    totals = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if is_distributed():
        backend = torch.distributed.get_backend()
        device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
        totals = totals.to(device)
        torch.distributed.all_reduce(totals, op=torch.distributed.ReduceOp.SUM)
    return [float(v) for v in totals.cpu()]


def _count_in_store(store, key, world_size, poll_s=0.005):
    # a meeting point counted in the key-value store: nothing goes over gloo's or NCCL's connections
    store.add(key, 1)
    while store.add(key, 0) < world_size:  # add(key, 0) reads the count
        time.sleep(poll_s)


def leave_process_group():
    """Wait for every process, leave the process group, and wait again before returning (no-op for one process).

    A recipe calls it last. A process that closes its connections while another still uses them (the end of a
    barrier) or exits while another is still tearing its group down can make gloo abort the other one
    (SIGABRT, "terminate called without an active exception" / "connection closed by peer"), so every process
    meets the others in the key-value store before and after ``destroy_process_group``.

    Example
    -------
    >>> leave_process_group()
    """
    if is_distributed():
        store = torch.distributed.distributed_c10d._get_default_store()
        world_size = torch.distributed.get_world_size()
        torch.distributed.barrier()
        _count_in_store(store, "emo_lobes_leave_group", world_size)
        torch.distributed.destroy_process_group()
        _count_in_store(store, "emo_lobes_left_group", world_size)
