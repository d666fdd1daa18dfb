"""tools/leaderboard.py on synthetic URDU: identical split files for every system, the leaderboard.json schema,
McNemar against egemaps_svm, resuming without rerunning, and one-line refusals."""
import json
import os
import subprocess
import sys

import pytest

from emo_lobes.data.synthetic import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEADERBOARD = os.path.join(ROOT, "tools", "leaderboard.py")
ROW_KEYS = {"system", "corpus", "ua", "ua_std", "wa", "macro_f1", "n_test", "folds", "mcnemar_p", "runs"}


def _run(args, cwd=ROOT):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, LEADERBOARD, *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def urdu(tmp_path_factory):
    return write_corpus("urdu", str(tmp_path_factory.mktemp("syn")))


def _tree(folder):
    return {os.path.relpath(os.path.join(d, f), folder): os.path.getmtime(os.path.join(d, f))
            for d, _, files in os.walk(folder) for f in files}


def test_leaderboard_runs_systems_on_the_same_splits_and_resumes(urdu, tmp_path):
    before = _tree(urdu)
    out = str(tmp_path / "lb")
    args = ["--quick", "--folds", "2", "--corpora", f"urdu={urdu}", "--systems",
            "egemaps_svm,languagemtl_mfcc_lstm", "--output_folder", out]
    first = _run(args)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = json.load(open(os.path.join(out, "leaderboard.json")))
    assert [r["system"] for r in rows] == ["egemaps_svm", "languagemtl_mfcc_lstm"]
    for row in rows:
        assert ROW_KEYS <= set(row) and row["folds"] == 2 and 0.0 <= row["ua"] <= 1.0
    assert rows[0]["mcnemar_p"] is None and 0.0 <= rows[1]["mcnemar_p"] <= 1.0
    # every system of a fold tested exactly the split file's test utterances
    for fold in (1, 2):
        split = json.load(open(os.path.join(out, "splits", f"urdu_fold{fold}.json")))
        assert split["counts"]["dev"] and set(split["counts"]["test"]) == set(split["counts"]["train"])
        for row in rows:
            results = json.load(open(os.path.join(out, row["runs"][fold - 1], "test_results.json")))
            assert sorted(p["wav"] for p in results["predictions"]) == sorted(split["test"])
    assert sum(r["n_test"] for r in rows) == 2 * sum(
        len(json.load(open(os.path.join(out, "splits", f"urdu_fold{k}.json")))["test"]) for k in (1, 2))
    table = open(os.path.join(out, "leaderboard.md")).read()
    assert "### urdu" in table and "languagemtl_mfcc_lstm" in table and "quick" in table
    # a second call redoes nothing: no run is started, the run records stay as they were
    records = {r: os.path.getmtime(os.path.join(out, r, "leaderboard_run.json")) for row in rows for r in row["runs"]}
    second = _run(args)
    assert second.returncode == 0 and " fold 1: " not in second.stdout
    assert records == {r: os.path.getmtime(os.path.join(out, r, "leaderboard_run.json")) for r in records}
    assert _tree(urdu) == before  # the corpus folder is read only


@pytest.mark.parametrize("args, message", [
    (["--corpora", "urdu"], "cannot read corpus 'urdu'"),
    (["--corpora", "urdu={data}", "--systems", "nope"], "unknown system 'nope'"),
    (["--corpora", "urdu={data}", "--split_files", "emodb=x.json"], "--split_files names emodb"),
])
def test_leaderboard_refuses_bad_input_in_one_line(urdu, tmp_path, args, message):
    result = _run([a.replace("{data}", urdu) for a in args] + ["--output_folder", str(tmp_path / "o")])
    assert result.returncode != 0 and message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_leaderboard_refuses_an_output_folder_inside_the_corpus(urdu):
    result = _run(["--corpora", f"urdu={urdu}", "--output_folder", os.path.join(urdu, "lb")])
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert not os.path.exists(os.path.join(urdu, "lb"))
