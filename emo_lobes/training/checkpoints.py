"""Checkpoints that survive a kill: atomic saves, recovery from the newest loadable one, RNG state, tensor-only reads.

SpeechBrain 1.1.2's ``Checkpointer.save_checkpoint`` creates ``CKPT+<time>/``, writes ``CKPT.yaml`` first and
the parameter files after it, and a folder counts as a checkpoint as soon as ``CKPT.yaml`` exists. A kill
during a save therefore leaves a newest checkpoint with missing or truncated files, which the next run picks
and fails on (tested in ``tests/test_resume.py``). :class:`AtomicCheckpointer` writes each checkpoint in a
staging folder and renames it into place when complete, and recovers from the newest checkpoint that loads.

SpeechBrain's ``EpochCounterWithStopper`` is not registered for checkpointing itself, so the checkpointer
uses its parent's hooks and saves the epoch number only: a resumed run forgets the best dev score and the
epochs without improvement, and stops later than an uninterrupted one. :class:`CheckpointedEpochCounterWithStopper`
saves and restores that state. Recipes use it in their hparams::

    checkpointer: !new:emo_lobes.training.checkpoints.AtomicCheckpointer
        checkpoints_dir: !ref <save_folder>
        recoverables: {model: !ref <model>, counter: !ref <epoch_counter>, rng: !new:emo_lobes.training.checkpoints.RandomState}
    epoch_counter: !new:emo_lobes.training.checkpoints.CheckpointedEpochCounterWithStopper
        limit: 100
        limit_to_stop: 5
        limit_warmup: 0
        direction: min
"""
import logging
import os
import random
import shutil

import numpy as np
import torch
import yaml
from speechbrain.utils.checkpoints import Checkpoint, Checkpointer, mark_as_loader, mark_as_saver
from speechbrain.utils.checkpoints import register_checkpoint_hooks
from speechbrain.utils.distributed import ddp_barrier, if_main_process
from speechbrain.utils.epoch_loop import EpochCounterWithStopper

from emo_lobes.errors import EmoLobesError

logger = logging.getLogger(__name__)

#: Folder (inside the checkpoints folder) where a checkpoint is written before it is renamed into place.
STAGING_FOLDER = ".staging"


def _fsync_path(path):
    """Flush a file or folder to disk (folders: so that a rename in them survives a power cut)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems refuse fsync on folders
    finally:
        os.close(handle)


def error_summary(err, max_chars=200):
    """An exception's message on one line: its first two non-empty lines, stripped, at most ``max_chars``.

    Example
    -------
    >>> error_summary(RuntimeError("Error(s) in loading state_dict for Linear:\\n\\tsize mismatch for weight"))
    'Error(s) in loading state_dict for Linear: size mismatch for weight'
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    return " ".join(lines[:2])[:max_chars]


class AtomicCheckpointer(Checkpointer):
    """SpeechBrain's ``Checkpointer`` whose checkpoints appear whole or not at all.

    - ``save_checkpoint`` writes into ``<checkpoints_dir>/.staging/CKPT+.../`` and, once every process has
      written its files, flushes them and renames the folder to ``<checkpoints_dir>/CKPT+...`` (one atomic
      rename on the same file system). A kill at any point leaves either no new checkpoint or a complete one.
    - Old checkpoints are deleted as SpeechBrain does; one left half-deleted by a kill is older than the newest
      checkpoint and is skipped by recovery if ever chosen.
    - ``recover_if_possible`` tries the candidates in SpeechBrain's order (newest, or best by ``min_key`` /
      ``max_key``) and skips, with a warning, any whose metadata is unreadable, whose files are missing or empty
      or which fails to load (e.g. a checkpoint written by the plain ``Checkpointer`` when it was killed). If
      checkpoints exist but none loads, it stops with one line naming the folder and the fix.

    Arguments are those of ``speechbrain.utils.checkpoints.Checkpointer``.

    Example
    -------
    >>> import tempfile
    >>> model = torch.nn.Linear(2, 2)
    >>> folder = tempfile.mkdtemp()
    >>> checkpointer = AtomicCheckpointer(folder, {"model": model})
    >>> first = checkpointer.save_checkpoint(meta={"loss": 1.0})
    >>> sorted(os.listdir(first.path)), sorted(os.listdir(folder))  # no staging folder left behind
    (['CKPT.yaml', 'model.ckpt'], ['CKPT+...'])
    >>> second = checkpointer.save_checkpoint(meta={"loss": 2.0})
    >>> with open(second.paramfiles["model"], "wb") as broken:  # damage the newest checkpoint
    ...     _ = broken.write(b"not a torch file")
    >>> checkpointer.recover_if_possible().path == first.path  # the newest loadable one
    True
    """

    _staging = False

    def _staged(self, path):
        """The staging location of checkpoint folder ``path`` while a save is running, else ``path``."""
        return self.checkpoints_dir / STAGING_FOLDER / path.name if self._staging else path

    def _new_checkpoint_dirpath(self):
        return self._staged(super()._new_checkpoint_dirpath())  # the name is unique among finished checkpoints

    def _custom_checkpoint_dirpath(self, name):
        return self._staged(super()._custom_checkpoint_dirpath(name))

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):  # noqa: B006
        """Save every recoverable into a new checkpoint folder that appears in one rename.

        Arguments and return value are those of ``Checkpointer.save_checkpoint``.
        """
        if if_main_process():
            # whatever a kill during an earlier save left in the staging folder is incomplete: drop it
            shutil.rmtree(self.checkpoints_dir / STAGING_FOLDER, ignore_errors=True)
        self._staging = True
        try:
            staged = super().save_checkpoint(meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=logging.DEBUG)
        except (OSError, RuntimeError) as err:
            if isinstance(err, RuntimeError) and "writ" not in str(err) and "space" not in str(err):
                raise  # not an I/O failure (torch.save reports a full disk as a RuntimeError about writing)
            shutil.rmtree(self.checkpoints_dir / STAGING_FOLDER, ignore_errors=True)
            reason = getattr(err, "strerror", None) or str(err).splitlines()[0][:120]
            raise EmoLobesError(
                f"cannot save a checkpoint in {self.checkpoints_dir} ({reason}); the previous checkpoint is kept",
                "free disk space (or pass an --output_folder on another disk) and run the same command again: it "
                "resumes from the previous checkpoint",
            ) from None
        finally:
            self._staging = False
        ddp_barrier()  # every process has written its files
        checkpoint = None
        if if_main_process():
            final = self.checkpoints_dir / staged.path.name
            for path in staged.path.iterdir():
                _fsync_path(path)
            if final.exists():  # a re-save under the same custom name replaces the old one
                shutil.rmtree(final)
            os.rename(staged.path, final)
            _fsync_path(self.checkpoints_dir)
            os.rmdir(staged.path.parent)  # the staging folder is empty again
            checkpoint = Checkpoint(final, staged.meta, {key: final / path.name
                                                          for key, path in staged.paramfiles.items()})
            kind = "end-of-epoch" if end_of_epoch else "intra-epoch"
            logger.log(verbosity, f"Saved an {kind} checkpoint in {final}")
        ddp_barrier()  # the checkpoint is in place before any process goes on
        return checkpoint

    @staticmethod
    def _construct_checkpoint_objects(checkpoint_dirs):
        checkpoints = []
        for folder in checkpoint_dirs:
            try:
                found = Checkpointer._construct_checkpoint_objects([folder])
            except (OSError, yaml.YAMLError) as err:
                logger.warning(f"Skipping checkpoint {folder}: unreadable CKPT.yaml ({err})")
                continue
            if not isinstance(found[0].meta, dict) or "unixtime" not in found[0].meta:
                logger.warning(f"Skipping checkpoint {folder}: incomplete CKPT.yaml")
                continue
            checkpoints += found
        return checkpoints

    def missing_files(self, checkpoint):
        """Names of required recoverables whose file is absent or empty in ``checkpoint``.

        Example
        -------
        >>> import tempfile
        >>> checkpointer = AtomicCheckpointer(tempfile.mkdtemp(), {"model": torch.nn.Linear(2, 2)})
        >>> saved = checkpointer.save_checkpoint()
        >>> checkpointer.missing_files(saved)
        []
        """
        missing = []
        for name in self.recoverables:
            path = checkpoint.paramfiles.get(name)
            optional = self.allow_partial_load or self.optional_recoverables.get(name) or "dataloader" in name
            if path is None:
                if not optional:
                    missing.append(name)
            elif not os.path.isfile(path) or os.path.getsize(path) == 0:
                missing.append(name)
        return missing

    def recover_if_possible(self, importance_key=None, max_key=None, min_key=None, ckpt_predicate=None):
        """Load the first loadable checkpoint in SpeechBrain's order of preference; ``None`` when there is none.

        Arguments are those of ``Checkpointer.recover_if_possible``.

        Returns
        -------
        Checkpoint or None
            The checkpoint loaded.

        Raises
        ------
        EmoLobesError
            When checkpoints exist but none of them loads (e.g. the model's hparams changed since they were
            written).
        """
        candidates = self.find_checkpoints(importance_key, max_key, min_key, ckpt_predicate)
        reasons = []
        for checkpoint in candidates:
            missing = self.missing_files(checkpoint)
            if missing:
                reasons.append(f"{checkpoint.path.name}: missing or empty {', '.join(missing)}")
                logger.warning(f"Skipping incomplete checkpoint {checkpoint.path} (missing {', '.join(missing)})")
                continue
            try:
                self.load_checkpoint(checkpoint)
            except Exception as err:  # any failure to read or apply a file makes this checkpoint unusable
                summary = error_summary(err)
                reasons.append(f"{checkpoint.path.name}: {summary}")
                logger.warning(f"Skipping checkpoint {checkpoint.path} that does not load: {summary}")
                continue
            return checkpoint
        if candidates:
            raise EmoLobesError(
                f"no checkpoint in {self.checkpoints_dir} can be loaded ({reasons[0]})",
                "run with the hparams that wrote them, or move that folder away to train from scratch")
        logger.info("Would load a checkpoint here, but none found yet.")
        return None


@register_checkpoint_hooks
class RandomState:
    """The random number generators' state (Python, NumPy, torch CPU and CUDA) as a checkpoint recoverable.

    With it in the checkpointer, a resumed run draws the same dropout masks and augmentations as an
    uninterrupted one. It is saved as tensors only (``torch.load(weights_only=True)`` reads it back). Under
    torchrun the main process's state is saved and every process restores it.
    Pair it with :class:`emo_lobes.training.brain.EmoLobesBrain`, whose training loader has its own generator, so that
    creating the loader does not consume a draw from torch's global generator.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "rng.ckpt")
    >>> state = RandomState()
    >>> state.save(path)
    >>> first = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    >>> state.load(path)
    >>> (random.random(), float(np.random.rand()), float(torch.rand(1))) == first
    True
    """

    @mark_as_saver
    def save(self, path):
        """Write the generators' states to ``path``."""
        python_state = random.getstate()
        numpy_state = np.random.get_state()
        state = {
            "python_version": torch.tensor(python_state[0]),
            "python_state": torch.tensor(python_state[1], dtype=torch.int64),
            "python_gauss": torch.tensor(float("nan") if python_state[2] is None else python_state[2]),
            "numpy_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "numpy_pos": torch.tensor(numpy_state[2]),
            "numpy_has_gauss": torch.tensor(numpy_state[3]),
            "numpy_gauss": torch.tensor(numpy_state[4]),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
        torch.save(state, path)

    @mark_as_loader
    def load(self, path, end_of_epoch=True):
        """Restore the generators' states from ``path`` (tensors only)."""
        del end_of_epoch  # the state is exact at any point of an epoch
        state = torch.load(path, map_location="cpu", weights_only=True)
        gauss = float(state["python_gauss"])
        random.setstate((int(state["python_version"]), tuple(int(x) for x in state["python_state"]),
                         None if gauss != gauss else gauss))
        np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), int(state["numpy_pos"]),
                             int(state["numpy_has_gauss"]), float(state["numpy_gauss"])))
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(list(state["cuda"]))


def load_tensors(path, device="cpu"):
    """Read a checkpoint file that holds only tensors and plain containers (no pickled code is run).

    Arguments
    ---------
    path : str
        A ``.ckpt`` file written by ``torch.save`` (a state dict, normalisation statistics).
    device : str
        Where the tensors go.

    Returns
    -------
    object
        What the file holds.

    Raises
    ------
    EmoLobesError
        When the file is missing, truncated or holds anything other than tensors and plain values.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "m.ckpt")
    >>> torch.save(torch.nn.Linear(2, 3).state_dict(), path)
    >>> {k: tuple(v.shape) for k, v in load_tensors(path).items()}
    {'weight': (3, 2), 'bias': (3,)}
    """
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # missing, truncated, or pickled objects that weights_only refuses
        raise EmoLobesError(f"cannot read tensors from {path} ({error_summary(err)})",
                            "use the checkpoint folder of a finished run of this recipe") from None


def load_module_tensors(module, path, device="cpu"):
    """Load a recoverable module's checkpoint file with :func:`load_tensors` (a state dict or normalisation stats).

    SpeechBrain's ``InputNormalization`` saves its statistics dict rather than a state dict; other modules are
    loaded strictly with ``load_state_dict``.

    Arguments
    ---------
    module : torch.nn.Module
        The module to fill.
    path : str
        Its ``.ckpt`` file.
    device : str
        Where the tensors go.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "m.ckpt")
    >>> source, target = torch.nn.Linear(2, 3), torch.nn.Linear(2, 3)
    >>> torch.save(source.state_dict(), path)
    >>> load_module_tensors(target, path)
    >>> torch.equal(source.weight, target.weight)
    True
    """
    state = load_tensors(path, device)
    if hasattr(module, "_load_statistics_dict"):
        module._load_statistics_dict(state)
        return
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise EmoLobesError(f"{path} does not fit the module {type(module).__name__} ({error_summary(err)})",
                            "use the hyperparams.yaml saved with that checkpoint") from None


@register_checkpoint_hooks
class CheckpointedEpochCounterWithStopper(EpochCounterWithStopper):
    """SpeechBrain's ``EpochCounterWithStopper`` whose early-stopping state is saved with every checkpoint.

    The epoch, the best epoch and score and the stop flag are written (YAML) and restored, so a run resumed from
    any checkpoint stops at the epoch an uninterrupted run stops at. A checkpoint holding only an epoch number
    (written through SpeechBrain's class) is read too. Arguments are those of ``EpochCounterWithStopper``.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "counter.ckpt")
    >>> counter = CheckpointedEpochCounterWithStopper(limit=10, limit_to_stop=2, limit_warmup=0, direction="min")
    >>> for loss in (1.0, 0.5, 0.7):
    ...     _ = next(counter); counter.update_metric(loss)
    >>> counter.save(path)
    >>> resumed = CheckpointedEpochCounterWithStopper(limit=10, limit_to_stop=2, limit_warmup=0, direction="min")
    >>> resumed.load(path)
    >>> _ = next(resumed); resumed.update_metric(0.9)  # epoch 4: a second epoch without improvement
    >>> resumed.current, resumed.best_limit, resumed.best_score, resumed.should_stop
    (4, 2, 0.5, True)
    """

    @mark_as_saver
    def save(self, path):
        """Write the epoch and the early-stopping state."""
        state = {"current_epoch": self.current, "best_epoch": self.best_limit, "best_score": float(self.best_score),
                 "should_stop": bool(self.should_stop)}
        with open(path, "w", encoding="utf-8") as out:
            yaml.safe_dump(state, out)

    @mark_as_loader
    def load(self, path, end_of_epoch=True):
        """Restore them; an intra-epoch checkpoint re-enters the epoch it was written in."""
        with open(path, encoding="utf-8") as fin:
            state = yaml.safe_load(fin)
        if not isinstance(state, dict):  # SpeechBrain's EpochCounter format: the epoch alone
            state = {"current_epoch": int(state)}
        self.current = int(state["current_epoch"]) - (0 if end_of_epoch else 1)
        self.best_limit = int(state.get("best_epoch", self.best_limit))
        self.best_score = float(state.get("best_score", self.best_score))
        self.should_stop = bool(state.get("should_stop", self.should_stop))
