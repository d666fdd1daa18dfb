"""Bad input: each case ends train.py with one line naming the problem and the fix, or is handled as documented.

The data folder's contents (names and bytes) are hashed before and after every run: nothing is written there.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from emo_lobes.data.audio import audio_info, load_audio
from emo_lobes.data.corpora import parse_corpus
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.synthetic import write_corpus
from run_checks import assert_refused_in_one_line, folder_hash, refusal_outcomes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
TINY = ["--speed_factors=[]", "--num_workers=0", "--cnn_channels=[2,2,2]", "--lstm_size=4", "--attention_size=4",
        "--dense_size=4", "--max_frequency=1000", "--number_of_epochs=1", "--noprogressbar"]
MLEE = [sys.executable, "recipes/MLEE/train.py"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Synthetic IEMOCAP and EmoDB, and an IEMOCAP copy whose audio holds every odd format (see odd_corpus)."""
    root = tmp_path_factory.mktemp("bad_input_data")
    iemocap = write_corpus("iemocap", str(root / "clean"), seed=0)
    emodb = write_corpus("emodb", str(root / "clean"), seed=0)
    odd = str(root / "odd" / "IEMOCAP_full_release")
    shutil.copytree(iemocap, odd)
    return {"iemocap": iemocap, "emodb": emodb, "odd": odd, "odd_files": odd_corpus(odd), "root": root}


def odd_corpus(folder):
    """Rewrite some fold-1 utterances of an IEMOCAP copy in odd formats; ``{kind: utterance id}``.

    Test utterances (speaker Ses01F) become a 10 ms WAV, 8-bit, 24-bit and float WAV, stereo, 8 kHz and 48 kHz;
    two training utterances become a WAV of 0 samples and a WAV with a corrupt header.
    """
    records = parse_corpus("iemocap", folder).records
    test = [r for r in records
            if r["improvised"] and r["speaker"] == "Ses01F" and r["label"] in ("neu", "hap", "sad", "ang")]
    train = [r for r in records if r["improvised"] and r["speaker"].startswith("Ses02")]
    kinds = ("ten_ms", "eight_bit", "twenty_four_bit", "float", "stereo", "rate_8k", "rate_48k")
    chosen = dict(zip(kinds, test)) | {"zero_samples": train[0], "corrupt_header": train[1]}
    for kind, record in chosen.items():
        path = os.path.join(folder, record["wav"])
        signal, rate = sf.read(path, dtype="float32")
        if kind == "ten_ms":
            sf.write(path, signal[: rate // 100], rate, subtype="PCM_16")
        elif kind in ("eight_bit", "twenty_four_bit", "float"):
            subtypes = {"eight_bit": "PCM_U8", "twenty_four_bit": "PCM_24", "float": "FLOAT"}
            sf.write(path, signal, rate, subtype=subtypes[kind])
        elif kind == "stereo":
            sf.write(path, np.stack([signal, 0.5 * signal], axis=1), rate, subtype="PCM_16")
        elif kind.startswith("rate_"):
            new_rate = int(kind[5:-1]) * 1000
            sf.write(path, load_audio(path, new_rate).numpy(), new_rate, subtype="PCM_16")
        elif kind == "zero_samples":
            sf.write(path, np.zeros(0, dtype="float32"), rate, subtype="PCM_16")
        else:  # corrupt header: the RIFF chunk cut short, the samples still after it
            with open(path, "r+b") as fout:
                fout.write(b"RIFF\x00\x00\x00\x00JUNK")
    return {kind: record["id"] for kind, record in chosen.items()}


def test_every_audio_format_is_read_as_mono_at_the_recipe_rate(data):
    records = {r["id"]: r for r in parse_corpus("iemocap", data["odd"]).records}
    files = data["odd_files"]
    expected = {"eight_bit": "PCM_U8", "twenty_four_bit": "PCM_24", "float": "FLOAT"}
    for kind, subtype in expected.items():
        assert audio_info(os.path.join(data["odd"], records[files[kind]]["wav"])).subtype == subtype
    assert records[files["stereo"]]["channels"] == 2
    assert records[files["rate_8k"]]["sample_rate"] == 8000 and records[files["rate_48k"]]["sample_rate"] == 48000
    assert records[files["ten_ms"]]["duration"] == 0.01
    for kind in ("eight_bit", "twenty_four_bit", "float", "stereo", "rate_8k", "rate_48k", "ten_ms"):
        wav = load_audio(os.path.join(data["odd"], records[files[kind]]["wav"]), 16000)
        assert wav.dim() == 1 and abs(len(wav) / 16000 - records[files[kind]]["duration"]) < 0.002, kind
    # FLAC, through the CSV importer
    folder = data["root"] / "flac_corpus"
    folder.mkdir()
    sf.write(folder / "a.flac", np.zeros((4410, 2), dtype="float32"), 44100, subtype="PCM_16")
    (folder / "metadata.csv").write_text("path,label,speaker\na.flac,angry,s1\n")
    record = parse_corpus("csv", str(folder)).records[0]
    assert (record["wav"], record["channels"], record["sample_rate"], record["label"]) == ("a.flac", 2, 44100, "angry")
    assert load_audio(str(folder / "a.flac"), 16000).shape == (1600,)


def test_empty_and_corrupt_wavs_are_skipped_and_reported(data):
    parsed = parse_corpus("iemocap", data["odd"])
    ids = {r["id"] for r in parsed.records}
    assert data["odd_files"]["zero_samples"] not in ids and data["odd_files"]["corrupt_header"] not in ids
    report = "\n".join(parsed.problems)
    assert "audio holds no samples, skipped" in report and "unreadable audio, skipped" in report
    with pytest.raises(EmoLobesError, match="holds no samples"):
        load_audio(os.path.join(data["odd"], next(p.split(":")[0] for p in parsed.problems if "no samples" in p)))


def test_unknown_label_in_a_csv_corpus_is_an_error_or_dropped_as_asked(data):
    folder = data["root"] / "csv_labels"
    folder.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(folder / name, np.zeros(1600, dtype="float32"), 16000)
    (folder / "metadata.csv").write_text("path,label,speaker\na.wav,angry,s1\nb.wav,grumpy,s2\n")
    before = folder_hash(folder)
    with pytest.raises(EmoLobesError, match=r"label 'grumpy' in row 3 of .*metadata.csv is not in allowed_labels"):
        parse_corpus("csv", str(folder), allowed_labels=["angry", "happy"])
    parsed = parse_corpus("csv", str(folder), allowed_labels=["angry", "happy"], unknown_labels="drop")
    assert [r["label"] for r in parsed.records] == ["angry"]
    assert any("label 'grumpy' is not in allowed_labels: 1 row(s) dropped" in p for p in parsed.problems)
    assert folder_hash(folder) == before


def test_odd_audio_trains_and_tests_through_the_recipe(data, tmp_path):
    before = folder_hash(data["odd"])
    proc = subprocess.run(MLEE + ["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={data['odd']}",
                                  f"--output_folder={tmp_path / 'out'}", *TINY],
                          cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "test_results.json").read_text())
    predicted = {p["id"] for p in results["predictions"]}
    odd_test = {kind: utt for kind, utt in data["odd_files"].items() if kind not in ("zero_samples", "corrupt_header")}
    assert set(odd_test.values()) <= predicted  # 10 ms (padded by the encoder), 8/24-bit, float, stereo, 8/48 kHz
    problems = (tmp_path / "out" / "prep" / "problems.txt").read_text()
    assert "audio holds no samples, skipped" in problems and "unreadable audio, skipped" in problems
    assert folder_hash(data["odd"]) == before


def fake_experiment(folder, **info):
    """An output folder as another run leaves it (only what the checks read)."""
    os.makedirs(folder)
    if info:
        with open(os.path.join(folder, "experiment.json"), "w", encoding="utf-8") as out:
            json.dump(info, out)
    else:  # another recipe's output folder: results, no experiment.json
        with open(os.path.join(folder, "test_results.json"), "w", encoding="utf-8") as out:
            json.dump({"recipe": "LanguageMTL", "wa": 0.5}, out)
    return folder


@pytest.fixture(scope="module")
def refusals(data, tmp_path_factory):
    """Run every bad train.py command at once; ``{case: (CompletedProcess-like, data folder)}``."""
    work = tmp_path_factory.mktemp("refusals")
    empty = work / "empty_data"
    empty.mkdir()
    (work / "a_file").write_text("not a folder")
    dominant = fake_experiment(str(work / "dominant_run"), recipe="MLEE", method="dominant", fold=1, finished=True)
    other_recipe = fake_experiment(str(work / "languagemtl_run"))
    iemocap, out = data["iemocap"], str(work / "out")
    (work / "bad_split.json").write_text(json.dumps({"train": ["Session2/no_such.wav"], "test": ["Session1/gone.wav"]}))
    cases = {
        "missing_data_folder": (["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={work / 'nowhere'}"], None),
        "empty_data_folder": (["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={empty}"], str(empty)),
        "other_corpus_layout": (["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={data['emodb']}"], data["emodb"]),
        "unknown_key": (["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={iemocap}", "--patiense=3"], iemocap),
        "no_data_folder": (["recipes/MLEE/hparams/mlee.yaml"], None),
        "split_file_of_other_files": (["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={iemocap}",
                                       f"--split_file={work / 'bad_split.json'}"], iemocap),
        "unwritable_output": (["recipes/MLEE/hparams/mlee.yaml", f"--data_folder={iemocap}",
                               f"--output_folder={work / 'a_file' / 'out'}"], iemocap),
        "pretrained_of_another_method": (["recipes/MLEE/hparams/mlee_pretrain.yaml", f"--data_folder={iemocap}",
                                          f"--pretrained_mlee_folder={dominant}"], iemocap),
        "pretrained_of_another_recipe": (["recipes/MLEE/hparams/mlee_pretrain.yaml", f"--data_folder={iemocap}",
                                          f"--pretrained_mlee_folder={other_recipe}"], iemocap),
        "languagemtl_unknown_key": ([sys.executable, "recipes/LanguageMTL/train.py",
                                     "recipes/LanguageMTL/hparams/single_corpus.yaml", f"--data_folder={iemocap}",
                                     "--corpus=emodb", "--hidden_sizes=8"], iemocap),
        "languagemtl_arousal_corpus": ([sys.executable, "recipes/LanguageMTL/train.py",
                                        "recipes/LanguageMTL/hparams/single_corpus.yaml", "--corpus=baved",
                                        f"--data_folder={write_corpus('baved', str(work / 'baved_data'))}",
                                        f"--output_folder={out}/languagemtl_arousal_corpus"],
                                       str(work / "baved_data" / "BAVED")),
        "languagemtl_split_file_of_several_corpora": ([sys.executable, "recipes/LanguageMTL/train.py",
                                                       "recipes/LanguageMTL/hparams/multitask.yaml",
                                                       f"--data_folder={data['root'] / 'clean'}",
                                                       f"--split_file={work / 'a_file'}",
                                                       f"--output_folder={out}/languagemtl_split_file"], iemocap),
    }
    hashes = {case: folder_hash(folder) for case, (_, folder) in cases.items() if folder}
    started = {}
    for case, (args, _) in cases.items():
        command = args if args[0] == sys.executable else MLEE + args + [f"--output_folder={out}/{case}", *TINY]
        if case == "unwritable_output":
            command = MLEE + args + TINY
        started[case] = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
    done = refusal_outcomes(started, cases, hashes)
    return done, work


EXPECTED = {
    "missing_data_folder": r"error: corpus folders missing: .*nowhere/IEMOCAP_full_release \(iemocap\)\. Fix: ",
    "empty_data_folder": r"error: iemocap data folder .*empty_data is empty\. Fix: ",
    "other_corpus_layout": r"error: no IEMOCAP Session1 \.\.\. Session5 folder in .*EmoDB.*\. Fix: ",
    "unknown_key": r"error: unknown hparams key --patiense for mlee\.yaml\. Fix: did you mean --patience\? "
                   r"Valid keys: seed, method, .*, patience, ",
    "no_data_folder": r"error: data_folder is not set \(!PLACEHOLDER in mlee\.yaml\)\. Fix: pass --data_folder=\.\.\.$",
    "split_file_of_other_files": r"error: split split_file of iemocap: 1 train entries match no file of the corpus "
                                 r"\(e\.g\. Session2/no_such\.wav\)\. Fix: list utterance ids or wav paths",
    "unwritable_output": r"error: cannot create output folder .*a_file/out \(Not a directory\)\. Fix: pass an output "
                         r"folder you can write to$",
    "pretrained_of_another_method": r"error: pretrained_mlee_folder=.*dominant_run is a 'dominant' experiment, not a "
                                    r"'mlee' one\. Fix: pass the output folder of a finished mlee run \(hparams/mlee\.yaml\)$",
    "pretrained_of_another_recipe": r"error: pretrained_mlee_folder=.*languagemtl_run holds no experiment\.json .*\. "
                                    r"Fix: train the mlee model of fold 1 first",
    "languagemtl_unknown_key": r"error: unknown hparams key --hidden_sizes for single_corpus\.yaml\. Fix: did you "
                               r"mean --hidden_size .*Valid keys: seed, experiment, ",
    "languagemtl_arousal_corpus": r"error: corpus baved is labelled high, low, neutral \(arousal levels, not emotion "
                                  r"categories\): it has 1 of the run's 5 emotions \(neutral\)\. Fix: ",
    "languagemtl_split_file_of_several_corpora": r"error: --split_file is for single-corpus runs, but this run uses "
                                                 r"emodb, savee, emovo, masc, iemocap\. Fix: ",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_train_py_refuses_bad_input_in_one_line(refusals, case):
    assert_refused_in_one_line(refusals[0][case], EXPECTED[case])
