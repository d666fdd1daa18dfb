"""torchrun: MLEE and LanguageMTL on 2 CPU processes (gloo) match one process; prep runs once, dev/test cover every
utterance once.

Two processes with batches of 4 and no shuffling see, step by step, the same utterances as one process with
batches of 8 (``DistributedSampler`` deals them out alternately). What differs: batch norm statistics come from
each process's half batch (``SyncBatchNorm`` needs a GPU) and rank 0's running statistics are broadcast, so
the runs agree within a tolerance, not bit for bit: dev and test losses within 0.02, each test utterance's
class probabilities within 0.02. LanguageMTL has no batch norm; its global feature normalisation is combined over
processes by SpeechBrain, and ``DistributedSampler`` pads the last batch: same tolerances.
"""
import fcntl
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from emo_lobes.data.synthetic import write_corpus
from run_checks import kill_inside_epoch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
TINY = ["--speed_factors=[]", "--num_workers=0", "--cnn_channels=[2,2,2]", "--lstm_size=4", "--attention_size=4",
        "--dense_size=4", "--max_frequency=1000", "--number_of_epochs=2", "--noprogressbar"]
#: Agreement between the 2-process and the 1-process run (see the module docstring).
LOSS_TOLERANCE = 0.02
PROBABILITY_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus("iemocap", str(tmp_path_factory.mktemp("ddp_data")), seed=0)


def dev_losses(folder):
    """Dev loss per epoch, from the train log (SpeechBrain writes 3 significant digits)."""
    with open(os.path.join(folder, "train_log.txt"), encoding="utf-8") as log:
        return [float(line.rsplit("valid loss: ", 1)[1].split(",")[0]) for line in log if "valid loss: " in line]


def test_torchrun_two_processes_match_one_process(corpus, tmp_path):
    common = ["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={corpus}", *TINY]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                "recipes/MLEE/train.py", *common, f"--output_folder={tmp_path / 'two'}",
                "--train_dataloader_opts={batch_size: 4, shuffle: False, num_workers: 0}",
                "--distributed_backend=gloo", "--device=cpu"]
    single = [sys.executable, "recipes/MLEE/train.py", *common, f"--output_folder={tmp_path / 'one'}",
              "--train_dataloader_opts={batch_size: 8, shuffle: False, num_workers: 0}", "--device=cpu"]
    runs = {name: subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True) for name, command in (("two", torchrun), ("one", single))}
    output = {name: run.communicate()[0] for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, output[name][-3000:]
    # data prep ran on the main process only (it prints its report once); both processes trained
    assert output["two"].count("# MLEE prep, fold 1") == 1
    two, one = tmp_path / "two", tmp_path / "one"
    results = {name: json.loads((folder / "test_results.json").read_text()) for name, folder in
               (("two", two), ("one", one))}
    test_ids = list(json.loads((two / "prep" / "test.json").read_text()))
    # every test utterance once, in the manifest's order: gathered from both shards, not one shard
    for name in ("two", "one"):
        assert [p["id"] for p in results[name]["predictions"]] == test_ids
    assert results["two"]["n"] == len(test_ids) and len(test_ids) > 2
    assert max(abs(a - b) for a, b in zip(dev_losses(two), dev_losses(one))) <= LOSS_TOLERANCE
    assert len(dev_losses(two)) == len(dev_losses(one)) == 2
    assert abs(results["two"]["test_loss"] - results["one"]["test_loss"]) <= LOSS_TOLERANCE
    differences = [abs(a - b) for p, q in zip(results["two"]["predictions"], results["one"]["predictions"])
                   for a, b in zip(p["probs"], q["probs"])]
    assert max(differences) <= PROBABILITY_TOLERANCE
    attention = torch.load(two / "attention.pt")["branches"]["mlee"]  # gathered from both processes too
    assert set(attention) == set(test_ids)
    assert json.loads((two / "experiment.json").read_text())["finished"]


def test_languagemtl_torchrun_two_processes_match_one_process(tmp_path):
    data = tmp_path / "data"
    write_corpus("emodb", str(data), seed=0)
    common = ["recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml", f"--data_folder={data}",
              "--corpus=emodb", f"--feature_cache_folder={tmp_path / 'cache'}", "--hidden_size=8",
              "--n_dev_speakers=1", "--number_of_epochs=3", "--noprogressbar", "--cpu_threads=1", "--device=cpu"]
    # the main process fills the feature cache first; the single-process run starts once it is there
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          *common, f"--output_folder={tmp_path / 'two'}", "--distributed_backend=gloo",
                          "--dataloader_options={batch_size: 8, shuffle: False}"],
                         cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert two.returncode == 0, two.stdout[-3000:]
    one = subprocess.run([sys.executable, *common, f"--output_folder={tmp_path / 'one'}",
                          "--dataloader_options={batch_size: 16, shuffle: False}"],
                         cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert one.returncode == 0, one.stdout[-3000:]
    assert two.stdout.count("[features] mfcc:") == 1 and "read from" in one.stdout
    results = {name: json.loads((tmp_path / name / "test_results.json").read_text()) for name in ("two", "one")}
    test_ids = list(json.loads((tmp_path / "two" / "prep" / "emodb" / "test.json").read_text()))
    assert [p["id"] for p in results["two"]["predictions"]] == [p["id"] for p in results["one"]["predictions"]]
    assert sorted(p["id"] for p in results["two"]["predictions"]) == sorted(test_ids) and len(test_ids) > 2
    assert max(abs(a - b) for a, b in zip(dev_losses(tmp_path / "two"), dev_losses(tmp_path / "one"))) <= LOSS_TOLERANCE
    differences = [abs(a - b) for p, q in zip(results["two"]["predictions"], results["one"]["predictions"])
                   for a, b in zip(p["probs"], q["probs"])]
    assert max(differences) <= PROBABILITY_TOLERANCE


def lock_released_within(lock, seconds):
    """True once no process holds the output folder's run lock (polled for ``seconds``)."""
    deadline = time.time() + seconds
    with open(lock, "rb") as handle:
        while time.time() < deadline:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
                return True
            except BlockingIOError:
                time.sleep(0.1)
    return False


def test_torchrun_run_killed_mid_epoch_resumes_and_matches_an_uninterrupted_two_process_run(tmp_path):
    """Both processes (and torchrun) SIGKILLed inside epoch 2, after an intra-epoch checkpoint; the same command again
    ends with the train log and test predictions of an uninterrupted 2-process run."""
    data = tmp_path / "data"
    write_corpus("emodb", str(data), seed=0)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml", f"--data_folder={data}",
               "--corpus=emodb", f"--feature_cache_folder={tmp_path / 'cache'}", "--hidden_size=8",
               "--number_of_epochs=3", "--noprogressbar", "--cpu_threads=1", "--device=cpu",
               "--distributed_backend=gloo", "--dataloader_options={batch_size: 2, shuffle: False}",
               "--ckpt_interval_minutes=0", "--ckpt_interval_steps=1"]
    reference = subprocess.run(command + [f"--output_folder={tmp_path / 'reference'}"], cwd=ROOT, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert reference.returncode == 0, reference.stdout[-3000:]
    resumed_command = command + [f"--output_folder={tmp_path / 'resumed'}"]
    interrupted = subprocess.Popen(resumed_command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
    resume_from, _ = kill_inside_epoch(interrupted, tmp_path / "resumed" / "save", 2, whole_group=True)
    # torchrun starts its workers in sessions of their own: they die with it (parent-death signal), not with its group
    assert lock_released_within(tmp_path / "resumed" / ".run.lock", seconds=30)
    resumed = subprocess.run(resumed_command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert f"Loading a checkpoint from {resume_from}" in resumed.stdout
    ours, theirs = tmp_path / "resumed", tmp_path / "reference"
    assert (ours / "train_log.txt").read_text() == (theirs / "train_log.txt").read_text()
    predictions = [json.loads((folder / "test_results.json").read_text())["predictions"] for folder in (ours, theirs)]
    assert predictions[0] == predictions[1] and len(predictions[0]) > 2
