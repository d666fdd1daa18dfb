"""The fold runner: one folder per fold, resume after a failure, aggregation of test_results.json."""
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "tools", "cross_validate.py")

# A stand-in recipe: writes a test_results.json whose accuracy depends on the fold, logs each call,
# and fails once on the fold named by --fail_fold (the flag file makes the failure happen only once).
FAKE_TRAIN = '''
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[2:])
out = args["output_folder"]; fold = int(args["fold"])
with open(os.path.join(os.path.dirname(out), "calls.log"), "a") as f:
    f.write(f"{fold}\\n")
flag = os.path.join(os.path.dirname(out), "failed_once")
if args.get("fail_fold") == str(fold) and not os.path.exists(flag):
    open(flag, "w").close(); sys.exit(3)
if args.get("sleep_fold") == str(fold):
    import time
    with open(os.path.join(os.path.dirname(out), "child.pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
os.makedirs(out, exist_ok=True)
correct = fold  # fold k gets k of 4 right
y_true = ["a", "a", "b", "b"]
y_pred = y_true[:correct] + [("b" if y == "a" else "a") for y in y_true[correct:]]
sys.path.insert(0, args["root"])
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results
write_test_results(os.path.join(out, "test_results.json"), classification_metrics(y_true, y_pred, ["a", "b"]))
'''


def run_runner(tmp_path, *extra):
    train = tmp_path / "train.py"
    train.write_text(FAKE_TRAIN)
    hparams = tmp_path / "h.yaml"
    hparams.write_text("seed: 1\n")
    out = tmp_path / "cv"
    command = [sys.executable, RUNNER, str(train), str(hparams), "--folds", "1-3", "--output_folder", str(out),
               f"--root={ROOT}", *extra]
    return subprocess.run(command, capture_output=True, text=True), out


def test_runs_every_fold_and_aggregates(tmp_path):
    proc, out = run_runner(tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "cv_results.json").read_text())
    assert result["n_folds"] == 3
    assert [result["folds"][k]["wa"] for k in ("1", "2", "3")] == [0.25, 0.5, 0.75]
    assert abs(result["aggregate"]["wa"]["mean"] - 0.5) < 1e-9
    assert len(re.findall(r"\| fold \d", (out / "cv_results.md").read_text())) == 3


def test_failed_fold_stops_with_one_line_and_resumes(tmp_path):
    proc, out = run_runner(tmp_path, "--fail_fold=2")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "fold 2 failed" in proc.stderr
    proc, out = run_runner(tmp_path, "--fail_fold=2")
    assert proc.returncode == 0, proc.stderr
    # fold 1 ran once (skipped on resume), fold 2 twice (failure, then resume), fold 3 once
    assert (out / "calls.log").read_text().split() == ["1", "2", "2", "3"]


def test_a_fold_killed_after_its_results_but_before_train_py_ended_runs_again(tmp_path):
    proc, out = run_runner(tmp_path)
    assert proc.returncode == 0, proc.stderr
    (out / "fold_2" / "cv_fold_done.json").unlink()  # as if killed between test_results.json and the exit
    proc, out = run_runner(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "calls.log").read_text().split() == ["1", "2", "3", "2"]
    assert "[cv] fold 1: done already" in proc.stdout and (out / "fold_2" / "cv_fold_done.json").exists()


def test_bad_fold_spec_is_one_line(tmp_path):
    proc, _ = run_runner(tmp_path)
    proc = subprocess.run([sys.executable, RUNNER, str(tmp_path / "train.py"), str(tmp_path / "h.yaml"),
                           "--folds", "x-y", "--output_folder", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "fold spec" in proc.stderr and proc.stderr.count("\n") == 1


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is dead too
        return stat.read().split()[2] != "Z"


def test_a_killed_runner_takes_its_fold_with_it_and_a_second_runner_is_refused(tmp_path):
    train = tmp_path / "train.py"
    train.write_text(FAKE_TRAIN)
    hparams = tmp_path / "h.yaml"
    hparams.write_text("seed: 1\n")
    out = tmp_path / "cv"
    command = [sys.executable, RUNNER, str(train), str(hparams), "--folds", "1-2", "--output_folder", str(out),
               f"--root={ROOT}", "--sleep_fold=2"]
    runner = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = out / "child.pid"
    deadline = time.time() + 60
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    child = int(pid_file.read_text())
    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and f"in use by another fold_runner (process {runner.pid})" in second.stderr
    assert second.stderr.count("\n") == 1
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the fold's train.py outlived its runner"
    again = subprocess.run(command[:-1], capture_output=True, text=True, timeout=60)  # the stale lock is taken over
    assert again.returncode == 0, again.stderr
    assert f"process {runner.pid} that ran here is gone" in again.stdout
