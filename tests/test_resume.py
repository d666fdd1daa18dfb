"""Resumption: a fold set killed mid-epoch resumes at its fold and checkpoint and ends as an uninterrupted run does.

Also: checkpoints survive a kill during a save, recovery skips broken checkpoints, the early-stopping state and
the random generators are restored exactly.
"""
import glob
import json
import os
import signal
import subprocess
import sys

import pytest
import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import Checkpointer, mark_as_loader, mark_as_saver, register_checkpoint_hooks
from speechbrain.utils.epoch_loop import EpochCounterWithStopper

from emo_lobes.training.brain import EmoLobesBrain
from emo_lobes.training.checkpoints import STAGING_FOLDER, AtomicCheckpointer, CheckpointedEpochCounterWithStopper, RandomState
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.synthetic import write_corpus
from run_checks import checkpoint_state, intra_epoch_checkpoint, kill_inside_epoch, newest_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
# Tiny MLEE (as in test_recipe_mlee.py), batches of 8 (11 steps an epoch), an intra-epoch checkpoint every step.
TINY = ["--speed_factors=[]", "--num_workers=0", "--cnn_channels=[2,2,2]", "--lstm_size=4", "--attention_size=4",
        "--dense_size=4", "--max_frequency=1000", "--batch_size=8", "--number_of_epochs=2", "--noprogressbar",
        "--ckpt_interval_minutes=0", "--ckpt_interval_steps=1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus("iemocap", str(tmp_path_factory.mktemp("resume_data")), seed=0)


def test_fold_set_killed_mid_epoch_resumes_at_its_fold_and_matches_an_uninterrupted_run(corpus, tmp_path):
    common = [f"--data_folder={corpus}", *TINY]
    runner = [sys.executable, "tools/cross_validate.py", "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee.yaml",
              "--folds", "1-2", "--output_folder", str(tmp_path / "cv"), *common]
    reference = subprocess.Popen(
        [sys.executable, "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee.yaml", "--fold=2",
         f"--output_folder={tmp_path / 'reference'}", *common],
        cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # the fold set: fold 1 runs to its end, then fold 2 is killed (runner and train.py, as a pre-emption does)
    # once it has saved an intra-epoch checkpoint of its second epoch
    interrupted = subprocess.Popen(runner, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
    resume_from, _ = kill_inside_epoch(interrupted, tmp_path / "cv" / "fold_2" / "save", 2, whole_group=True)
    assert reference.wait() == 0, reference.stderr.read()[-2000:]
    assert not (tmp_path / "cv" / "fold_2" / "test_results.json").exists()
    fold_1_results = tmp_path / "cv" / "fold_1" / "test_results.json"
    fold_1_written = fold_1_results.stat().st_mtime_ns

    resumed = subprocess.run(runner, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert "[cv] fold 1: done already" in resumed.stdout and fold_1_results.stat().st_mtime_ns == fold_1_written
    assert f"Loading a checkpoint from {resume_from}" in resumed.stdout
    # the resumed fold equals the uninterrupted run: every epoch's losses, then every test prediction and probability
    ours, theirs = tmp_path / "cv" / "fold_2", tmp_path / "reference"
    assert (ours / "train_log.txt").read_text() == (theirs / "train_log.txt").read_text()
    results = [json.loads((folder / "test_results.json").read_text()) for folder in (ours, theirs)]
    assert results[0]["predictions"] == results[1]["predictions"] and results[0]["n"] > 0
    assert results[0]["test_loss"] == results[1]["test_loss"]
    assert json.loads((tmp_path / "cv" / "cv_results.json").read_text())["n_folds"] == 2
    # the checkpoint carries the early-stopping state of the last epoch (updated before saving)
    best = newest_checkpoint(ours / "save")
    counter = checkpoint_state(best)[1]
    assert counter["current_epoch"] == 2 and counter["best_epoch"] in (1, 2)
    assert counter["best_score"] == pytest.approx(min(checkpoint_state(f)[0]["loss"] for f in
                                                      glob.glob(str(ours / "save" / "CKPT+*"))))


@pytest.mark.parametrize("n_dev_speakers", [1, 0])  # 0: no dev set, a checkpoint after each training epoch
def test_languagemtl_run_killed_mid_epoch_resumes_and_matches_an_uninterrupted_run(tmp_path, n_dev_speakers):
    data = tmp_path / "data"
    write_corpus("emodb", str(data), seed=0)
    # batches of 2: about 30 steps an epoch, an intra-epoch checkpoint after each; features cached once, shared
    command = [sys.executable, "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml",
               f"--data_folder={data}", "--corpus=emodb", f"--feature_cache_folder={tmp_path / 'cache'}",
               f"--n_dev_speakers={n_dev_speakers}", "--hidden_size=8", "--number_of_epochs=3", "--batch_size=2", "--noprogressbar", "--cpu_threads=1",
               "--ckpt_interval_minutes=0", "--ckpt_interval_steps=1"]
    reference = subprocess.Popen(command + [f"--output_folder={tmp_path / 'reference'}"], cwd=ROOT, env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    resumed_command = command + [f"--output_folder={tmp_path / 'resumed'}"]
    interrupted = subprocess.Popen(resumed_command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    resume_from, _ = kill_inside_epoch(interrupted, tmp_path / "resumed" / "save", 2)
    assert reference.wait() == 0, reference.stderr.read()[-2000:]
    resumed = subprocess.run(resumed_command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert f"Loading a checkpoint from {resume_from}" in resumed.stdout
    ours, theirs = tmp_path / "resumed", tmp_path / "reference"
    assert (ours / "train_log.txt").read_text() == (theirs / "train_log.txt").read_text()
    assert (json.loads((ours / "test_results.json").read_text())["predictions"]
            == json.loads((theirs / "test_results.json").read_text())["predictions"])


# A recoverable whose save hook kills its own process: the recoverables before it are written, those after not.
KILL_DURING_SAVE = """
import os, signal, sys, torch
from speechbrain.utils.checkpoints import Checkpointer, mark_as_loader, mark_as_saver, register_checkpoint_hooks
from emo_lobes.training.checkpoints import AtomicCheckpointer

@register_checkpoint_hooks
class KillDuringSave:
    armed = False
    @mark_as_saver
    def save(self, path):
        open(path, "w").write("written")
        if self.armed:
            os.kill(os.getpid(), signal.SIGKILL)
    @mark_as_loader
    def load(self, path, end_of_epoch):
        pass

torch.manual_seed(0)
model, bomb = torch.nn.Linear(2, 2), KillDuringSave()
kind = AtomicCheckpointer if sys.argv[2] == "atomic" else Checkpointer
checkpointer = kind(sys.argv[1], {"bomb": bomb, "model": model})
checkpointer.save_checkpoint(meta={"save": 1})
bomb.armed = True
with torch.no_grad():
    model.weight.add_(1.0)
checkpointer.save_checkpoint(meta={"save": 2})
"""


@register_checkpoint_hooks
class NoOpRecoverable:
    """Stands in for the killing recoverable when checkpoints are read back."""

    @mark_as_saver
    def save(self, path):
        open(path, "w").write("written")

    @mark_as_loader
    def load(self, path, end_of_epoch):
        del path, end_of_epoch


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_as_the_latest(tmp_path):
    runs = {kind: subprocess.Popen([sys.executable, "-c", KILL_DURING_SAVE, str(tmp_path / kind), kind], cwd=ROOT,
                                   env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for kind in ("plain", "atomic")}
    assert all(run.wait() == -signal.SIGKILL for run in runs.values())
    torch.manual_seed(0)
    first_weights = torch.nn.Linear(2, 2).weight.detach().clone()

    # SpeechBrain's Checkpointer lists the half-written checkpoint as the latest and fails to load it (a KeyError
    # on its lookup of optional recoverables, before the RuntimeError it means to raise)
    plain = Checkpointer(tmp_path / "plain", {"bomb": NoOpRecoverable(), "model": torch.nn.Linear(2, 2)})
    assert len(plain.list_checkpoints()) == 2
    assert "model.ckpt" not in os.listdir(plain.find_checkpoint().path)
    with pytest.raises((RuntimeError, KeyError), match="model"):
        plain.recover_if_possible()

    # ours never shows it: one checkpoint, the first, and the staging leftovers are ignored
    model = torch.nn.Linear(2, 2)
    atomic = AtomicCheckpointer(tmp_path / "atomic", {"bomb": NoOpRecoverable(), "model": model})
    assert [c.meta["save"] for c in atomic.list_checkpoints()] == [1]
    assert os.listdir(tmp_path / "atomic" / STAGING_FOLDER)  # what the kill left, outside the listing
    assert atomic.recover_if_possible().meta["save"] == 1 and torch.equal(model.weight, first_weights)
    # and it also recovers from the plain Checkpointer's folder, skipping the incomplete checkpoint
    model = torch.nn.Linear(2, 2)
    fallback = AtomicCheckpointer(tmp_path / "plain", {"bomb": NoOpRecoverable(), "model": model})
    assert fallback.recover_if_possible().meta["save"] == 1 and torch.equal(model.weight, first_weights)
    # the next save clears the staging leftovers
    atomic.save_checkpoint(meta={"save": 3})
    assert not (tmp_path / "atomic" / STAGING_FOLDER).exists()


def test_recovery_skips_corrupt_checkpoints_and_fails_in_one_line_when_none_loads(tmp_path):
    model = torch.nn.Linear(3, 2)
    checkpointer = AtomicCheckpointer(tmp_path, {"model": model})
    first = checkpointer.save_checkpoint(meta={"loss": 0.5})
    second = checkpointer.save_checkpoint(meta={"loss": 0.7})
    second.paramfiles["model"].write_bytes(second.paramfiles["model"].read_bytes()[:40])  # truncated
    assert checkpointer.recover_if_possible().path == first.path
    assert checkpointer.recover_if_possible(min_key="loss").path == first.path
    (first.path / "CKPT.yaml").write_text("{unixtime: [")  # unreadable metadata: not listed at all
    assert checkpointer.list_checkpoints() == [second]
    with pytest.raises(EmoLobesError, match=r"no checkpoint in .* can be loaded \(CKPT\+.*\)\. Fix: run with the "
                                            r"hparams that wrote them, or move that folder away"):
        checkpointer.recover_if_possible()
    # a model whose size changed since the checkpoints were written gets the same one-line error
    other = AtomicCheckpointer(tmp_path / "other", {"model": torch.nn.Linear(3, 2)})
    other.save_checkpoint()
    with pytest.raises(EmoLobesError, match="size mismatch"):
        AtomicCheckpointer(tmp_path / "other", {"model": torch.nn.Linear(4, 2)}).recover_if_possible()


def test_early_stopping_state_survives_a_checkpoint_only_with_our_counter(tmp_path):
    def run_and_resume(counter_class, folder):
        counter = counter_class(limit=10, limit_to_stop=2, limit_warmup=0, direction="min")
        checkpointer = Checkpointer(folder, {"counter": counter})
        for loss in (1.0, 0.4, 0.6):  # best at epoch 2, then one epoch without improvement
            next(counter)
            counter.update_metric(loss)
            checkpointer.save_checkpoint()
        resumed = counter_class(limit=10, limit_to_stop=2, limit_warmup=0, direction="min")
        Checkpointer(folder, {"counter": resumed}).recover_if_possible()
        stopped_at = None
        for epoch, loss in zip(resumed, (0.5, 0.3, 0.3, 0.3, 0.3, 0.3)):  # 4: second epoch without improvement
            resumed.update_metric(loss)
            stopped_at = epoch
        return resumed, stopped_at

    ours, stopped = run_and_resume(CheckpointedEpochCounterWithStopper, tmp_path / "ours")
    assert (ours.best_limit, ours.best_score, stopped) == (2, 0.4, 4)
    plain, plain_stopped = run_and_resume(EpochCounterWithStopper, tmp_path / "plain")
    # SpeechBrain's class forgot epoch 2's score: it trains on until patience runs out again at epoch 7
    assert plain.best_score == 0.3 and plain_stopped == 7 and plain.should_stop


class DropoutRegression(EmoLobesBrain):
    """A dropout model: its training draws from torch's global generator at every step."""

    def compute_forward(self, batch, stage):
        return self.modules.model(batch[0])

    def compute_objectives(self, predictions, batch, stage):
        if stage == sb.Stage.TRAIN and getattr(self, "stop_at", None) == (self.hparams.counter.current, self.step):
            raise KeyboardInterrupt  # stands in for a kill after the previous step's checkpoint
        return torch.nn.functional.mse_loss(predictions, batch[1])


def train_dropout_model(folder, brain_class=DropoutRegression, stop_at=None):
    """Train 2 epochs (checkpoint every step); ``stop_at=(epoch, step)`` interrupts, a second call resumes."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
    counter = CheckpointedEpochCounterWithStopper(limit=2, limit_to_stop=5, limit_warmup=0, direction="min")
    checkpointer = AtomicCheckpointer(folder, {"model": model, "counter": counter, "rng": RandomState()})
    brain = brain_class({"model": model}, lambda params: torch.optim.SGD(params, lr=0.1), hparams={"counter": counter},
                        run_opts={"device": "cpu", "noprogressbar": True, "ckpt_interval_steps": 1},
                        checkpointer=checkpointer)
    brain.stop_at = stop_at
    generator = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.randn(24, 4, generator=generator),
                                          torch.randn(24, 1, generator=generator))
    try:
        brain.fit(counter, data, train_loader_kwargs={"batch_size": 4, "shuffle": True})
    except KeyboardInterrupt:
        return None
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_random_state_and_loader_generator_make_a_dropout_model_resume_exactly(tmp_path):
    uninterrupted = train_dropout_model(tmp_path / "whole")
    assert train_dropout_model(tmp_path / "cut", stop_at=(2, 3)) is None
    assert newest_checkpoint(tmp_path / "cut") == intra_epoch_checkpoint(tmp_path / "cut", 2)  # after step 2
    assert torch.equal(train_dropout_model(tmp_path / "cut"), uninterrupted)

    class PlainLoaderRegression(DropoutRegression):
        def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
            return sb.Brain.make_dataloader(self, dataset, stage, ckpt_prefix=ckpt_prefix, **loader_kwargs)

    # with SpeechBrain's loader, creating it draws from the restored global generator: dropout masks shift
    plain_uninterrupted = train_dropout_model(tmp_path / "plain_whole", PlainLoaderRegression)
    assert train_dropout_model(tmp_path / "plain_cut", PlainLoaderRegression, stop_at=(2, 3)) is None
    assert not torch.equal(train_dropout_model(tmp_path / "plain_cut", PlainLoaderRegression), plain_uninterrupted)


def test_a_resumed_epoch_is_logged_once_by_every_recipe(tmp_path):
    """A run killed after logging epoch 2 but before its checkpoint was complete redoes epoch 2 when resumed:
    ``train_log.txt`` then holds epoch 2 once (the resumed run's line), in every recipe's hparams."""
    from emo_lobes.training.train_log import ResumableFileTrainLogger

    yamls = sorted(glob.glob(os.path.join(ROOT, "recipes", "*", "hparams", "*.yaml")))
    loggers = [line for path in yamls for line in open(path, encoding="utf-8") if line.startswith("train_logger:")]
    assert len(loggers) == len(yamls) > 20
    assert all("emo_lobes.training.train_log.ResumableFileTrainLogger" in line for line in loggers), loggers
    log = tmp_path / "train_log.txt"
    interrupted = ResumableFileTrainLogger(str(log))
    for epoch, loss in ((1, 0.9), (2, 0.8)):
        interrupted.log_stats({"epoch": epoch, "lr": 0.1}, train_stats={"loss": loss}, valid_stats={"loss": loss},
                              verbose=False)
    resumed = ResumableFileTrainLogger(str(log))
    for epoch, loss in ((2, 0.7), (3, 0.6)):
        resumed.log_stats({"epoch": epoch, "lr": 0.1}, train_stats={"loss": loss}, valid_stats={"loss": loss},
                          verbose=False)
    resumed.log_stats({"Epoch loaded": 3}, test_stats={"loss": 0.6}, verbose=False)
    resumed.log_stats({"Epoch loaded": 3}, test_stats={"loss": 0.5}, verbose=False)  # a second test set: kept
    lines = log.read_text().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["epoch: 1, lr: 1.00e-01", "epoch: 2, lr: 1.00e-01",
                                                        "epoch: 3, lr: 1.00e-01", "Epoch loaded: 3", "Epoch loaded: 3"]
    assert "train loss: 7.00e-01" in lines[1]  # the resumed run's epoch 2
