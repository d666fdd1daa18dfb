"""SpeechBrain's train log, without the repeated line of an epoch that an interrupted run logged and a resumed run redid.

A run killed after writing an epoch's line to ``train_log.txt`` but before that epoch's checkpoint was complete
(killed during the save, or between the two) resumes from the epoch's intra-epoch checkpoint, redoes the end of
the epoch and logs it again. SpeechBrain's ``FileTrainLogger`` only appends, so the file then holds that epoch
twice. :class:`ResumableFileTrainLogger` replaces the earlier run's last line when the new line has the same
``stats_meta`` (``epoch: 2`` ...); lines this process wrote itself are never replaced, so two test lines with the
same meta in one run both stay.
"""
import os

from speechbrain.utils.distributed import main_process_only
from speechbrain.utils.train_logger import FileTrainLogger

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

    def __init__(self, save_file, precision=2):
        super().__init__(save_file, precision=precision)
        self._inherited_lines = None  # lines the file held before this process's first write

    @main_process_only
    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None, verbose=True):
        """Log like ``FileTrainLogger.log_stats``, first dropping an earlier run's last line of the same meta."""
        lines = self._read_lines()
        if self._inherited_lines is None:
            self._inherited_lines = len(lines)
        meta = self._stats_to_string(stats_meta)
        if lines and len(lines) == self._inherited_lines and _meta_of(lines[-1]) == meta:
            lines.pop()
            self._inherited_lines -= 1
            temporary = f"{self.save_file}.tmp"
            with open(temporary, "w", encoding="utf-8") as fout:
                fout.writelines(line + "\n" for line in lines)
            os.replace(temporary, self.save_file)
        super().log_stats(stats_meta, train_stats=train_stats, valid_stats=valid_stats, test_stats=test_stats,
                          verbose=verbose)

    def _read_lines(self):
        if not os.path.exists(self.save_file):
            return []
        with open(self.save_file, encoding="utf-8") as fin:
            return fin.read().splitlines()


def _meta_of(line):
    # The stats_meta part of a logged line.
    return line.split(STATS_SEPARATOR, 1)[0]
