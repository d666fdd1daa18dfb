"""Two runs in one output folder: the second is refused in one line naming the first; a gone holder is taken over."""
import os
import signal
import subprocess
import sys
import time

import pytest

from emo_lobes.data.synthetic import write_corpus
from run_checks import folder_hash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1")
LANGUAGEMTL = [sys.executable, "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml",
               "--corpus=emodb", "--hidden_size=8", "--batch_size=16", "--noprogressbar", "--cpu_threads=1"]


def test_a_second_run_in_the_same_output_folder_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path):
    data = write_corpus("emodb", str(tmp_path / "data"))
    out = tmp_path / "run"
    before = folder_hash(data)
    common = [f"--data_folder={data}", f"--output_folder={out}", f"--feature_cache_folder={tmp_path / 'cache'}"]
    first = subprocess.Popen(LANGUAGEMTL + common + ["--number_of_epochs=500"], cwd=ROOT, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = out / ".run.lock"
    deadline = time.time() + 120
    while time.time() < deadline and not (lock.exists() and lock.read_text().startswith(str(first.pid))):
        time.sleep(0.2)
    try:
        second = subprocess.run(LANGUAGEMTL + common + ["--number_of_epochs=1"], cwd=ROOT, env=ENV,
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 1, second.stderr[-2000:]  # recipe scripts exit 1 on a one-line error
        assert second.stderr.strip().splitlines()[-1] == (
            f"error: output folder {out} is in use by another run (process {first.pid}). Fix: wait for it to end "
            "(or stop it), or pass another --output_folder")
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    third = subprocess.run(LANGUAGEMTL + common + ["--number_of_epochs=1"], cwd=ROOT, env=ENV,
                           capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-2000:]
    assert f"process {first.pid} that ran here is gone; this run takes over" in third.stdout + third.stderr
    assert folder_hash(data) == before  # three runs, one refused and one taking over: the corpus is untouched


def test_a_rerun_after_a_failure_keeps_the_failed_attempts_log(tmp_path):
    # run_command_once's log is where its one-line error says to read: a rerun (the error's suggested fix) must not
    # overwrite the output of the attempt that failed.
    from emo_lobes.errors import EmoLobesError
    from emo_lobes.training.run_lock import run_command_once

    done = tmp_path / "done"
    with pytest.raises(EmoLobesError, match="read .*grid_stdout.log"):
        run_command_once("demo", [sys.executable, "-c", "print('first attempt'); raise SystemExit(3)"], str(tmp_path),
                         str(done))
    run_command_once("demo", [sys.executable, "-c", f"print('second'); open({str(done)!r}, 'w')"], str(tmp_path),
                     str(done))
    log = (tmp_path / "grid_stdout.log").read_text()
    assert log.count("=== ") == 2 and log.index("first attempt") < log.index("second")
