"""The Brain base of emo-lobes recipes: exact resumption and DDP (torchrun) with evaluation over every process.

A recipe's one Brain subclass derives from :class:`EmoLobesBrain` instead of ``speechbrain.Brain`` and, in its
``on_stage_end``, reduces the dev/test loss with :meth:`EmoLobesBrain.loss_over_processes` and gathers its test
predictions with :func:`emo_lobes.training.distributed.gather_in_dataset_order` before computing metrics.
"""
import os

import speechbrain as sb
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import IterableDataset

from emo_lobes.errors import EmoLobesError
from emo_lobes.training.distributed import EvaluationShardSampler, is_distributed, sum_over_processes


def unwrap_module(module):
    """The module inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper, or the module itself.

    Example
    -------
    >>> linear = torch.nn.Linear(2, 2)
    >>> unwrap_module(torch.nn.DataParallel(linear)) is linear, unwrap_module(linear) is linear
    (True, True)
    """
    while isinstance(module, (DistributedDataParallel, torch.nn.DataParallel)):
        module = module.module
    return module


class EmoLobesBrain(sb.Brain):
    """``speechbrain.Brain`` made exact to resume and correct to run on several processes.

    - Training loaders get their own ``torch.Generator`` (seeded from SpeechBrain's global seed), so creating a
      loader does not draw from torch's global generator: with :class:`emo_lobes.training.checkpoints.RandomState` in the
      checkpointer, a run resumed from an intra-epoch checkpoint draws exactly what an uninterrupted run draws.
    - Under torchrun the training shards are shuffled only when the loader's ``shuffle`` is on (SpeechBrain's
      ``DistributedSampler`` shuffles unless the hparams hold a ``sorting`` key; recipes with one keep it).
    - Under torchrun, dev and test loaders are sharded with :class:`~emo_lobes.training.distributed.EvaluationShardSampler`
      (SpeechBrain keeps them whole on every process), and :meth:`loss_over_processes` averages the stage loss over
      the batches of all processes, so early stopping and checkpoint choice agree on every process.
    - The optimiser gets the trainable parameters only (frozen encoders, front-ends or shared models get no
      momentum, weight decay or optimiser state).
    - :attr:`augmentation`: the hparams' training-time augmentation switches (off when absent).
    - ``max_grad_norm`` 0 (or null) turns gradient clipping off (SpeechBrain clips at 5.0 by default and would zero
      every gradient at 0); a negative value is refused in one line.
    - On CPU (gloo backend) modules are wrapped in DDP without SpeechBrain's conversion to ``SyncBatchNorm``,
      which PyTorch supports on GPUs only; batch norm statistics then follow DDP's default (rank 0's buffers are
      broadcast before each forward pass).

    Arguments are those of ``speechbrain.Brain``.

    Example
    -------
    >>> class Regression(EmoLobesBrain):
    ...     def compute_forward(self, batch, stage):
    ...         return self.modules.model(batch[0])
    ...     def compute_objectives(self, predictions, batch, stage):
    ...         return torch.nn.functional.mse_loss(predictions, batch[1])
    ...     def on_stage_end(self, stage, stage_loss, epoch=None):
    ...         if stage != sb.Stage.TRAIN:
    ...             self.last_loss = self.loss_over_processes(stage_loss)
    >>> brain = Regression({"model": torch.nn.Linear(2, 1)}, lambda p: torch.optim.SGD(p, lr=0.1),
    ...                    run_opts={"device": "cpu", "noprogressbar": True})
    >>> data = [(torch.ones(4, 2), torch.zeros(4, 1))] * 3
    >>> brain.fit(range(1), data, data)
    >>> round(brain.last_loss, 6) == round(brain.evaluate(data), 6)
    True
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.max_grad_norm is None or float(self.max_grad_norm) == 0:
            self.max_grad_norm = float("inf")  # 0 or null: no clipping (SpeechBrain would zero every gradient)
        elif float(self.max_grad_norm) < 0:
            # SpeechBrain 1.1 would multiply every gradient by a negative factor
            raise EmoLobesError(f"max_grad_norm is {self.max_grad_norm}",
                                "pass --max_grad_norm=0 to turn gradient clipping off, or a positive norm")

    @property
    def augmentation(self):
        """The hparams' :class:`~emo_lobes.training.augmentation.TrainingAugmentation` (``augmentation``), or one
        with both switches off when the hparams hold none."""
        from emo_lobes.training.augmentation import NO_AUGMENTATION  # speechbrain.augment loads only when used

        return getattr(self.hparams, "augmentation", None) or NO_AUGMENTATION

    def init_optimizers(self):
        """One ``opt_class`` optimiser over the parameters that require gradients, saved with the checkpoints."""
        if self.opt_class is None:
            return
        self.optimizer = self.opt_class([p for p in self.modules.parameters() if p.requires_grad])
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """SpeechBrain's loaders, with a private generator for training and shards for dev/test under torchrun."""
        if stage == sb.Stage.TRAIN and self.distributed_launch:
            if getattr(self, "_sorting_follows_shuffle", not hasattr(self.hparams, "sorting")):
                self._sorting_follows_shuffle = True  # SpeechBrain reads hparams.sorting to shuffle DDP shards
                self.hparams.sorting = "random" if loader_kwargs.get("shuffle") else "as_given"
        if stage == sb.Stage.TRAIN and "generator" not in loader_kwargs:
            seed = int(os.environ.get("SB_GLOBAL_SEED", 0))
            loader_kwargs["generator"] = torch.Generator().manual_seed(seed)
        shardable = not isinstance(dataset, IterableDataset) and hasattr(dataset, "__len__")
        no_sampler = loader_kwargs.get("sampler") is None and loader_kwargs.get("batch_sampler") is None
        if stage != sb.Stage.TRAIN and self.distributed_launch and is_distributed() and shardable and no_sampler:
            loader_kwargs = dict(loader_kwargs, sampler=EvaluationShardSampler(len(dataset)))
            loader_kwargs.pop("shuffle", None)
        return super().make_dataloader(dataset, stage, ckpt_prefix=ckpt_prefix, **loader_kwargs)

    def fit_batch(self, batch):
        """SpeechBrain's training step, remembering the batch's utterance ids for :meth:`check_loss_isfinite`."""
        self._batch_ids = list(getattr(batch, "id", None) or [])
        return super().fit_batch(batch)

    def check_loss_isfinite(self, loss):
        """SpeechBrain's ``nonfinite_patience`` check, ending in one line that names the files of the last bad batch.

        Example
        -------
        >>> brain = EmoLobesBrain({"m": torch.nn.Linear(1, 1)}, run_opts={"device": "cpu", "nonfinite_patience": 0})
        >>> brain._batch_ids, brain.nonfinite_count = ["emodb/03a01Wa", "emodb/03a02Fc"], 0   # as fit() sets them
        >>> try:
        ...     brain.check_loss_isfinite(torch.tensor(float("nan")))
        ... except EmoLobesError as err:
        ...     print(err.problem)
        the training loss is not finite in 1 batch (nonfinite_patience 0); the last one held emodb/03a01Wa, emodb/03a02Fc
        """
        if torch.isfinite(loss):
            return
        self._nonfinite_ids = list(getattr(self, "_batch_ids", []))
        try:
            super().check_loss_isfinite(loss)
        except ValueError:
            ids = self._nonfinite_ids
            shown = ", ".join(map(str, ids[:6])) + (" ..." if len(ids) > 6 else "")
            raise EmoLobesError(
                f"the training loss is not finite in {self.nonfinite_count} batch"
                f"{'es' if self.nonfinite_count > 1 else ''} (nonfinite_patience {self.nonfinite_patience}); the last "
                f"one held {shown or 'unknown utterances'}",
                "check those files (python -m emo_lobes.data.corpora summarize lists unusable audio), lower the "
                "learning rate, or raise --nonfinite_patience",
            ) from None

    def evaluate_batch(self, batch, stage):
        """SpeechBrain's evaluation step, also summing this process's batch losses for :meth:`loss_over_processes`.

        A non-finite dev or test loss stops the run in one line naming the batch's utterances (it would otherwise
        be averaged into the stage loss and written as a result).
        """
        loss = super().evaluate_batch(batch, stage)
        if not torch.isfinite(torch.as_tensor(loss)).all():
            ids = list(getattr(batch, "id", None) or [])
            raise EmoLobesError(
                f"the {'dev' if stage == sb.Stage.VALID else 'test'} loss is not finite on a batch holding "
                f"{', '.join(map(str, ids[:6])) or 'unknown utterances'}{' ...' if len(ids) > 6 else ''}",
                "check those files (python -m emo_lobes.data.corpora summarize lists unusable audio) and rerun",
            )
        if self.step <= 1 or not hasattr(self, "_stage_loss_totals"):  # first batch of a dev or test pass
            self._stage_loss_totals = [0.0, 0]
        self._stage_loss_totals[0] += float(loss)
        self._stage_loss_totals[1] += 1
        return loss

    def loss_over_processes(self, stage_loss):
        """The dev/test loss averaged over the batches of every process (``stage_loss`` itself for one process).

        Call it once per dev/test pass, in ``on_stage_end``; with a single process it returns ``stage_loss``
        unchanged (SpeechBrain's mean of the batch losses).

        Arguments
        ---------
        stage_loss : float
            This process's mean batch loss, as SpeechBrain passes it to ``on_stage_end``.

        Returns
        -------
        float
            The mean batch loss over all processes.
        """
        totals, self._stage_loss_totals = getattr(self, "_stage_loss_totals", [0.0, 0]), [0.0, 0]
        if not is_distributed():
            return float(stage_loss)
        loss_sum, batches = sum_over_processes(totals)
        return loss_sum / max(batches, 1)

    def _wrap_distributed(self):
        """DDP without ``SyncBatchNorm`` on CPU; SpeechBrain's wrapping elsewhere."""
        if not (self.distributed_launch and self.device_type == "cpu"):
            return super()._wrap_distributed()
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DistributedDataParallel(
                    module, device_ids=None, find_unused_parameters=self.find_unused_parameters)
        return None
