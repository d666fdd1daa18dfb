"""What the dependable-run tests share: data-folder hashes, and checkpoint folders read while a run writes them."""
import glob
import hashlib
import os

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
