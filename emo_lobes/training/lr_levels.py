"""Learning-rate levels (0.1 -> 0.01 -> 0.001) that drop on a dev plateau or after fixed step budgets (EmoNet 5.2.2).

SpeechBrain's ReduceLROnPlateau halves on a loss plateau and never stops; the paper's schedule moves through a
fixed list of levels on a dev-UAR plateau and stops after one more plateau at the last level, so it is written here.
"""
import json

from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from speechbrain.utils.epoch_loop import EpochCounter


def inverse_time_decay(lr, decay, step):
    """Keras-style per-step decay: ``lr / (1 + decay * step)`` (the paper's "learning rate decay of 1e-6").

    Arguments
    ---------
    lr : float
        The current level.
    decay : float
        Decay per step.
    step : int
        Optimiser steps (or round-robin rounds) so far.

    Returns
    -------
    float
        The learning rate for this step.

    Example
    -------
    >>> inverse_time_decay(0.1, 1e-6, 0), round(inverse_time_decay(0.1, 1e-6, 1_000_000), 6)
    (0.1, 0.05)
    """
    return lr / (1.0 + decay * step)


def budget_level(step, steps_per_level, n_levels):
    """The level index after ``step`` steps when each level lasts ``steps_per_level`` steps (multi-domain runs).

    Arguments
    ---------
    step : int
        Steps (rounds) done so far.
    steps_per_level : int
        Budget of each level (2500 rounds in the paper).
    n_levels : int
        Number of levels.

    Returns
    -------
    int
        Level index, capped at the last level.

    Example
    -------
    >>> [budget_level(s, 2500, 3) for s in (0, 2499, 2500, 5000, 9999)]
    [0, 0, 1, 2, 2]
    """
    return min(step // steps_per_level, n_levels - 1)


@register_checkpoint_hooks
class PlateauLevelsEpochCounter(EpochCounter):
    """Epoch counter whose learning-rate level drops when the dev metric stalls, and which stops after a stall at
    the last level (EmoNet Section 4.3: drop by 10 after ``patience`` epochs without dev-UAR gain, twice, then
    train until another ``patience`` epochs pass without gain).

    Call :meth:`update_metric` once per epoch with the dev metric (higher is better); read :attr:`lr`.

    Arguments
    ---------
    limit : int
        Hard maximum number of epochs.
    patience : int
        Epochs without improvement before dropping a level (or stopping at the last one); 50 in the paper.
    levels : sequence of float
        Learning rates, in order (0.1, 0.01, 0.001 in the paper).

    Example
    -------
    >>> counter = PlateauLevelsEpochCounter(limit=100, patience=2, levels=(0.1, 0.01))
    >>> history = []
    >>> for epoch in counter:
    ...     history.append(counter.lr)
    ...     counter.update_metric(0.5 if epoch == 1 else 0.4)
    >>> history
    [0.1, 0.1, 0.1, 0.01, 0.01]

    Its whole state (epoch, level, best metric, epochs without gain, stop flag) is saved with each checkpoint, so a
    resumed run follows the same schedule:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "counter.ckpt")
    >>> counter._save(path)
    >>> resumed = PlateauLevelsEpochCounter(limit=100, patience=2, levels=(0.1, 0.01))
    >>> resumed._recover(path)
    >>> resumed.state() == counter.state(), resumed.state()
    (True, {'current': 5, 'level': 1, 'best': 0.5, 'epochs_without_gain': 2, 'should_stop': True})
    """

    def __init__(self, limit, patience, levels=(0.1, 0.01, 0.001)):
        super().__init__(limit)
        self.patience = int(patience)
        self.levels = [float(lr) for lr in levels]
        self.level = 0
        self.best = float("-inf")
        self.epochs_without_gain = 0
        self.should_stop = False

    @property
    def lr(self):
        """The learning rate of the current level."""
        return self.levels[self.level]

    def __next__(self):
        if self.should_stop:
            raise StopIteration
        return super().__next__()

    def update_metric(self, metric):
        """Record this epoch's dev metric; drop a level or stop when it has not improved for ``patience`` epochs.

        Arguments
        ---------
        metric : float
            Dev metric (higher is better).
        """
        if metric > self.best:
            self.best = float(metric)
            self.epochs_without_gain = 0
            return
        self.epochs_without_gain += 1
        if self.epochs_without_gain >= self.patience:
            if self.level < len(self.levels) - 1:
                self.level += 1
                self.epochs_without_gain = 0
            else:
                self.should_stop = True

    def state(self):
        """The counter's state as a JSON-serialisable dict."""
        return {"current": self.current, "level": self.level, "best": self.best,
                "epochs_without_gain": self.epochs_without_gain, "should_stop": self.should_stop}

    @mark_as_saver
    def _save(self, path):
        with open(path, "w", encoding="utf-8") as state_file:
            json.dump(self.state(), state_file)

    @mark_as_loader
    def _recover(self, path, end_of_epoch=True):
        with open(path, encoding="utf-8") as state_file:
            state = json.load(state_file)
        self.current = state["current"] if end_of_epoch else state["current"] - 1
        self.level, self.best = state["level"], state["best"]
        self.epochs_without_gain, self.should_stop = state["epochs_without_gain"], state["should_stop"]
