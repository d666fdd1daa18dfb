"""Issue 16's faults, one case per item, run as a user runs them: exit status, the one console line, data folder intact.

Each case runs a recipe's ``train.py`` (or a tool) as a subprocess on a synthetic corpus copy in a temporary
folder; every data folder a case reads is hashed before and after (``run_checks.folder_hash``). The cases start
together and are waited for together (most end within seconds, before any training).
Items covered elsewhere, by their own mechanism: two runs in one output folder (``test_run_lock.py``), the fold
runner's orphans (``test_cross_validate.py``), a non-finite loss (``test_one_line_errors.py``, a poisoned batch
through ``EmoLobesBrain``: no recipe's loss can be driven to NaN from its command line), a kill during a checkpoint save and a full disk
(``test_resume.py``, ``test_one_line_errors.py``), a resumed epoch's log line (``test_resume.py``).
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from emo_lobes.data.synthetic import write_corpus
from run_checks import folder_hash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
PY = sys.executable
LANGUAGEMTL = [PY, "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml", "--corpus=emodb",
               "--hidden_size=8", "--number_of_epochs=1", "--noprogressbar", "--cpu_threads=1"]
MLEE_TINY = ["--speed_factors=[]", "--num_workers=0", "--cnn_channels=[2,2,2]", "--lstm_size=4", "--attention_size=4",
             "--dense_size=4", "--max_frequency=1000", "--number_of_epochs=1", "--noprogressbar"]
RECIPES = {
    "EmoNet": [PY, "recipes/EmoNet/train.py", "recipes/EmoNet/hparams/scratch.yaml", "--corpus=emodb"],
    "EmotionEmbeddings": [PY, "recipes/EmotionEmbeddings/train.py",
                          "recipes/EmotionEmbeddings/hparams/single_corpus_mfb.yaml", "--corpus=emodb"],
    "LanguageMTL": LANGUAGEMTL,
    "MLEE": [PY, "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee.yaml", *MLEE_TINY],
    "SelectiveMTL": [PY, "recipes/SelectiveMTL/train.py", "recipes/SelectiveMTL/hparams/baseline.yaml"],
}


def emodb_copy(root, name, change=None):
    """A synthetic EmoDB under ``root/name`` (its parent is the data folder), changed in place by ``change(wav_dir)``."""
    folder = os.path.join(root, name)
    shutil.copytree(write_corpus("emodb", os.path.join(root, "clean"), seed=0), os.path.join(folder, "EmoDB"))
    if change:
        change(os.path.join(folder, "EmoDB", "wav"))
    return folder


def poison_two_files(wav_dir):
    # half of one file's samples NaN; another cut in half (its header claims twice the samples it holds)
    names = sorted(os.listdir(wav_dir))
    samples, rate = sf.read(os.path.join(wav_dir, names[0]), dtype="float32")
    samples[len(samples) // 2:] = np.nan
    sf.write(os.path.join(wav_dir, names[0]), samples, rate, subtype="FLOAT")
    with open(os.path.join(wav_dir, names[1]), "rb") as fin:
        data = fin.read()
    with open(os.path.join(wav_dir, names[1]), "wb") as fout:
        fout.write(data[: len(data) // 2])


def keep_only_neutral(wav_dir):
    # EmoDB names code the emotion in the 6th character (N: neutral)
    for name in os.listdir(wav_dir):
        if name[5] != "N":
            os.remove(os.path.join(wav_dir, name))


def one_fear_utterance(wav_dir):
    # EmoDB's fear (A, Angst) left with a single utterance
    for name in sorted(name for name in os.listdir(wav_dir) if name[5] == "A")[1:]:
        os.remove(os.path.join(wav_dir, name))


def same_duration_copy(wav_dir):
    # a processed copy: every file cut (or zero-padded) to exactly 1.000 s at 22.05 kHz
    for name in os.listdir(wav_dir):
        samples, rate = sf.read(os.path.join(wav_dir, name), dtype="float32")
        samples = np.resize(samples, rate)
        sf.write(os.path.join(wav_dir, name), np.interp(np.linspace(0, rate - 1, 22050), np.arange(rate), samples),
                 22050)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Start every case at once; ``{case: (exit status, stdout + stderr, data folder unchanged, output folder)}``."""
    work = str(tmp_path_factory.mktemp("faults"))
    clean = emodb_copy(work, "emodb")
    iemocap = write_corpus("iemocap", os.path.join(work, "iemocap"), seed=0)
    empty_urdu = os.path.join(work, "empty_urdu")
    os.makedirs(empty_urdu)
    out = os.path.join(work, "out")
    cases = {
        # 1. non-finite samples (and 6. a truncated file): those files are skipped, said in one line; the run trains
        "nan_and_truncated_files": (LANGUAGEMTL, emodb_copy(work, "poisoned", poison_two_files)),
        # 4. an output folder equal to / inside the data folder: refused before anything is written, every recipe
        **{f"output_in_data_folder_{recipe}": (command, clean) for recipe, command in RECIPES.items()
           if recipe not in ("MLEE", "SelectiveMTL")},
        "output_in_data_folder_MLEE": (RECIPES["MLEE"], iemocap),
        "output_in_data_folder_SelectiveMTL": (RECIPES["SelectiveMTL"], iemocap),
        # 5. tracebacks where one line is owed
        "epochs_not_a_number": (RECIPES["EmoNet"] + ["--max_epochs=abc"], clean),
        "lr_levels_not_a_list": (RECIPES["EmoNet"] + ["--lr_levels=abc"], clean),
        **{f"batch_size_not_a_number_{recipe}": (RECIPES[recipe] + ["--batch_size=abc"],
                                                  iemocap if recipe == "SelectiveMTL" else clean)
           for recipe in ("LanguageMTL", "EmotionEmbeddings", "SelectiveMTL")},
        "same_override_twice": (RECIPES["MLEE"] + ["--seed=1", "--seed=2"], iemocap),
        "override_changes_a_value_s_structure": (
            [PY, "recipes/SelectiveMTL/train.py", "recipes/SelectiveMTL/hparams/selective_mtl.yaml",
             "--corpora={spont: {split: {dev: {speaker_fraction: 0.1}}}}"], iemocap),
        "classify_batch_size_zero": ([PY, "tools/classify.py", os.path.join(work, "no_experiment"),
                                      os.path.join(clean, "EmoDB", "wav"), "--batch_size=0",
                                      f"--output={os.path.join(out, 'classified.csv')}"], clean),
        # 6. a processed copy (every file the same length, at 22.05 kHz) is flagged by summarize
        "summarize_processed_copy": ([PY, "-m", "emo_lobes.data.corpora", "summarize", "--corpus=emodb",
                                      "--data_folder=" + os.path.join(emodb_copy(work, "processed", same_duration_copy), "EmoDB")],
                                     os.path.join(work, "processed")),
        # 7. degenerate corpora: one class refused; a class of one utterance cannot be in train, dev and test
        "one_class_corpus": (LANGUAGEMTL, emodb_copy(work, "neutral_only", keep_only_neutral)),
        "class_of_one_utterance": (LANGUAGEMTL + ["--split={method: speaker_kfold, k: 5, dev: {speakers: 1}}"],
                                   emodb_copy(work, "one_fear", one_fear_utterance)),
        "class_of_one_utterance_in_a_given_split": (LANGUAGEMTL, os.path.join(work, "one_fear")),
        # 8. an empty URDU folder: the fix names URDU's own layout
        "empty_urdu_folder": ([PY, "recipes/EmotionEmbeddings/train.py",
                               "recipes/EmotionEmbeddings/hparams/single_corpus_mfb.yaml", "--corpus=urdu"], empty_urdu),
    }
    hashes = {case: folder_hash(folder) for case, (_, folder) in cases.items()}
    started = {}
    for case, (command, folder) in cases.items():
        if command[1].startswith("recipes/"):
            output = folder if case.startswith("output_in_data_folder") else os.path.join(out, case)
            if case == "output_in_data_folder_EmoNet":
                output = os.path.join(folder, "EmoDB", "exp")  # inside the corpus folder
            command = command + [f"--data_folder={folder}", f"--output_folder={output}"]
            if "LanguageMTL" in command[1]:
                command.append(f"--feature_cache_folder={os.path.join(out, 'cache_' + case)}")
        started[case] = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True)
    done = {}
    for case, process in started.items():
        output, _ = process.communicate()
        done[case] = (process.returncode, output, folder_hash(cases[case][1]) == hashes[case], os.path.join(out, case))
    return done


def last_line(output):
    return output.strip().splitlines()[-1]


#: The one line each refused case ends with (a regular expression).
REFUSALS = {
    **{f"output_in_data_folder_{recipe}": r"error: output folder .* is inside the data folder .*, which emo-lobes never "
                                          r"writes to\. Fix: pass an output folder outside " for recipe in RECIPES},
    "epochs_not_a_number": r"error: --max_epochs=abc is not an integer \(scratch\.yaml gives \d+\)\. Fix: ",
    "lr_levels_not_a_list": r"error: --lr_levels=abc is not a list \[a, b, \.\.\.\] \(scratch\.yaml gives ",
    **{f"batch_size_not_a_number_{recipe}": r"error: --batch_size=abc is not an integer \(\w+\.yaml gives \d+\)\. Fix: "
       for recipe in ("LanguageMTL", "EmotionEmbeddings", "SelectiveMTL")},
    "same_override_twice": r"error: the command-line overrides give seed twice\. Fix: give --seed=\.\.\. once$",
    "override_changes_a_value_s_structure": r"error: an override changes the structure of a value in "
                                            r"selective_mtl\.yaml .*--corpora.*\. Fix: keep each value's shape",
    "classify_batch_size_zero": r"error: --batch_size 0 is below 1\. Fix: pass --batch_size 1 or more$",
    "one_class_corpus": r"error: corpus emodb is labelled neutral: it has 1 of the run's 5 emotions \(neutral\)\. ",
    "class_of_one_utterance": r"error: split of emodb: .*'fear'.*\. Fix: ",
    "empty_urdu_folder": r"error: urdu data folder .* is empty\. Fix: pass --data_folder=<the folder that holds "
                         r"Angry/, Happy/, Neutral/ and Sad/>$",
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_fault_is_refused_in_one_line_and_the_data_folder_is_unchanged(outcomes, case):
    returncode, output, unchanged, _ = outcomes[case]
    assert returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert re.match(REFUSALS[case], last_line(output)), last_line(output)
    assert unchanged


def test_non_finite_and_truncated_files_are_skipped_in_one_console_line_and_the_run_trains(outcomes):
    returncode, output, unchanged, folder = outcomes["nan_and_truncated_files"]
    assert returncode == 0, output[-3000:]
    assert "[prep] 2 problems (2 files skipped), see " in output
    predictions = json.loads(open(os.path.join(folder, "test_results.json"), encoding="utf-8").read())["predictions"]
    assert predictions and all(math.isfinite(p) for prediction in predictions for p in prediction["probs"])
    assert unchanged


def test_summarize_flags_a_processed_copy_and_leaves_it_unchanged(outcomes):
    returncode, output, unchanged, _ = outcomes["summarize_processed_copy"]
    assert returncode == 0, output[-3000:]
    assert "all 140 files last exactly 1.0 s: a processed copy (cut or padded)?" in output
    assert "22050          140" in output  # the rate table shows the copy's one rate
    assert unchanged


def test_a_given_split_that_leaves_a_class_out_of_training_is_warned_about_in_one_line(outcomes):
    # the paper's named test speaker holds the only 'fear' utterance: the run goes on, and says so first
    returncode, output, unchanged, _ = outcomes["class_of_one_utterance_in_a_given_split"]
    assert returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if line.startswith("[splits] warning: emodb: train")]
    assert len(warnings) == 1 and "holds 0 'fear' utterances (at least 1 needed)" in warnings[0], warnings
    assert unchanged
