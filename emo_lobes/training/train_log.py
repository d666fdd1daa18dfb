"""SpeechBrain's train log, without the repeated line of an epoch that an interrupted run logged and a resumed run redid.

A run killed after writing an epoch's line to ``train_log.txt`` but before that epoch's checkpoint was complete
(killed during the save, or between the two) resumes from the epoch's intra-epoch checkpoint, redoes the end of
the epoch and logs it again. SpeechBrain's ``FileTrainLogger`` only appends, so the file then holds that epoch
twice. :class:`ResumableFileTrainLogger` replaces the earlier run's last line when the new line has the same
``stats_meta`` (``epoch: 2`` ...); lines this process wrote itself are never replaced, so two test lines with the
same meta in one run both stay.

With ``use_tensorboard`` (the recipes' hparams switch of that name), every line also goes to SpeechBrain's
``TensorboardLogger`` (the ``tensorboard`` package, extra ``emo-lobes[tensorboard]``), numeric meta only (a phase
or stage name is not a scalar) and stepped by the line's epoch, so a resumed run continues its curves.
"""
import os

from speechbrain.utils.distributed import main_process_only
from speechbrain.utils.train_logger import FileTrainLogger, TensorboardLogger

from emo_lobes.errors import EmoLobesError

#: What separates the ``stats_meta`` part of a line from its stats (SpeechBrain's format).
STATS_SEPARATOR = " - "


class ResumableFileTrainLogger(FileTrainLogger):
    """``FileTrainLogger`` that drops an interrupted run's line of the epoch a resumed run logs again.

    Arguments
    ---------
    save_file : str
        The train log (``<output_folder>/train_log.txt``).
    precision : int
        Decimal places, as in ``FileTrainLogger``.
    use_tensorboard : bool
        Also log to TensorBoard event files in ``tensorboard_dir``.
    tensorboard_dir : str, optional
        Where the event files go.

    Example
    -------
    >>> import tempfile
    >>> log = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> first = ResumableFileTrainLogger(log)
    >>> first.log_stats({"epoch": 1}, train_stats={"loss": 0.5}, verbose=False)
    >>> first.log_stats({"epoch": 2}, train_stats={"loss": 0.4}, verbose=False)  # then the run is killed
    >>> resumed = ResumableFileTrainLogger(log)
    >>> resumed.log_stats({"epoch": 2}, train_stats={"loss": 0.3}, verbose=False)
    >>> resumed.log_stats({"epoch": 2}, test_stats={"loss": 0.3}, verbose=False)  # its own lines all stay
    >>> print(open(log).read().strip())
    epoch: 1 - train loss: 5.00e-01
    epoch: 2 - train loss: 3.00e-01
    epoch: 2 - test loss: 3.00e-01
    """

    def __init__(self, save_file, precision=2, use_tensorboard=False, tensorboard_dir=None):
        super().__init__(save_file, precision=precision)
        self._written = False  # whether this process has logged a line yet
        if use_tensorboard and not tensorboard_dir:
            raise EmoLobesError("use_tensorboard is on but no tensorboard_dir is given", "set tensorboard_dir")
        self.tensorboard_dir = tensorboard_dir if use_tensorboard else None
        self._tensorboard = None

    @main_process_only
    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=True):
        """Log like ``FileTrainLogger.log_stats``, first dropping an earlier run's last line of the same meta."""
        if not self._written:  # only this process's first line can repeat the interrupted run's last one
            self._written = True
            lines = self._read_lines()
            if lines and _meta_of(lines[-1]) == self._stats_to_string(stats_meta):
                temporary = f"{self.save_file}.tmp"
                with open(temporary, "w", encoding="utf-8") as fout:
                    fout.writelines(line + "\n" for line in lines[:-1])
                os.replace(temporary, self.save_file)
        super().log_stats(stats_meta, train_stats=train_stats, valid_stats=valid_stats, test_stats=test_stats,
                          verbose=verbose)
        if self.tensorboard_dir:
            self._log_tensorboard(stats_meta, {"train": train_stats, "valid": valid_stats, "test": test_stats})

    def _log_tensorboard(self, stats_meta, stats):
        if self._tensorboard is None:
            try:
                self._tensorboard = TensorboardLogger(self.tensorboard_dir)
            except ImportError:
                raise EmoLobesError("use_tensorboard is on, but the tensorboard package is not installed",
                                    "pip install 'emo-lobes[tensorboard]' (or tensorboard), or pass "
                                    "--use_tensorboard=False") from None
        epoch = next((stats_meta[key] for key in ("epoch", "Epoch loaded") if isinstance(stats_meta.get(key), int)),
                     None)
        if epoch is not None:  # step = epoch: a resumed run continues its curves instead of restarting at 1
            self._tensorboard.global_step["meta"] = epoch - 1
            for dataset, values in stats.items():
                for stat in values or {}:
                    self._tensorboard.global_step[dataset][stat] = epoch - 1
        numeric = {key: value for key, value in stats_meta.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)}
        plain = {dataset: {k: float(v) for k, v in values.items() if isinstance(v, (int, float))} if values else None
                 for dataset, values in stats.items()}
        self._tensorboard.log_stats(numeric, train_stats=plain["train"], valid_stats=plain["valid"],
                                    test_stats=plain["test"])

    def _read_lines(self):
        if not os.path.exists(self.save_file):
            return []
        with open(self.save_file, encoding="utf-8") as fin:
            return fin.read().splitlines()


def _meta_of(line):
    # The stats_meta part of a logged line.
    return line.split(STATS_SEPARATOR, 1)[0]
