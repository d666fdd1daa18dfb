"""Inference: a tiny trained MLEE / LanguageMTL experiment classifies audio as the recipe's own test did.

``EmotionClassifier`` and ``tools/classify.py`` must reproduce each recipe's ``test_results.json`` predictions
(label and probabilities) on the test files, read only tensors from the checkpoints, and classify files in
other formats (10 ms, stereo 48 kHz, 8-bit, FLAC); refuse a received folder's yaml that names code to run;
classify padded tensor batches as each file alone; refuse NaN, empty and unreadable audio per file; classify sliding
windows of a long file.
"""
import csv
import glob
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


def test_each_run_leaves_a_packaged_model_that_from_hparams_loads_and_reproduces(experiments, tmp_path):
    """``<output_folder>/model`` (weights, inference.yaml, labels, model card), fetched into a savedir through
    SpeechBrain's fetching as a hub download would be, gives the recipe's test predictions again."""
    mlee, data_folder = experiments["MLEE"]
    languagemtl_results, emodb = experiments["LanguageMTL"]
    languagemtl = experiments["LanguageMTL_folder"]
    cases = [(mlee, *recipe_test_files(mlee, mlee / "prep", data_folder)),
             (languagemtl, *recipe_test_files(languagemtl_results, languagemtl / "prep" / "emodb", emodb))]
    for experiment, results, paths in cases:
        package = experiment / "model"
        assert sorted(os.listdir(package)) == sorted(
            ["README.md", "inference.yaml", "labels.json", "model.json", *(f"{m}.ckpt" for m in
                                                                          json.loads((package / "model.json").read_text())["modules"])])
        card = (package / "README.md").read_text()
        assert f"UA {100 * results['ua']:.1f} %" in card or experiment == languagemtl
        assert "from_hparams" in card
        classifier = EmotionClassifier.from_hparams(source=str(package), savedir=str(tmp_path / experiment.name))
        assert_reproduces(classifier.classify_files(paths), results)
        assert classifier.labels == results["labels"]
    # the package is self-contained: moved elsewhere, with its experiment folder gone from view, it still loads
    moved = tmp_path / "moved_model"
    shutil.copytree(mlee / "model", moved)
    results, paths = recipe_test_files(mlee, mlee / "prep", data_folder)
    assert_reproduces(EmotionClassifier.from_hparams(source=str(moved)).classify_files(paths), results)
    with pytest.raises(EmoLobesError, match="is not a model folder"):
        EmotionClassifier.from_hparams(source=str(tmp_path))
    with pytest.raises(EmoLobesError, match="no savedir is given"):
        EmotionClassifier.from_hparams(source="someone/emotion-model")


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


PLANTED = {
    "apply_os_system": ('evil: !apply:os.system ["touch {marker}"]', "!apply:os.system"),
    "new_popen": ('model_extra:\n  evil: !new:subprocess.Popen [[touch, "{marker}"]]', "!new:subprocess.Popen"),
    "name_eval": ("evil: !name:builtins.eval", "!name:builtins.eval"),
    "python_apply": ('evil: !!python/object/apply:os.system ["touch {marker}"]', "!!python/object/apply:os.system"),
    "through_torch": ('evil: !apply:torch.os.system ["touch {marker}"]', "!apply:torch.os.system"),
    "include": ("evil: !include:other.yaml", "!include:other.yaml"),
}


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_a_planted_yaml_tag_is_refused_and_runs_nothing(experiments, tmp_path, planted):
    folder, data_folder = experiments["MLEE"]
    copy = tmp_path / "received"
    shutil.copytree(folder, copy)
    marker = tmp_path / "ran"
    line, tag = PLANTED[planted]
    (copy / "other.yaml").write_text(f'x: !apply:os.system ["touch {marker}"]\n')
    key = "model_extra[evil]" if planted == "new_popen" else "evil"
    with open(copy / "hyperparams.yaml", "a", encoding="utf-8") as out:
        out.write("\n" + line.format(marker=marker) + "\n")
    with pytest.raises(EmoLobesError) as refused:
        EmotionClassifier.from_experiment(str(copy))
    message = str(refused.value)
    assert "\n" not in message and f"key '{key}' holds {tag}," in message, message
    assert not marker.exists()
    # the command line: the same one line, exit status 2, still nothing ran
    _, paths = recipe_test_files(folder, folder / "prep", data_folder)
    proc = subprocess.run([sys.executable, "tools/classify.py", str(copy), paths[0], "--output",
                           str(tmp_path / "p.csv")], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert not marker.exists() and not (tmp_path / "p.csv").exists()


def test_every_recipe_hparams_file_passes_the_tag_check():
    from emo_lobes.inference.safe_hparams import check_hparams_tags

    files = sorted(glob.glob(os.path.join(ROOT, "recipes", "*", "hparams", "*.yaml")))
    assert len(files) >= 5
    for path in files:  # their !new:/!name:/!apply: targets all lie in emo_lobes, speechbrain or torch
        with open(path, encoding="utf-8") as fin:
            check_hparams_tags(fin.read(), path)


def padded_batch_of_three(paths, sample_rate):
    """Three files of different lengths (the longest first is not required), zero-padded, with relative lengths."""
    from emo_lobes.data.audio import load_audio

    by_length = {}
    for path in paths:
        wav = load_audio(path, sample_rate)
        by_length.setdefault(len(wav), (path, wav))
    assert len(by_length) >= 3, "the synthetic test set has files of at least three lengths"
    lengths = sorted(by_length)
    chosen = [by_length[lengths[1]], by_length[lengths[-1]], by_length[lengths[0]]]
    wavs = torch.nn.utils.rnn.pad_sequence([wav for _, wav in chosen], batch_first=True)
    wav_lens = torch.tensor([len(wav) / wavs.shape[1] for _, wav in chosen])
    return [path for path, _ in chosen], wavs, wav_lens


@pytest.mark.parametrize("recipe", ["MLEE", "LanguageMTL"])
def test_classify_batch_on_a_padded_batch_equals_each_file_alone(experiments, recipe):
    results_folder, data_folder = experiments[recipe]
    experiment = experiments["MLEE"][0] if recipe == "MLEE" else experiments["LanguageMTL_folder"]
    prep = experiment / "prep" / ("" if recipe == "MLEE" else "emodb")
    _, paths = recipe_test_files(results_folder, prep, data_folder)
    classifier = EmotionClassifier.from_experiment(str(experiment))
    chosen, wavs, wav_lens = padded_batch_of_three(paths, classifier.sample_rate)
    assert wav_lens.max() == 1 and wav_lens.min() < 1
    out_prob, score, index, text_lab = classifier.classify_batch(wavs, wav_lens)
    embeddings = classifier.encode_batch(wavs, wav_lens)
    assert out_prob.shape == (3, len(classifier.labels)) and score.shape == index.shape == (3,)
    for row, path in enumerate(chosen):
        alone = classifier.classify_file(path)
        assert text_lab[row] == alone["label"] == classifier.labels[int(index[row])]
        assert np.allclose(out_prob[row].exp().numpy(), list(alone["probabilities"].values()), atol=1e-5, rtol=0)
        assert float(score[row]) == pytest.approx(float(out_prob[row, index[row]]))
        assert torch.allclose(embeddings[row], alone["embedding"], atol=1e-5)
    # extra padding past the longest utterance changes nothing; bad batches get one line
    wider = torch.nn.functional.pad(wavs, (0, 800))
    assert torch.allclose(classifier.classify_batch(wider, wav_lens * wavs.shape[1] / wider.shape[1])[0].exp(),
                          out_prob.exp(), atol=1e-5)
    wavs[1, 5] = float("nan")
    with pytest.raises(EmoLobesError, match=r"^waveform 1 of the batch holds 1 non-finite samples"):
        classifier.classify_batch(wavs, wav_lens)
    with pytest.raises(EmoLobesError, match="are not relative lengths"):
        classifier.classify_batch(wavs[:2], wav_lens)


def test_classify_batch_of_an_emotion_embeddings_model_equals_each_file_alone(tmp_path):
    from emo_lobes.inference.adapters.emotionembeddings import _toy_experiment

    classifier = EmotionClassifier.from_experiment(_toy_experiment(str(tmp_path)), head="emodb")
    generator = torch.Generator().manual_seed(0)
    paths = []
    for seconds in (0.7, 1.3, 0.4):
        paths.append(str(tmp_path / f"{seconds}.wav"))
        sf.write(paths[-1], (0.1 * torch.randn(int(seconds * 16000), generator=generator)).numpy(), 16000,
                 subtype="FLOAT")
    chosen, wavs, wav_lens = padded_batch_of_three(paths, classifier.sample_rate)
    out_prob, _, _, text_lab = classifier.classify_batch(wavs, wav_lens)
    embeddings = classifier.encode_batch(wavs, wav_lens)
    for row, path in enumerate(chosen):
        alone = classifier.classify_file(path)
        assert text_lab[row] == alone["label"] and list(alone["probabilities"]) == ["F", "W"]
        assert np.allclose(out_prob[row].exp().numpy(), list(alone["probabilities"].values()), atol=1e-5, rtol=0)
        assert torch.allclose(embeddings[row], alone["embedding"], atol=1e-5)


def test_classify_command_refuses_nan_empty_and_unreadable_audio_and_goes_on(experiments, tmp_path):
    folder, data_folder = experiments["MLEE"]
    _, paths = recipe_test_files(folder, folder / "prep", data_folder)
    signal, rate = sf.read(paths[0], dtype="float32")
    signal[100:110] = np.nan
    sf.write(tmp_path / "nan.wav", signal, rate, subtype="FLOAT")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype="float32"), rate)
    (tmp_path / "garbage.wav").write_bytes(b"RIFF not really a wave file")
    bad = [str(tmp_path / name) for name in ("nan.wav", "empty.wav", "garbage.wav")]
    out = tmp_path / "predictions.csv"
    files = [paths[0], bad[0], paths[1], bad[1], bad[2]]
    proc = subprocess.run([sys.executable, "tools/classify.py", str(folder), *files, "--output", str(out)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, proc.stderr
    assert f"audio file {bad[0]} holds 10 non-finite samples (NaN/inf)" in errors[0]
    assert f"audio file {bad[1]} holds no samples" in errors[1]
    assert f"cannot read audio {bad[2]}" in errors[2]
    rows = list(csv.DictReader(out.open()))
    assert [r["path"] for r in rows] == [paths[0], paths[1]]  # the others' rows, no label for the refused files
    assert all(r["label"] in ("neu", "hap", "sad", "ang") for r in rows)
    assert "2 files" in proc.stdout and "3 not classified" in proc.stdout


def test_recipe_runs_leave_confusion_png_and_their_logs_plot(experiments):
    from emo_lobes.evaluation.plots import read_train_log, write_training_curves_png

    for folder in (experiments["MLEE"][0], experiments["LanguageMTL"][0]):
        picture = folder / "confusion.png"
        assert picture.is_file() and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for folder, dev_keys in ((experiments["MLEE"][0], {"loss"}),
                             (experiments["LanguageMTL_folder"], set())):  # LanguageMTL: the paper's no-dev protocol
        epochs = read_train_log(str(folder / "train_log.txt"))
        assert len(epochs) == 1 and set(epochs[0].get("valid", {})) == dev_keys and "loss" in epochs[0]["train"]
        assert os.path.getsize(write_training_curves_png(str(folder))) > 1000


def test_sliding_windows_of_a_20_s_file_give_one_row_per_window_and_a_timeline(experiments, tmp_path):
    folder, data_folder = experiments["MLEE"]
    _, paths = recipe_test_files(folder, folder / "prep", data_folder)
    rate = sf.info(paths[0]).samplerate
    pieces, total = [], 0
    while total < 20 * rate:  # the test utterances one after the other: a 20 s "interview"
        signal = sf.read(paths[len(pieces) % len(paths)], dtype="float32")[0]
        pieces.append(signal)
        total += len(signal)
    long_signal = np.concatenate(pieces)[: 20 * rate]
    long_wav, nan_wav = tmp_path / "interview.wav", tmp_path / "nan.wav"
    sf.write(long_wav, long_signal, rate, subtype="FLOAT")
    broken = long_signal[: 5 * rate].copy()
    broken[7] = np.nan
    sf.write(nan_wav, broken, rate, subtype="FLOAT")
    out = tmp_path / "windows.csv"
    proc = subprocess.run([sys.executable, "tools/classify.py", str(folder), str(long_wav), str(nan_wav), "--output",
                           str(out), "--window", "3", "--hop", "1"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr[-2000:]  # the NaN file: one line, no rows; the long file: its windows
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"audio file {nan_wav} holds 1 non-finite samples" in errors[0]
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:4] == ["path", "start", "end", "label"]
    assert {r["path"] for r in rows} == {str(long_wav)}
    assert [(float(r["start"]), float(r["end"])) for r in rows] == [(s, s + 3.0) for s in range(18)]
    # each window scores as that stretch of audio classified as a file of its own
    classifier = EmotionClassifier.from_experiment(str(folder))
    for row in (rows[0], rows[10], rows[-1]):
        start = int(float(row["start"]) * rate)
        piece = tmp_path / f"piece_{start}.wav"
        sf.write(piece, long_signal[start:start + 3 * rate], rate, subtype="FLOAT")
        alone = classifier.classify_file(str(piece))
        assert row["label"] == alone["label"]
        assert np.allclose([float(row[f"p_{c}"]) for c in classifier.labels], list(alone["probabilities"].values()),
                           atol=1e-5)
    picture = tmp_path / "windows_timeline_1_interview.png"
    assert picture.is_file() and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 1000
    assert not list(tmp_path.glob("windows_timeline_2_*"))
    # --hop alone, or a window of 0 s: one line
    for extra, message in ((["--hop", "1"], "error: --hop without --window"),
                           (["--window", "0"], "error: --window 0 and --hop 0 must both be above 0")):
        proc = subprocess.run([sys.executable, "tools/classify.py", str(folder), str(long_wav), "--output", str(out),
                               *extra], cwd=ROOT, env=ENV, capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith(message), proc.stderr
