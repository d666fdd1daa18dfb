"""Where a training epoch's time goes: data loading, feature computation, and the model itself."""
import time

import speechbrain as sb
import torch


class _ModuleTimer:
    """Accumulates the wall time spent in the forward passes of some modules (through forward hooks)."""

    def __init__(self, modules):
        self.seconds = 0.0
        self._start = {}
        self._handles = []
        for module in modules:
            self._handles.append(module.register_forward_pre_hook(self._pre))
            self._handles.append(module.register_forward_hook(self._post))

    def _pre(self, module, args):
        self._start[id(module)] = time.perf_counter()

    def _post(self, module, args, output):
        start = self._start.pop(id(module), None)
        if start is not None:
            self.seconds += time.perf_counter() - start

    def remove(self):
        for handle in self._handles:
            handle.remove()


def profile_training_epoch(brain, train_set, feature_modules=(), loader_kwargs=None, max_batches=None):
    """Train ``brain`` for one epoch (or ``max_batches``) and say where the time went.

    The first batch is run but left out of the numbers (it pays for worker start-up and lazy
    initialisation). "Outside the model" is the time spent waiting for the data loader plus the time in
    the forward passes of ``feature_modules`` (feature extraction and normalisation): the share a faster
    input pipeline or a feature cache could save.

    Arguments
    ---------
    brain : speechbrain.Brain
        A Brain ready to train (modules, optimiser class, hparams).
    train_set : Dataset or DataLoader
        Training data; a Dataset is wrapped with ``brain.make_dataloader``.
    feature_modules : sequence of torch.nn.Module
        The modules that compute input features (timed as outside the model).
    loader_kwargs : dict, optional
        DataLoader arguments (``batch_size``, ``num_workers`` ...).
    max_batches : int, optional
        Stop after this many batches.

    Returns
    -------
    dict
        ``utterances``, ``batches``, ``seconds``, ``utterances_per_s``, ``load_s``, ``feature_s``,
        ``outside_model_share``.

    Example
    -------
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> class TinyBrain(sb.Brain):
    ...     def compute_forward(self, batch, stage):
    ...         return self.modules.model(self.modules.features(batch.x_t.data))
    ...     def compute_objectives(self, predictions, batch, stage):
    ...         return predictions.pow(2).mean()
    >>> data = {str(i): {"x": torch.randn(4).tolist()} for i in range(8)}
    >>> dataset = DynamicItemDataset(data)
    >>> dataset.add_dynamic_item(lambda x: torch.tensor(x), takes="x", provides="x_t")
    >>> dataset.set_output_keys(["id", "x_t"])
    >>> modules = {"features": torch.nn.Identity(), "model": torch.nn.Linear(4, 1)}
    >>> brain = TinyBrain(modules, lambda p: torch.optim.SGD(p, 0.1), run_opts={"device": "cpu"})
    >>> stats = profile_training_epoch(brain, dataset, [brain.modules.features], {"batch_size": 2})
    >>> stats["utterances"], stats["batches"], 0.0 <= stats["outside_model_share"] <= 1.0
    (6, 3, True)
    """
    loader = train_set
    if not isinstance(train_set, torch.utils.data.DataLoader):
        loader = brain.make_dataloader(train_set, stage=sb.Stage.TRAIN, ckpt_prefix=None, **(loader_kwargs or {}))
    brain.on_fit_start()
    brain.on_stage_start(sb.Stage.TRAIN, 1)
    brain.modules.train()
    timer = _ModuleTimer(feature_modules)
    stats = {"utterances": 0, "batches": 0, "seconds": 0.0, "load_s": 0.0, "feature_s": 0.0}
    try:
        iterator = iter(loader)
        first = True
        while max_batches is None or stats["batches"] < max_batches:
            t_load = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                break
            load = time.perf_counter() - t_load
            feature_before = timer.seconds
            t_step = time.perf_counter()
            brain.fit_batch(batch)
            step = time.perf_counter() - t_step
            if first:  # start-up cost, not steady state
                first = False
                continue
            stats["batches"] += 1
            stats["utterances"] += len(batch.id)
            stats["load_s"] += load
            stats["feature_s"] += timer.seconds - feature_before
            stats["seconds"] += load + step
    finally:
        timer.remove()
    total = stats["seconds"]
    stats["utterances_per_s"] = stats["utterances"] / total if total > 0 else 0.0
    stats["outside_model_share"] = (stats["load_s"] + stats["feature_s"]) / total if total > 0 else 0.0
    for key in ("seconds", "load_s", "feature_s", "utterances_per_s", "outside_model_share"):
        stats[key] = round(stats[key], 4)
    return stats
