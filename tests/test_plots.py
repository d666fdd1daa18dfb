"""Pictures of a run: confusion.png beside every test_results.json, and tools/plot_training.py's training curves."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from emo_lobes.evaluation.metrics import classification_metrics, write_test_results
from emo_lobes.evaluation.plots import read_train_log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_is_a_drawn_png(path, min_width=300):
    from matplotlib.image import imread

    assert os.path.getsize(path) > 1000
    with open(path, "rb") as fin:
        assert fin.read(8) == PNG_SIGNATURE
    pixels = imread(path)
    assert pixels.shape[1] >= min_width and pixels.shape[0] >= 200
    assert pixels[..., :3].std() > 0.05  # not a blank canvas


def test_write_test_results_draws_confusion_png_beside_the_json(tmp_path):
    labels = ["neu", "hap", "sad", "ang"]
    truth = ["neu"] * 6 + ["hap"] * 4 + ["sad"] * 5 + ["ang"] * 5
    guess = ["neu"] * 5 + ["sad"] + ["hap"] * 2 + ["neu"] * 2 + ["sad"] * 5 + ["ang"] * 3 + ["hap"] * 2
    metrics = classification_metrics(truth, guess, labels=labels)
    path = write_test_results(str(tmp_path), metrics, extra={"recipe": "MLEE", "fold": 1})
    picture = tmp_path / "confusion.png"
    assert os.path.dirname(path) == str(tmp_path) and picture.is_file()
    assert_is_a_drawn_png(str(picture))
    assert json.loads((tmp_path / "test_results.json").read_text())["confusion"][0] == [5, 0, 1, 0]


def test_without_matplotlib_the_picture_is_skipped_in_one_line(tmp_path, monkeypatch, capsys):
    for name in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # importing them now raises ImportError
    metrics = classification_metrics(["a", "b"], ["a", "a"])
    write_test_results(str(tmp_path), metrics)
    assert (tmp_path / "test_results.json").is_file() and not (tmp_path / "confusion.png").exists()
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == ["[plots] matplotlib is not installed: no picture drawn (pip install 'emo-lobes[plots]')"]


LOG = """epoch: 1 - train loss: 1.42 - valid loss: 1.38, valid ua: 3.10e-01, valid wa: 3.30e-01, valid style_acc: 5.50e-01
epoch: 2 - train loss: 1.21 - valid loss: 1.30, valid ua: 3.80e-01, valid wa: 4.00e-01, valid style_acc: 6.00e-01
epoch: 3 - train loss: 1.05 - valid loss: 1.26, valid ua: 4.20e-01, valid wa: 4.10e-01, valid style_acc: 6.40e-01
epoch: 3 - train loss: 1.04 - valid loss: 1.25, valid ua: 4.30e-01, valid wa: 4.20e-01, valid style_acc: 6.50e-01
epoch: 4 - train loss: 9.50e-01 - valid loss: 1.27, valid ua: 4.40e-01, valid wa: 4.30e-01, valid style_acc: 6.60e-01
Epoch loaded: 3 - test loss: 1.30, test ua: 4.00e-01, test wa: 4.10e-01
"""


def test_plot_training_draws_losses_and_dev_metrics_from_train_log(tmp_path):
    (tmp_path / "train_log.txt").write_text(LOG)
    epochs = read_train_log(str(tmp_path / "train_log.txt"))
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]  # the resumed epoch 3 keeps its last line; no test line
    assert epochs[2]["valid"] == {"loss": 1.25, "ua": 0.43, "wa": 0.42, "style_acc": 0.65}
    assert [e["train"]["loss"] for e in epochs] == [1.42, 1.21, 1.04, 0.95]
    proc = subprocess.run([sys.executable, "tools/plot_training.py", str(tmp_path)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"[plot_training] {tmp_path / 'training_curves.png'}"
    assert_is_a_drawn_png(str(tmp_path / "training_curves.png"), min_width=900)  # two panels


def test_plot_training_of_a_folder_without_a_log_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "tools/plot_training.py", str(tmp_path)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"error: {tmp_path} holds no train_log.txt. Fix: give the output "
                                                    "folder of a train.py run")
