"""EmotionEmbeddings runs to depend on: a SIGKILLed run resumes exactly, torchrun matches one process, bad input
stops in one line, the frontend cache survives a kill, and a trained run classifies new audio as its test did.

One tiny multi-corpus log-mel run (CaFE + EmoDB, GRU 1 x 8, 2 epochs, batches of 8, no shuffling, an intra-epoch
checkpoint after every step) is the reference of the resume, torchrun and inference tests. Torchrun: 2 CPU
processes with batches of 4 see, step by step, the utterances one process sees in its batches of 8; the global
feature normalisation is combined over the processes (SpeechBrain), the GRU has no batch statistics, so the runs
differ only by float rounding (amplified by 52 Adam steps): measured at most 3.4e-4 in the test probabilities
(tolerance 2e-3) and 9e-5 in the test loss (tolerance 1e-3), with equal dev UARs and predictions of every head.
Dev/test batches of 1 make the mean batch loss the same sum in both runs.
"""
import csv
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from emo_lobes.errors import EmoLobesError
from emo_lobes.inference.classifier import EmotionClassifier
from emo_lobes.data.synthetic import write_corpus
from run_checks import assert_refused_in_one_line, folder_hash, kill_inside_epoch, refusal_outcomes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
TRAIN = [sys.executable, "recipes/EmotionEmbeddings/train.py"]
HPARAMS = "recipes/EmotionEmbeddings/hparams/multi_corpus_mfb.yaml"
TINY = ["--train_corpora=[cafe, emodb]", "--hidden_size=8", "--number_of_epochs=2", "--lr=0.01", "--noprogressbar",
        "--eval_dataloader_options={batch_size: 1, num_workers: 0}", "--device=cpu"]
STEP_CHECKPOINTS = ["--ckpt_interval_minutes=0", "--ckpt_interval_steps=1"]
#: Agreement of the 2-process and the 1-process run (module docstring).
PROBABILITY_TOLERANCE = 2e-3
LOSS_TOLERANCE = 1e-3
CORPUS_FOLDERS = {"cafe": "CaFE", "emodb": "EmoDB"}


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test of this module on one torch thread (``one_torch_thread`` in conftest.py)."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Reference, killed-then-resumed and torchrun runs of the same tiny experiment; their outputs."""
    work = tmp_path_factory.mktemp("ee_dependable")
    data = work / "data"
    for corpus in CORPUS_FOLDERS:
        write_corpus(corpus, str(data), seed=0)
    common = [HPARAMS, f"--data_folder={data}", f"--feature_cache_dir={work / 'cache'}", *TINY]  # one shared cache
    single = TRAIN + common + ["--train_dataloader_options={batch_size: 8, shuffle: False, num_workers: 0}",
                               *STEP_CHECKPOINTS]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                *TRAIN[1:], *common, f"--output_folder={work / 'two'}", "--distributed_backend=gloo",
                "--train_dataloader_options={batch_size: 4, shuffle: False, num_workers: 0}"]
    started = {
        "reference": subprocess.Popen(single + [f"--output_folder={work / 'reference'}"], cwd=ROOT, env=ENV,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        "two": subprocess.Popen(torchrun, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True),
    }
    resumed_command = single + [f"--output_folder={work / 'resumed'}"]
    interrupted = subprocess.Popen(resumed_command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    resume_from, resume_meta = kill_inside_epoch(interrupted, work / "resumed" / "save", 2)
    output = {name: process.communicate()[0] for name, process in started.items()}
    for name, process in started.items():
        assert process.returncode == 0, output[name][-3000:]
    resumed = subprocess.run(resumed_command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    output["resumed"] = resumed.stdout
    return {"work": work, "data": data, "output": output, "resume_from": resume_from, "resume_meta": resume_meta,
            **{name: work / name for name in ("reference", "resumed", "two")}}


def results_of(folder):
    return json.loads((folder / "test_results.json").read_text())


def test_a_run_killed_inside_epoch_2_resumes_and_ends_as_an_uninterrupted_run(runs):
    resume_from = runs["resume_from"]
    meta, epoch = runs["resume_meta"]
    assert meta.get("brain_intra_epoch_ckpt") and epoch == 2, "the kill did not land inside epoch 2"
    assert f"Loading a checkpoint from {resume_from}" in runs["output"]["resumed"]
    ours, theirs = runs["resumed"], runs["reference"]
    assert (ours / "train_log.txt").read_text() == (theirs / "train_log.txt").read_text()
    mine, reference = results_of(ours), results_of(theirs)
    assert mine["predictions"] == reference["predictions"] and len(mine["predictions"]) == 26 + 28
    assert mine["test_loss"] == reference["test_loss"] and mine["per_corpus"] == reference["per_corpus"]
    ours_npz, theirs_npz = np.load(ours / "embeddings.npz"), np.load(theirs / "embeddings.npz")
    assert np.array_equal(ours_npz["embedding"], theirs_npz["embedding"])


def dev_stats(folder):
    """Per epoch: dev loss and UARs, as the train log writes them."""
    lines = [line for line in (folder / "train_log.txt").read_text().splitlines() if "valid loss" in line]
    return [dict((key, float(value)) for key, value in re.findall(r"valid (\w+): ([-\d.e+]+)", line))
            for line in lines]


def test_torchrun_two_cpu_processes_match_one_process(runs):
    two, one = runs["two"], runs["reference"]
    assert runs["output"]["two"].count("[EmotionEmbeddings prep]") == 1  # prep on the main process only
    results = {"two": results_of(two), "one": results_of(one)}
    test_ids = [entry["utt_id"] for corpus in CORPUS_FOLDERS
                for entry in json.loads((two / "prep" / corpus / "test.json").read_text()).values()]
    for name in results:  # every test utterance once, in the single-process order
        assert [p["id"] for p in results[name]["predictions"]] == test_ids
    assert (two / "train_log.txt").read_text().count("\n") == 3  # written once: 2 epochs and the test
    assert len(np.load(two / "embeddings.npz")["ids"]) == len(test_ids)
    stats = {name: dev_stats(folder) for name, folder in (("two", two), ("one", one))}
    assert len(stats["two"]) == len(stats["one"]) == 2
    for epoch_two, epoch_one in zip(stats["two"], stats["one"]):
        assert epoch_two.keys() == epoch_one.keys()
        assert abs(epoch_two.pop("loss") - epoch_one.pop("loss")) <= LOSS_TOLERANCE + 0.005  # log: 3 digits
        assert epoch_two == epoch_one  # dev UARs (mean and per corpus) from the gathered predictions
    assert abs(results["two"]["test_loss"] - results["one"]["test_loss"]) <= LOSS_TOLERANCE
    assert [p["heads"] for p in results["two"]["predictions"]] == [p["heads"] for p in results["one"]["predictions"]]
    differences = [abs(a - b) for p, q in zip(results["two"]["predictions"], results["one"]["predictions"])
                   for a, b in zip(p["probs"], q["probs"])]
    assert max(differences) <= PROBABILITY_TOLERANCE


def recipe_test_files(runs, results):
    """The audio file of each test prediction (its ``wav`` is relative to its corpus root)."""
    return [str(runs["data"] / CORPUS_FOLDERS[p["corpus"]] / p["wav"]) for p in results["predictions"]]


def test_classifier_reproduces_the_recipe_test_predictions_through_every_head(runs, tmp_path):
    folder = runs["reference"]
    results = results_of(folder)
    paths = recipe_test_files(runs, results)
    classifier = EmotionClassifier.from_experiment(str(folder), batch_size=5)
    outputs = classifier.classify_files(paths)
    # default head: the first training corpus (CaFE); its probabilities are the recipe's own for CaFE utterances
    assert classifier.labels == sorted(results["label_emotions"]["cafe"])
    assert [o["label"] for o in outputs] == [p["heads"]["cafe"] for p in results["predictions"]]
    for output, prediction in zip(outputs, results["predictions"]):
        if prediction["corpus"] == "cafe":
            assert np.allclose(list(output["probabilities"].values()), prediction["probs"], atol=1e-4)
    embeddings = np.load(folder / "embeddings.npz")["embedding"]
    assert np.allclose(np.stack([o["embedding"].numpy() for o in outputs]), embeddings, atol=1e-5)
    # every head of every test utterance: the recipe's labels, and its probabilities through the own head
    assert [{c: h["label"] for c, h in o["heads"].items()} for o in outputs] == [
        p["heads"] for p in results["predictions"]]
    for output, prediction in zip(outputs, results["predictions"]):
        own = output["heads"][prediction["corpus"]]["probabilities"]
        assert np.allclose(list(own.values()), prediction["probs"], atol=1e-4)
    emodb = EmotionClassifier.from_experiment(str(folder), head="emodb").classify_file(paths[-1])
    assert emodb["label"] == results["predictions"][-1]["pred"] and set(emodb["probabilities"]) == set(
        results["label_emotions"]["emodb"])
    # the command line: --head emodb gives the EmoDB head's label and probabilities, every head in the CSV
    out = tmp_path / "predictions.csv"
    proc = subprocess.run([sys.executable, "tools/classify.py", str(folder), paths[-1], "--output", str(out),
                           "--head", "emodb"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(csv.DictReader(out.open()))
    assert row["label"] == emodb["label"] == row["emodb_label"] and "cafe_label" in row
    proc = subprocess.run([sys.executable, "tools/classify.py", str(folder), paths[-1], "--output", str(out),
                           "--head", "ravdess"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == (
        "error: no classifier head for corpus 'ravdess'. Fix: use one of cafe, emodb")
    # a 10 ms recording is padded by the front-end and classified
    signal_, rate = sf.read(paths[0], dtype="float32")
    sf.write(tmp_path / "ten_ms.wav", signal_[: rate // 100], rate)
    short = classifier.classify_file(str(tmp_path / "ten_ms.wav"))
    assert short["label"] in classifier.labels and np.isfinite(short["embedding"].numpy()).all()
    assert abs(sum(short["probabilities"].values()) - 1) < 1e-4


def test_checkpoints_are_read_as_tensors_only(runs, tmp_path):
    copy = tmp_path / "experiment"
    shutil.copytree(runs["reference"], copy, ignore=shutil.ignore_patterns("prep"))
    for checkpoint in (copy / "save").glob("CKPT+*"):
        torch.save({"weight": torch.zeros(2), "payload": EmoLobesError("pickled object", None)},
                   checkpoint / "heads.ckpt")
    with pytest.raises(EmoLobesError, match=r"cannot read tensors from .*heads\.ckpt"):
        EmotionClassifier.from_experiment(str(copy))


# Fills a frontend cache; the entry write of the 3rd file kills the process half-way (as a pre-emption would).
KILL_DURING_CACHE_WRITE = """
import os, signal, sys
import numpy as np
import emo_lobes.features.feature_cache as features_cache
from speechbrain.lobes.features import Fbank
from emo_lobes.features.frontend_cache import CachedFrozenFrontend

real_save, written = np.save, []
def save_then_die(handle, value, allow_pickle=False):
    written.append(1)
    if len(written) == 3:
        handle.write(b"\\x93NUMPY half an entry")
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real_save(handle, value, allow_pickle=allow_pickle)
features_cache.np.save = save_then_die
cached = CachedFrozenFrontend(Fbank(n_mels=40), "fbank40", sys.argv[1])
for path in sys.argv[2:]:
    cached([path])
"""


def test_a_kill_while_the_frontend_cache_is_filled_leaves_no_entry_a_resumed_run_reads(tmp_path):
    from speechbrain.lobes.features import Fbank

    from emo_lobes.features.frontend_cache import CachedFrozenFrontend

    wavs = []
    for index in range(4):
        wavs.append(str(tmp_path / f"{index}.wav"))
        sf.write(wavs[-1], np.random.default_rng(index).normal(size=4000).astype("float32") * 0.1, 16000)
    cache = tmp_path / "cache"
    killed = subprocess.run([sys.executable, "-c", KILL_DURING_CACHE_WRITE, str(cache), *wavs], cwd=ROOT, env=ENV)
    assert killed.returncode == -signal.SIGKILL
    entries = sorted(glob.glob(str(cache / "**" / "*.npy"), recursive=True))
    leftovers = glob.glob(str(cache / "**" / "*.tmp"), recursive=True)
    assert len(entries) == 2 and len(leftovers) == 1  # the half-written entry stayed a temporary file
    resumed = CachedFrozenFrontend(Fbank(n_mels=40), "fbank40", str(cache))
    fresh = CachedFrozenFrontend(Fbank(n_mels=40), "fbank40", None)
    for path in wavs:
        assert torch.equal(resumed([path])[0], fresh([path])[0])
    assert resumed.n_frontend_calls == 2  # the two complete entries were read, the others computed


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """Every bad command, started at once; ``{case: (return code, stderr, data folder unchanged)}``."""
    work = tmp_path_factory.mktemp("ee_refusals")
    data = work / "data"
    for corpus in CORPUS_FOLDERS:
        write_corpus(corpus, str(data), seed=0)
    (work / "empty").mkdir()
    other = work / "other_layout"  # an EmoDB where CaFE should be
    shutil.copytree(data / "EmoDB", other / "CaFE")
    shutil.copytree(data / "EmoDB", other / "EmoDB")
    (work / "a_file").write_text("not a folder")
    text_model = work / "text_model"  # a model folder of the wrong kind: a (tiny) BERT, weights and config
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
                         vocab_size=16)).save_pretrained(str(text_model))
    base = [HPARAMS, *(arg for arg in TINY if not arg.startswith("--number_of_epochs")), "--number_of_epochs=1"]
    cases = {
        "missing_data_folder": ([f"--data_folder={work / 'nowhere'}"], None),
        "empty_data_folder": ([f"--data_folder={work / 'empty'}"], work / "empty"),
        "other_corpus_layout": ([f"--data_folder={other}"], other),
        "unknown_key": ([f"--data_folder={data}", "--hiden_size=3"], data),
        "unwritable_output": ([f"--data_folder={data}"], data),
        "ssl_source_not_wav2vec2": (["--ssl_source=" + str(text_model), f"--data_folder={data}"], data),
    }
    hashes = {case: folder_hash(folder) for case, (_, folder) in cases.items() if folder}
    started = {}
    for case, (args, _) in cases.items():
        output = work / "a_file" / "out" if case == "unwritable_output" else work / "out" / case
        hparams = ["recipes/EmotionEmbeddings/hparams/multi_corpus_w2v2.yaml", *base[1:]] if "ssl" in case else base
        started[case] = subprocess.Popen(TRAIN + hparams + args + [f"--output_folder={output}"], cwd=ROOT, env=ENV,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = refusal_outcomes(started, cases, hashes)
    return done


EXPECTED = {
    "missing_data_folder": r"error: corpus folders missing: .*nowhere/CaFE \(cafe\), .*nowhere/EmoDB \(emodb\)\. "
                           r"Fix: pass --data_folder=<the folder holding them",
    "empty_data_folder": r"error: corpus folders missing: .*empty/CaFE \(cafe\), .*empty/EmoDB \(emodb\)\. Fix: pass "
                         r"--data_folder=",
    "other_corpus_layout": r"error: no CaFE recordings found in .*other_layout/CaFE \(\d+ problems\)\. Fix: ",
    "unknown_key": r"error: unknown hparams key --hiden_size for multi_corpus_mfb\.yaml\. Fix: did you mean "
                   r"--hidden_size.*\? Valid keys: seed, setting, .*, hidden_size, ",
    "unwritable_output": r"error: cannot create output folder .*a_file/out \(Not a directory\)\. Fix: pass an output "
                         r"folder you can write to$",
    "ssl_source_not_wav2vec2": r"error: '.*text_model' holds a bert model, not a wav2vec2-style speech model\. Fix: "
                               r"pass --ssl_source=<a folder or hub id of a wav2vec2, hubert",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_train_py_refuses_bad_input_in_one_line(refusals, case):
    assert_refused_in_one_line(refusals[case], EXPECTED[case])


def test_a_fine_tuned_wav2vec2_embeds_an_utterance_the_same_in_any_batch(tmp_path):
    """Padding changes nothing: waveform normalisation over the valid samples, exact valid-frame counts."""
    from emo_lobes.lobes.emotion_embedding import EmotionEmbeddingModel
    from emo_lobes.lobes.ssl_frontend import SSLFrontend, write_tiny_wav2vec2

    torch.manual_seed(0)
    frontend = SSLFrontend(write_tiny_wav2vec2(str(tmp_path / "w2v2")), freeze=False).eval()
    model = EmotionEmbeddingModel(frontend.output_size, hidden_size=8)
    waves = [torch.randn(n) * scale for n, scale in ((16000, 0.1), (9000, 0.5), (160, 0.3))]  # 1 s, 0.56 s, 10 ms

    def embed(batch):
        wavs = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True)
        lens = torch.tensor([len(w) / wavs.shape[1] for w in batch])
        with torch.no_grad():
            feats = frontend(wavs, lens)
            return model(feats, frontend.frame_lengths(lens, wavs.shape[1], feats.shape[1]))

    together = embed(waves)
    alone = torch.cat([embed([wave]) for wave in waves])
    assert torch.allclose(together, alone, atol=1e-5), (together - alone).abs().max()
