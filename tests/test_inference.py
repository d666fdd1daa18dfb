"""Inference: a tiny trained MLEE / LanguageMTL experiment classifies audio as the recipe's own test did.

``EmotionClassifier`` and ``tools/classify.py`` must reproduce each recipe's ``test_results.json`` predictions
(label and probabilities) on the test files, read only tensors from the checkpoints, and classify files in
other formats (10 ms, stereo 48 kHz, 8-bit, FLAC).
"""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from emo_lobes.errors import EmoLobesError
from emo_lobes.inference.classifier import EmotionClassifier, audio_files
from emo_lobes.data.synthetic import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
MLEE_TINY = ["--speed_factors=[]", "--num_workers=0", "--cnn_channels=[2,2,2]", "--lstm_size=4", "--attention_size=4",
             "--dense_size=4", "--max_frequency=1000", "--number_of_epochs=1", "--noprogressbar"]
LANGUAGEMTL_TINY = ["--hidden_size=8", "--number_of_epochs=1", "--batch_size=16", "--noprogressbar", "--cpu_threads=1"]


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    """A finished tiny MLEE run and a finished tiny LanguageMTL single-corpus run (trained at the same time)."""
    root = tmp_path_factory.mktemp("inference")
    data = root / "data"
    iemocap = write_corpus("iemocap", str(data), seed=0)
    emodb = write_corpus("emodb", str(data), seed=0)
    commands = {
        "MLEE": [sys.executable, "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee.yaml", f"--data_folder={iemocap}",
                 f"--output_folder={root / 'mlee'}", *MLEE_TINY],
        "LanguageMTL": [sys.executable, "recipes/LanguageMTL/train.py",
                        "recipes/LanguageMTL/hparams/single_corpus.yaml", f"--data_folder={data}", "--corpus=emodb",
                        f"--output_folder={root / 'languagemtl'}", f"--feature_cache_folder={root / 'cache'}",
                        *LANGUAGEMTL_TINY],
    }
    runs = {name: subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True) for name, command in commands.items()}
    for name, run in runs.items():
        output = run.communicate()[0]
        assert run.returncode == 0, output[-3000:]
    return {"MLEE": (root / "mlee", iemocap), "LanguageMTL": (root / "languagemtl" / "test" / "emodb", emodb),
            "LanguageMTL_folder": root / "languagemtl", "root": root}


def recipe_test_files(results_folder, prep_folder, data_folder):
    """The recipe's test predictions and the audio file of each (from its test manifest)."""
    results = json.loads((results_folder / "test_results.json").read_text())
    manifest = json.loads((prep_folder / "test.json").read_text())
    paths = [manifest[p["id"]]["wav"].replace("{data_root}", str(data_folder)).replace("{emodb_root}", str(data_folder))
             for p in results["predictions"]]
    return results, paths


def assert_reproduces(outputs, results):
    assert [o["label"] for o in outputs] == [p["pred"] for p in results["predictions"]]
    for output, prediction in zip(outputs, results["predictions"]):
        assert list(output["probabilities"]) == results["labels"]
        # the recipe rounds its probabilities (5 decimals for MLEE, 4 for LanguageMTL)
        assert np.allclose(list(output["probabilities"].values()), prediction["probs"], atol=1e-4)


def test_mlee_classifier_reproduces_the_recipe_test_predictions(experiments):
    folder, data_folder = experiments["MLEE"]
    results, paths = recipe_test_files(folder, folder / "prep", data_folder)
    classifier = EmotionClassifier.from_experiment(str(folder), device="cpu", batch_size=5)
    outputs = classifier.classify_files(paths)
    assert_reproduces(outputs, results)
    assert outputs[0]["embedding"].shape == (8,)  # 2 x lstm_size, the attention-pooled BLSTM output
    # one file, a list and a folder give the same answers
    single = classifier.classify_file(paths[0])
    assert single["label"] == outputs[0]["label"] and torch.allclose(single["embedding"], outputs[0]["embedding"])
    session = os.path.dirname(paths[0])
    in_folder = classifier.classify(session)
    assert [r["path"] for r in in_folder] == audio_files([session]) and len(in_folder) >= 1


def test_languagemtl_classifier_reproduces_the_recipe_test_predictions(experiments):
    results_folder, data_folder = experiments["LanguageMTL"]
    experiment = experiments["LanguageMTL_folder"]
    prep = experiment / "prep" / "emodb"
    results, paths = recipe_test_files(results_folder, prep, data_folder)
    outputs = EmotionClassifier.from_experiment(str(experiment)).classify_files(paths)
    assert_reproduces(outputs, results)
    assert outputs[0]["embedding"].shape == (8,)  # the LSTM summary (hidden_size)


def test_classify_command_writes_the_same_predictions_as_a_csv(experiments, tmp_path):
    folder, data_folder = experiments["MLEE"]
    results, paths = recipe_test_files(folder, folder / "prep", data_folder)
    out = tmp_path / "predictions.csv"
    proc = subprocess.run([sys.executable, "tools/classify.py", str(folder), *paths[:4], "--output", str(out),
                           "--embeddings"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(out.open()))
    assert [r["path"] for r in rows] == paths[:4]
    assert [r["label"] for r in rows] == [p["pred"] for p in results["predictions"][:4]]
    assert list(rows[0]) == ["path", "label", "p_neu", "p_hap", "p_sad", "p_ang"] + [f"emb_{i}" for i in range(8)]
    assert np.allclose([float(rows[0][f"p_{c}"]) for c in results["labels"]], results["predictions"][0]["probs"],
                       atol=1e-4)
    # a folder that is not an experiment: one line, exit status 2
    proc = subprocess.run([sys.executable, "tools/classify.py", str(tmp_path), paths[0], "--output", str(out)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"error: {tmp_path} is not an experiment folder (no "
                                                    "hyperparams.yaml). Fix: give the output folder of a finished "
                                                    "train.py run")


def test_other_formats_are_classified_after_resampling_to_mono(experiments, tmp_path):
    folder, data_folder = experiments["MLEE"]
    _, paths = recipe_test_files(folder, folder / "prep", data_folder)
    signal, rate = sf.read(paths[0], dtype="float32")
    variants = {
        "ten_ms.wav": (signal[: rate // 100], rate, "PCM_16"),  # shorter than the encoder's receptive field
        "stereo_48k.wav": (np.stack([signal, signal], 1).repeat(3, axis=0), rate * 3, "PCM_16"),
        "eight_bit_8k.wav": (signal[::2], rate // 2, "PCM_U8"),
        "float.wav": (signal, rate, "FLOAT"),
        "lossless.flac": (signal, rate, "PCM_24"),
    }
    for name, (data, file_rate, subtype) in variants.items():
        sf.write(tmp_path / name, data, file_rate, subtype=subtype)
    classifier = EmotionClassifier.from_experiment(str(folder))
    outputs = {os.path.basename(r["path"]): r for r in classifier.classify(str(tmp_path))}
    assert set(outputs) == set(variants)
    for output in outputs.values():
        assert output["label"] in classifier.labels and all(0 <= p <= 1 for p in output["probabilities"].values())
    # same audio in another container, depth or rate: nearly the same scores as the original
    original = classifier.classify_file(paths[0])["probabilities"]
    for name in ("float.wav", "lossless.flac", "stereo_48k.wav"):
        assert np.allclose(list(outputs[name]["probabilities"].values()), list(original.values()), atol=0.02), name


def test_checkpoints_are_read_as_tensors_only(experiments, tmp_path):
    folder, _ = experiments["MLEE"]
    copy = tmp_path / "experiment"
    shutil.copytree(folder, copy)
    checkpoint = next(p for p in (copy / "save").iterdir() if p.name.startswith("CKPT"))
    # a checkpoint file holding a pickled object (code would run on a full unpickle) is refused
    torch.save({"weight": torch.zeros(2), "payload": EmoLobesError("pickled object", None)},
               checkpoint / "classifier.ckpt")
    with pytest.raises(EmoLobesError, match=r"cannot read tensors from .*classifier\.ckpt"):
        EmotionClassifier.from_experiment(str(copy))
    with pytest.raises(EmoLobesError, match="the MLEE model has a single emotion head"):
        EmotionClassifier.from_experiment(str(folder)).use_head("emodb")
    with pytest.raises(EmoLobesError, match="no inference adapter for recipe 'Nope'"):
        EmotionClassifier.from_experiment(str(folder), recipe="Nope")
