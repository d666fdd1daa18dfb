"""The hparams switch for SpeechBrain's TensorBoard logger: off by default in every recipe, curves stepped by epoch when
on (a resumed run continues them), and a one-line error when the tensorboard package is missing."""
import glob
import os
import subprocess
import sys

import pytest

from emo_lobes.data.synthetic import write_corpus
from emo_lobes.errors import EmoLobesError
from emo_lobes.training import train_log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_every_recipe_has_the_switch_off():
    yamls = sorted(glob.glob(os.path.join(ROOT, "recipes", "*", "hparams", "*.yaml")))
    assert len(yamls) > 20
    for path in yamls:
        assert "use_tensorboard: False\n" in open(path, encoding="utf-8").read(), path


def test_a_run_with_tensorboard_writes_per_epoch_curves(tmp_path):
    data = write_corpus("emodb", str(tmp_path / "data"), seed=0)
    out = tmp_path / "run"
    run = subprocess.run([sys.executable, "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml",
                          f"--data_folder={data}", "--corpus=emodb", f"--output_folder={out}", "--hidden_size=8",
                          "--number_of_epochs=2", "--n_dev_speakers=1", "--noprogressbar", "--cpu_threads=1",
                          f"--feature_cache_folder={tmp_path / 'cache'}", "--use_tensorboard=True"],
                         cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    curves = scalars(out / "tensorboard")
    assert [step for step, _ in curves["loss/train"]] == [1, 2]
    assert [step for step, _ in curves["loss/valid"]] == [1, 2] and "error_rate/valid" in curves


def test_resumed_logging_continues_at_its_epoch_and_text_meta_is_left_out(tmp_path):
    log, board = str(tmp_path / "train_log.txt"), str(tmp_path / "tb")
    first = train_log.ResumableFileTrainLogger(log, use_tensorboard=True, tensorboard_dir=board)
    first.log_stats({"epoch": 1, "phase": "scratch"}, train_stats={"loss": 0.9}, verbose=False)
    first._tensorboard.writer.flush()
    resumed = train_log.ResumableFileTrainLogger(log, use_tensorboard=True, tensorboard_dir=board)
    resumed.log_stats({"epoch": 2, "phase": "scratch"}, train_stats={"loss": 0.5}, verbose=False)
    resumed._tensorboard.writer.flush()
    curves = scalars(board)
    assert sorted(step for step, _ in curves["loss/train"]) == [1, 2] and "phase" not in curves


def test_a_missing_tensorboard_package_is_one_line(tmp_path, monkeypatch):
    def no_tensorboard(save_dir):
        raise ImportError("No module named 'tensorboard'")

    monkeypatch.setattr(train_log, "TensorboardLogger", no_tensorboard)
    logger = train_log.ResumableFileTrainLogger(str(tmp_path / "log.txt"), use_tensorboard=True,
                                                tensorboard_dir=str(tmp_path / "tb"))
    with pytest.raises(EmoLobesError, match="the tensorboard package is not installed"):
        logger.log_stats({"epoch": 1}, train_stats={"loss": 1.0}, verbose=False)
