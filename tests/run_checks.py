"""What the recipe tests share: data-folder hashes, checkpoint folders read while a run writes them, in-process runs."""
import glob
import hashlib
import os
import re
import runpy
import signal
import sys
import time

import yaml


def folder_hash(folder):
    """SHA-256 over every file's relative path and bytes, and every folder's name, under ``folder``."""
    digest = hashlib.sha256()
    for path, folders, files in sorted(os.walk(folder)):
        folders.sort()
        digest.update(os.path.relpath(path, folder).encode())
        for name in sorted(files):
            digest.update(name.encode())
            with open(os.path.join(path, name), "rb") as fin:
                digest.update(fin.read())
    return digest.hexdigest()


def checkpoint_state(folder):
    """``(CKPT.yaml meta, epoch counter state)`` of a checkpoint folder, or ``None`` while it is incomplete.

    The counter state is what its ``counter.ckpt`` holds: an int (SpeechBrain's ``EpochCounter``) or a dict
    (emo-lobes' checkpointed counters).
    """
    try:
        with open(os.path.join(folder, "CKPT.yaml"), encoding="utf-8") as meta_file:
            meta = yaml.safe_load(meta_file)
        with open(os.path.join(folder, "counter.ckpt"), encoding="utf-8") as counter_file:
            counter = yaml.safe_load(counter_file)
    except (OSError, yaml.YAMLError):
        return None
    return (meta, counter) if isinstance(meta, dict) and counter is not None else None


def checkpoint_epoch(counter_state):
    """The epoch of a counter state from :func:`checkpoint_state`."""
    if isinstance(counter_state, int):
        return counter_state
    return counter_state.get("current_epoch", counter_state.get("current"))


def newest_checkpoint(save_folder):
    """The newest complete checkpoint folder, or ``None`` (each read once: a running process deletes old ones)."""
    states = {folder: checkpoint_state(folder) for folder in glob.glob(os.path.join(save_folder, "CKPT+*"))}
    states = {folder: state for folder, state in states.items() if state}
    return max(states, key=lambda folder: states[folder][0]["unixtime"]) if states else None


def intra_epoch_checkpoint(save_folder, epoch):
    """An intra-epoch checkpoint of ``epoch`` in ``save_folder``, if one is there."""
    for folder in sorted(glob.glob(os.path.join(save_folder, "CKPT+*"))):
        state = checkpoint_state(folder)
        if state and state[0].get("brain_intra_epoch_ckpt") and checkpoint_epoch(state[1]) == epoch:
            return folder
    return None


def kill_inside_epoch(process, save_folder, epoch, timeout=240, whole_group=False):
    """SIGKILL ``process`` once ``save_folder`` holds an intra-epoch checkpoint of ``epoch`` (or later).

    Arguments
    ---------
    process : subprocess.Popen
        The run (started with ``start_new_session=True`` when ``whole_group``).
    save_folder : str or path
        Its checkpoints folder.
    epoch : int
        The epoch to land in.
    timeout : float
        Seconds to wait for that checkpoint.
    whole_group : bool
        Kill the process group (a fold runner and its train.py, as a pre-emption does).

    Returns
    -------
    tuple
        ``(checkpoint folder, its checkpoint_state)``, read at once: a resumed run deletes that folder later.
    """
    deadline = time.time() + timeout
    try:
        while process.poll() is None and time.time() < deadline:
            newest = newest_checkpoint(save_folder)
            state = checkpoint_state(newest) if newest else None
            if state and state[0].get("brain_intra_epoch_ckpt") and checkpoint_epoch(state[1]) >= epoch:
                break
            time.sleep(0.01)
    finally:
        if whole_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.send_signal(signal.SIGKILL)
        process.communicate()
    newest = newest_checkpoint(save_folder)
    state = checkpoint_state(newest) if newest else None
    assert state and state[0].get("brain_intra_epoch_ckpt"), f"the kill did not land inside epoch {epoch}"
    return newest, state


def refusal_outcomes(started, cases, hashes):
    """Wait for refusal runs started at once; ``{case: (exit status, stderr, data folder unchanged)}``.

    ``cases`` maps each case to ``(arguments, data folder or None)``; ``hashes`` holds :func:`folder_hash` of
    each case's data folder taken before the runs started.
    """
    done = {}
    for case, process in started.items():
        _, stderr = process.communicate()
        folder = cases[case][1]
        done[case] = (process.returncode, stderr, folder is None or folder_hash(folder) == hashes[case])
    return done


def assert_refused_in_one_line(outcome, expected):
    """A refusal (from :func:`refusal_outcomes`) failed, without a traceback, its last line matching ``expected``
    (a regular expression), and left its data folder untouched."""
    returncode, stderr, unchanged = outcome
    assert returncode != 0, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    last_line = stderr.strip().splitlines()[-1]
    assert re.match(expected, last_line), last_line
    assert unchanged  # nothing written under the data folder


def run_train_in_process(recipe_folder, hparams_name, *args):
    """Run a recipe's train.py in this process (imports are shared, so each run costs only its training)."""
    argv = sys.argv
    sys.argv = ["train.py", os.path.join(recipe_folder, "hparams", hparams_name), *args]
    try:
        runpy.run_path(os.path.join(recipe_folder, "train.py"), run_name="__main__")
    finally:
        sys.argv = argv
