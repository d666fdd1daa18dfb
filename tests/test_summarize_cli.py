"""Tests of ``python -m emo_lobes.data.corpora summarize``: tables, JSON, and one-line errors with exit status 2."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from emo_lobes.data.corpora.__main__ import main

URDU_FILES = ("Angry/SM1_F1_A01.wav", "Angry/SF2_F1_A02.wav", "Sad/SM1_F1_S01.wav", "Sad/notes.wav")


def run_cli(*args):
    """Run the command in a fresh interpreter; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "emo_lobes.data.corpora", "summarize", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def urdu_folder(tmp_path_factory):
    """Three URDU clips and one misnamed file, in the release layout."""
    root = tmp_path_factory.mktemp("URDU")
    for name in URDU_FILES:
        os.makedirs(root / os.path.dirname(name), exist_ok=True)
        sf.write(str(root / name), np.full(4410, 0.1), 44100)
    return str(root)


@pytest.fixture(scope="module")
def csv_folder(tmp_path_factory):
    """Two clips described by a CSV outside the default name."""
    root = tmp_path_factory.mktemp("calls")
    for name in ("x.wav", "y.wav"):
        sf.write(str(root / name), np.full(800, 0.1), 8000)
    (root / "labels.csv").write_text("path,label,speaker,gender\nx.wav,angry,7,f\ny.wav,neutral,8,m\n")
    return str(root)


def test_json_output(urdu_folder):
    result = run_cli("--corpus", "urdu", "--data_folder", urdu_folder, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {"corpus", "n_utterances", "n_speakers", "labels", "speakers", "problems"} <= set(summary)
    assert (summary["corpus"], summary["n_utterances"], summary["n_speakers"]) == ("urdu", 3, 2)
    assert summary["labels"] == {"A": 2, "S": 1} and summary["speakers"] == {"urdu_SF2": 1, "urdu_SM1": 2}
    assert len(summary["problems"]) == 1 and "Sad/notes.wav" in summary["problems"][0]


def test_table_output_and_csv_options(urdu_folder, csv_folder, capsys):
    assert main(["summarize", "--corpus", "urdu", "--data_folder", urdu_folder]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("urdu: 3 utterances, 2 speakers")
    assert "urdu_SM1      2" in table and "44100" in table and "problems: 1" in table
    args = ["summarize", "--corpus", "csv", "--data_folder", csv_folder, "--csv_file", "labels.csv", "--json"]
    assert main(args + ["--corpus_name", "calls", "--language", "es"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["speakers"] == {"calls_7": 1, "calls_8": 1} and summary["genders"] == {"female": 1, "male": 1}


def test_missing_folder_gives_one_line_and_status_2(tmp_path):
    result = run_cli("--corpus", "tess", "--data_folder", str(tmp_path / "nothing"), "--json")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: tess data folder") and "Fix:" in lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--corpus", "nosuch", "--data_folder", "."], "unknown corpus 'nosuch'"),
        (["--corpus", "urdu", "--data_folder", ".", "--csv_file", "m.csv"], "--csv_file only apply to --corpus csv"),
        (["--corpus", "csv", "--data_folder", ".", "--csv_file", "absent.csv"], "metadata CSV absent.csv not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["summarize", *args])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_summarize_flags_a_processed_copy_same_durations_and_an_unusual_rate(tmp_path):
    """Every file cut to 2.000 s at 22.05 kHz (a processed EmoDB) is flagged; the release's variety is not."""
    os.makedirs(tmp_path / "wav")
    for name in ("03a01Fa.wav", "03a01Wa.wav", "08a02Ta.wav"):
        sf.write(str(tmp_path / "wav" / name), np.full(44100, 0.1), 22050)
    result = run_cli("--corpus", "emodb", "--data_folder", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert any("all 3 files last exactly 2.0 s" in line for line in warnings)
    assert not any("unusual sample rates" in line for line in warnings)  # 22.05 kHz is a usual rate
    sf.write(str(tmp_path / "wav" / "08a02Ta.wav"), np.full(11000, 0.1), 11000)
    text = run_cli("--corpus", "emodb", "--data_folder", str(tmp_path)).stdout
    assert "unusual sample rates 11000 Hz" in text and "last exactly" not in text
