"""SelectiveMTL dependable runs: SIGKILL mid-epoch and resume exactly, torchrun = one process, bad input, inference.

One module-scoped set of tiny runs on synthetic IEMOCAP + SPONT (started together) serves the resume, torchrun
and inference tests: an uninterrupted reference run, the same command killed inside its 2nd epoch and re-run, and
a 2-process torchrun (gloo, CPU) beside a single process with the same effective batch.

torchrun agreement: 2 processes with training batches of 4 and no shuffling see, step by step, the utterances of
one process with batches of 8 (lr 0.003, so that 2 epochs move the weights); dev and test are each one batch per
process (batch size 64), so the losses are means over the same utterances. The global feature normalisation is
synchronised by SpeechBrain (its statistics are all-reduced at every update). What differs: the dropout masks
(each process draws its own) and the padding (a process pads its 4 utterances to their own longest one, and the
frames kept from relative lengths round differently), so the runs agree within a tolerance, not bit for bit.
Measured on this setting (2026-11-21): dev losses equal to SpeechBrain's 3 digits, test loss within 0.008, each
test probability within 0.025; the tolerances are 0.02 (losses) and 0.05 (probabilities). Decisions of this barely
trained model (probabilities near 0.25) can flip, so UA is not compared.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from emo_lobes.inference.classifier import EmotionClassifier
from emo_lobes.data.synthetic import write_corpus
from run_checks import assert_refused_in_one_line, folder_hash, kill_inside_epoch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
TRAIN = [sys.executable, "recipes/SelectiveMTL/train.py"]
HPARAMS = "recipes/SelectiveMTL/hparams/selective_mtl.yaml"
#: Tiny model, short audio, half the training set (about 16 steps of 8 an epoch), 2 epochs.
TINY = ["--number_of_epochs=2", "--lstm_size=8", "--lstm_layers=2", "--attention_size=8", "--attention_heads=2",
        "--dense1_size=16", "--dense2_size=8", "--max_duration=2.0", "--half_training_set=True", "--noprogressbar"]
STEP_CHECKPOINTS = ["--ckpt_interval_minutes=0", "--ckpt_interval_steps=1"]
#: Model selection on dev (the recipe's option; the default is the paper's no-dev protocol): the resume and torchrun
#: checks compare dev losses epoch by epoch. (HyperPyYAML cannot override dev: none with a mapping: n_dev instead.)
WITH_DEV = ["--corpora={iemocap: {split: {dev: next_session_speaker}}, spont: {split: {dev: null, n_dev: 2}}}"]
LOSS_TOLERANCE = 0.02
PROBABILITY_TOLERANCE = 0.05


def dev_losses(folder):
    """Dev loss per epoch, from the train log (SpeechBrain writes 3 significant digits)."""
    with open(os.path.join(folder, "train_log.txt"), encoding="utf-8") as log:
        return [float(re.search(r"valid loss: ([0-9.e+-]+),", line).group(1)) for line in log if "valid loss" in line]


def recipe_test_files(folder, data_root):
    """The audio file of each of a run's test predictions, in their order (from its test manifests)."""
    paths = {}
    for corpus, subfolder in (("iemocap", "IEMOCAP_full_release"), ("spont", "SPONT")):
        manifest = json.loads((folder / "prep" / f"test_{corpus}.json").read_text())
        for utt, entry in manifest.items():
            paths[utt] = entry["wav"].replace(f"{{{corpus}_root}}", os.path.join(data_root, subfolder))
    results = json.loads((folder / "test_results.json").read_text())
    return results, [paths[p["id"]] for p in results["predictions"]]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("selectivemtl_dependable_data"))
    write_corpus("iemocap", root, seed=0)
    write_corpus("spont", root, seed=0)
    write_corpus("emodb", root, seed=0)  # another corpus's layout, for the bad-input cases
    return root


# Rank 0's batch is all neutral (selective MTL: no style loss at all), rank 1's is mixed: the DDP step must finish
# and every process must get the average of both processes' gradients.
ALL_NEUTRAL_DDP_STEP = """
import os, sys, torch
from emo_lobes.lobes.blstm_attention import BLSTMAttentionEncoder
from emo_lobes.lobes.selective_mtl_loss import SelectiveMTLLoss
from torch.nn.parallel import DistributedDataParallel as DDP

def step(rank, init_file, out):
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    torch.manual_seed(0)
    encoder = BLSTMAttentionEncoder(40, lstm_size=4, attention_size=4, attention_heads=2, dense_sizes=(8,))
    emotion_head, style_head = torch.nn.Linear(8, 4), torch.nn.Linear(8, 2)
    modules = [DDP(m) for m in (encoder, emotion_head, style_head)]
    torch.manual_seed(1 + rank)
    features = torch.randn(4, 12, 40)
    emotions = torch.tensor([3, 3, 3, 3] if rank == 0 else [0, 3, 1, 2])
    shared = modules[0](features)
    loss = SelectiveMTLLoss(0.8, [3])(modules[1](shared), emotions, modules[2](shared), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    torch.save(style_head.weight.grad, f"{out}/grad_{rank}.pt")
    torch.distributed.destroy_process_group()

if __name__ == "__main__":
    torch.multiprocessing.spawn(step, args=(sys.argv[1], sys.argv[2]), nprocs=2)
"""


def refusal_commands(data_root, work):
    """``{case: (train.py command, data folder it must leave unchanged or None)}`` of every bad-input case."""
    empty = work / "empty"
    empty.mkdir()
    (work / "a_file").write_text("not a folder")
    iemocap, emodb = os.path.join(data_root, "IEMOCAP_full_release"), os.path.join(data_root, "EmoDB")
    cases = {
        "missing_data_folder": ([f"--data_folder={work / 'nowhere'}"], None),
        "empty_data_folder": ([f"--data_folder={empty}"], str(empty)),
        "iemocap_other_layout": ([f"--data_folder={data_root}", f"--corpora={{iemocap: {{folder: {emodb}}}}}"],
                                 data_root),
        "spont_missing": ([f"--data_folder={data_root}", f"--corpora={{spont: {{folder: {work / 'nowhere'}}}}}"],
                          data_root),
        "spont_empty": ([f"--data_folder={data_root}", f"--corpora={{spont: {{folder: {empty}}}}}"], data_root),
        "spont_other_layout": ([f"--data_folder={data_root}", f"--corpora={{spont: {{folder: {iemocap}}}}}"],
                               data_root),
        "unknown_key": ([f"--data_folder={data_root}", "--ser_weigth=0.5"], data_root),
        "unwritable_output": ([f"--data_folder={data_root}", f"--output_folder={work / 'a_file' / 'out'}"], data_root),
    }
    commands = {}
    for case, (args, folder) in cases.items():
        output = [] if case == "unwritable_output" else [f"--output_folder={work / 'out' / case}"]
        commands[case] = (TRAIN + [HPARAMS, *args, *output, *TINY], folder)
    return commands


@pytest.fixture(scope="module")
def jobs(data_root, tmp_path_factory):
    """Every subprocess of this module, started together (the machine has 2 cores; the runs are single-threaded).

    The reference run, the run killed inside its 2nd epoch and re-run, torchrun and its single-process twin, the
    2-process DDP step with an all-neutral batch, and the bad-input commands.
    """
    work = tmp_path_factory.mktemp("selectivemtl_jobs")
    refusals = refusal_commands(data_root, work)
    hashes = {folder: folder_hash(folder) for _, folder in refusals.values() if folder}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "cwd": ROOT, "env": ENV}
    refusing = {case: subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True) for case, (command, _) in refusals.items()}
    (work / "ddp_step.py").write_text(ALL_NEUTRAL_DDP_STEP)
    ddp_step = subprocess.Popen([sys.executable, str(work / "ddp_step.py"), str(work / "ddp_init"), str(work)],
                                **pipes)

    common = [HPARAMS, f"--data_folder={data_root}", *TINY, *WITH_DEV]
    in_order = ["--lr=0.003", "--train_dataloader_options={batch_size: 8, shuffle: False, num_workers: 0}",
                "--valid_dataloader_options={batch_size: 64, num_workers: 0}"]
    commands = {
        "reference": TRAIN + common + STEP_CHECKPOINTS + ["--batch_size=8", f"--output_folder={work / 'reference'}"],
        "two": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *TRAIN[1:],
                *common, f"--output_folder={work / 'two'}", in_order[0], in_order[1].replace("8", "4", 1),
                in_order[2], "--distributed_backend=gloo", "--device=cpu"],
        "one": TRAIN + common + [f"--output_folder={work / 'one'}", *in_order, "--device=cpu"],
    }
    resumed_command = TRAIN + common + STEP_CHECKPOINTS + ["--batch_size=8", f"--output_folder={work / 'resumed'}"]
    started = {name: subprocess.Popen(command, **pipes) for name, command in commands.items()}
    interrupted = subprocess.Popen(resumed_command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    resume_from, resume_state = kill_inside_epoch(interrupted, work / "resumed" / "save", 2)
    resumed = subprocess.run(resumed_command, **pipes)

    runs = {name: (work / name, process.communicate()[0], process.returncode) for name, process in started.items()}
    runs["resumed"] = (work / "resumed", resumed.stdout, resumed.returncode)
    refused = {case: process.communicate()[1] for case, process in refusing.items()}
    refused = {case: (refusing[case].returncode, stderr) for case, stderr in refused.items()}
    unchanged = {folder: folder_hash(folder) == digest for folder, digest in hashes.items()}
    refused = {case: (code, stderr, refusals[case][1] is None or unchanged[refusals[case][1]])
               for case, (code, stderr) in refused.items()}
    step_output = ddp_step.communicate(timeout=120)[0]
    return {"runs": runs, "resume": (resume_from, resume_state), "refusals": refused,
            "ddp_step": (ddp_step.returncode, step_output, work)}


@pytest.fixture(scope="module")
def runs(jobs):
    return jobs["runs"], *jobs["resume"]


def finished(runs, name):
    folder, output, code = runs[0][name]
    assert code == 0, output[-3000:]
    return folder, output


def test_run_killed_mid_epoch_resumes_and_matches_an_uninterrupted_run(runs):
    resumed, output = finished(runs, "resumed")
    reference, _ = finished(runs, "reference")
    resume_from, (meta, epoch) = runs[1], runs[2]
    assert meta.get("brain_intra_epoch_ckpt") and epoch == 2, "the kill did not land inside epoch 2"
    assert f"Loading a checkpoint from {resume_from}" in output
    assert (resumed / "train_log.txt").read_text() == (reference / "train_log.txt").read_text()
    ours, theirs = (json.loads((folder / "test_results.json").read_text()) for folder in (resumed, reference))
    assert ours["predictions"] == theirs["predictions"] and ours["test_loss"] == theirs["test_loss"]
    assert ours["n"] > 0 and ours["recipe"] == "SelectiveMTL" and len(ours["predictions"][0]["probs"]) == 4


def test_torchrun_two_processes_match_one_process(runs):
    two, output = finished(runs, "two")
    one, _ = finished(runs, "one")
    assert output.count("[prep] iemocap (acted):") == 1  # data prep ran on the main process only
    results = {name: json.loads((folder / "test_results.json").read_text()) for name, folder in
               (("two", two), ("one", one))}
    test_ids = [utt for corpus in ("iemocap", "spont") for utt in json.loads((two / "prep" / f"test_{corpus}.json")
                                                                              .read_text())]
    for name in ("two", "one"):  # every test utterance once, in the single-process order
        assert [p["id"] for p in results[name]["predictions"]] == test_ids
    assert results["two"]["n"] == len(test_ids) > 2
    assert results["two"]["per_corpus"].keys() == results["one"]["per_corpus"].keys() == {"iemocap", "spont"}
    assert len(dev_losses(two)) == len(dev_losses(one)) == 2
    assert max(abs(a - b) for a, b in zip(dev_losses(two), dev_losses(one))) <= LOSS_TOLERANCE
    assert abs(results["two"]["test_loss"] - results["one"]["test_loss"]) <= LOSS_TOLERANCE
    differences = [abs(a - b) for p, q in zip(results["two"]["predictions"], results["one"]["predictions"])
                   for a, b in zip(p["probs"], q["probs"])]
    assert max(differences) <= PROBABILITY_TOLERANCE


def test_an_all_neutral_batch_on_one_process_does_not_stall_ddp(jobs):
    returncode, output, work = jobs["ddp_step"]
    assert returncode == 0, output[-3000:]
    grads = [torch.load(work / f"grad_{rank}.pt") for rank in (0, 1)]
    assert torch.equal(grads[0], grads[1]) and grads[0].abs().sum() > 0  # rank 1's style gradient, averaged


def test_classifier_reproduces_the_recipe_test_predictions(runs, data_root, tmp_path):
    folder, _ = finished(runs, "reference")
    results, paths = recipe_test_files(folder, data_root)
    classifier = EmotionClassifier.from_experiment(str(folder), device="cpu", batch_size=5)
    outputs = classifier.classify_files(paths)
    assert [o["label"] for o in outputs] == [p["pred"] for p in results["predictions"]]
    assert classifier.labels == results["labels"] == ["angry", "sad", "happy", "neutral"]
    for output, prediction in zip(outputs, results["predictions"]):
        assert np.allclose(list(output["probabilities"].values()), prediction["probs"], atol=1e-4)  # 5 decimals
    assert outputs[0]["embedding"].shape == (2 * 2 * 8,)  # attention heads x 2 x lstm_size, attention-pooled
    # the style head: acted for IEMOCAP and spontaneous for SPONT as often as the recipe's own test found
    assert [o["heads"]["style"]["label"] for o in outputs] == [p["style_pred"] for p in results["predictions"]]
    assert list(outputs[0]["heads"]["style"]["probabilities"]) == ["acted", "spontaneous"]
    # a 10 ms WAV (shorter than one 25 ms filterbank window) is padded, alone and in a batch with a long one
    signal, rate = sf.read(paths[0], dtype="float32")
    sf.write(tmp_path / "ten_ms.wav", signal[: rate // 100], rate)
    for output in classifier.classify_files([str(tmp_path / "ten_ms.wav")]) + classifier.classify_files(
            [str(tmp_path / "ten_ms.wav"), paths[0]]):
        probabilities = list(output["probabilities"].values())
        assert np.isfinite(probabilities).all() and abs(sum(probabilities) - 1) < 1e-4
        assert output["label"] in classifier.labels and torch.isfinite(output["embedding"]).all()


EXPECTED = {
    "missing_data_folder": r"error: corpus folders missing: .*nowhere/IEMOCAP_full_release \(iemocap\), "
                           r".*nowhere/SPONT \(spont\)\. Fix: pass --data_folder=.*corpora\.<name>\.folder",
    "empty_data_folder": r"error: corpus folders missing: .*empty/IEMOCAP_full_release \(iemocap\), .*empty/SPONT "
                         r"\(spont\)\. Fix: ",
    "iemocap_other_layout": r"error: no IEMOCAP Session1 \.\.\. Session5 folder in .*EmoDB.*\. Fix: ",
    "spont_missing": r"error: corpus folders missing: .*nowhere \(spont\)\. Fix: ",
    "spont_empty": r"error: spont data folder .*empty is empty\. Fix: set corpora\.spont\.folder to ",
    "spont_other_layout": r"error: spont corpus: metadata CSV metadata\.csv not found in .*IEMOCAP_full_release\. "
                          r"Fix: write .* or set corpora\.spont\.options\.csv_file to <its path>$",
    "unknown_key": r"error: unknown hparams key --ser_weigth for selective_mtl\.yaml\. Fix: did you mean "
                   r"--ser_weight\? Valid keys: seed, experiment_name, .*, ser_weight, ",
    "unwritable_output": r"error: cannot create output folder .*a_file/out \(Not a directory\)\. Fix: ",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_train_py_refuses_bad_input_in_one_line(jobs, case):
    assert_refused_in_one_line(jobs["refusals"][case], EXPECTED[case])
