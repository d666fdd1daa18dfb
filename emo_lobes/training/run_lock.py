"""One run per output folder: an exclusive lock held for the life of the process, and children that die with it.

A second run started on the same ``--output_folder`` while the first one trains would interleave logs and race on
checkpoints; it is refused in one line naming the first run's process id. The lock is ``fcntl.flock`` on
``<output_folder>/.run.lock``: the kernel drops it when its process ends, even by SIGKILL, so a lock is never
stale; the file then still names the process that is gone, and the next run takes it over with a note.
Under torchrun only the main process (``RANK`` 0) takes it, and every worker is tied to the torchrun agent that
started it: torchrun starts each worker in a session of its own, so a SIGKILL of torchrun (a scheduler's
pre-emption) would otherwise leave the workers training, the main one holding the lock.
"""
import ctypes
import fcntl
import json
import os
import signal
import sys
import time

from emo_lobes.errors import EmoLobesError

#: The lock file inside an output folder.
LOCK_FILE = ".run.lock"
#: Folders this process holds, with the open descriptor that holds each.
_HELD = {}


def _process_alive(pid):
    # True when a process with this id exists (it may belong to another user).
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_output_folder(folder, what="run"):
    """Take the output folder's lock for the rest of this process, or refuse in one line.

    Arguments
    ---------
    folder : str
        The output folder (created when missing).
    what : str
        What holds it, for the lock file and messages (``run``, ``fold runner`` ...).

    Returns
    -------
    str or None
        The lock file's path, or ``None`` on a torchrun process other than the main one.

    Raises
    ------
    EmoLobesError
        When another live process holds the lock.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.path.basename(lock_output_folder(folder))
    '.run.lock'
    >>> lock_output_folder(folder) == os.path.join(folder, LOCK_FILE)   # this process holds it already
    True
    """
    if "TORCHELASTIC_RUN_ID" in os.environ:
        die_with_torchrun()
    if os.environ.get("RANK", "0") != "0":
        return None
    real = os.path.realpath(folder)
    path = os.path.join(folder, LOCK_FILE)
    if real in _HELD:
        return path
    os.makedirs(folder, exist_ok=True)
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise EmoLobesError(f"cannot create {path} ({err.strerror})", "pass an output folder you can write to") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(handle, 200, 0).decode("utf-8", "replace").split()
        os.close(handle)
        pid = holder[0] if holder else "unknown"
        raise EmoLobesError(
            f"output folder {folder} is in use by another {holder[1] if len(holder) > 1 else 'run'} (process {pid})",
            "wait for it to end (or stop it), or pass another --output_folder",
        ) from None
    previous = os.pread(handle, 200, 0).decode("utf-8", "replace").split()
    if previous and previous[0].isdigit() and int(previous[0]) != os.getpid() and not _process_alive(int(previous[0])):
        print(f"[lock] {folder}: process {previous[0]} that ran here is gone; this run takes over", flush=True)
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()} {what.replace(' ', '_')}\n".encode(), 0)
    _HELD[real] = handle
    return path


def release_output_folder(folder):
    """Release a lock this process took (the end of the process releases it too).

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp(); _ = lock_output_folder(folder)
    >>> release_output_folder(folder); os.path.realpath(folder) in _HELD
    False
    """
    handle = _HELD.pop(os.path.realpath(folder), None)
    if handle is not None:
        os.close(handle)


def die_with_parent():
    """``preexec_fn`` for a child process: SIGKILL it when its parent dies (Linux), so no orphan trains on.

    On other systems nothing is set; the child's own output-folder lock still keeps a second run out.

    Example
    -------
    >>> import subprocess
    >>> subprocess.run([sys.executable, "-c", "print(1)"], preexec_fn=die_with_parent, capture_output=True).stdout
    b'1\\n'
    """
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def die_with_torchrun():
    """Tie this torchrun worker to its agent: SIGKILL it when the agent dies, or exit now if it is gone already.

    Linux only (elsewhere nothing is set). Called by :func:`lock_output_folder` when ``TORCHELASTIC_RUN_ID`` is set.

    Example
    -------
    >>> code = "from emo_lobes.training.run_lock import die_with_torchrun; die_with_torchrun(); print('alive')"
    >>> subprocess_run = __import__("subprocess").run
    >>> subprocess_run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    'alive\\n'
    """
    agent = os.getppid()
    die_with_parent()
    if sys.platform.startswith("linux") and os.getppid() != agent:  # the agent died before the signal was set
        os._exit(1)


def run_command_once(label, command, folder, done_path, log_name="grid_stdout.log"):
    """Run a driver's command (a train.py run of a grid) unless ``done_path`` exists; its output goes to
    ``<folder>/<log_name>`` (appended after a line with the time and command, so a rerun keeps the log of the attempt
    before it); a failure is a one-line error saying where to read and how to resume.

    Arguments
    ---------
    label : str
        The run's name in messages (``[<label>] ...``).
    command : list of str
        The command (run in this process's working folder; killed with this process).
    folder : str
        The run's output folder (created).
    done_path : str
        The file whose existence marks the run finished.
    log_name : str
        The log file in ``folder``.

    Returns
    -------
    bool
        ``True`` when it ran, ``False`` when it was already done.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> done = os.path.join(folder, "done")
    >>> run_command_once("demo", [sys.executable, "-c", f"open({done!r}, 'w')"], folder, done)
    [demo] ...
    True
    >>> run_command_once("demo", ["false"], folder, done)
    False
    >>> open(os.path.join(folder, "grid_stdout.log")).read().startswith("=== ")
    True
    """
    import shlex
    import subprocess

    from emo_lobes.errors import EmoLobesError

    if os.path.exists(done_path):
        return False
    shown = [os.path.basename(command[0])] + list(command[1:])
    print(f"[{label}] {shlex.join(shown)}", flush=True)
    os.makedirs(folder, exist_ok=True)
    log_path = os.path.join(folder, log_name)
    with open(log_path, "a", encoding="utf-8") as log:  # appended: a resumed run keeps the failed attempt's output
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(shown)}\n")
        log.flush()
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    if code != 0 or not os.path.exists(done_path):
        raise EmoLobesError(f"{label} failed (exit {code})", f"read {log_path}; rerun the same command to resume")
    return True


DRIVER_ARGUMENTS_FILE = "driver_arguments.json"


def claim_driver_folder(output_folder, data_folder, what, arguments):
    """Before a driver (a grid of train.py runs) starts: the data folder exists, the output folder is writable and
    outside it, this process holds the output folder's lock, and the folder's runs were made with the same
    ``arguments`` (recorded in ``driver_arguments.json`` by the first call; a finished run of other arguments would
    be taken as this driver's). One-line errors otherwise.

    Arguments
    ---------
    output_folder, data_folder : str
        The driver's folder and the folder holding the corpora (read-only).
    what : str
        The driver, for the lock and messages.
    arguments : dict
        What decides the driver's runs beyond their folder names, JSON-ready.

    Example
    -------
    >>> import tempfile
    >>> data, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> claim_driver_folder(out, data, "grid", {"fold": 1}); claim_driver_folder(out, data, "grid", {"fold": 1})
    >>> for other_data, fold in ((os.path.join(data, "none"), 1), (data, 2)):
    ...     try:
    ...         claim_driver_folder(out, other_data, "grid", {"fold": fold})
    ...     except EmoLobesError as err:
    ...         print(err.problem.replace(out, "OUT").replace(data, "DATA"))
    data folder DATA/none does not exist
    the grid in OUT was run with other arguments (fold: 1 there, 2 now)
    """
    from emo_lobes.data.manifest import assert_not_inside, check_output_folder_writable, write_json_atomic

    if not os.path.isdir(data_folder):
        raise EmoLobesError(f"data folder {data_folder} does not exist", "pass the folder holding the corpora")
    assert_not_inside(output_folder, data_folder)
    check_output_folder_writable(output_folder)
    lock_output_folder(output_folder, what)  # held until this process ends
    path = os.path.join(output_folder, DRIVER_ARGUMENTS_FILE)
    if not os.path.isfile(path):
        write_json_atomic(arguments, path)
        return
    with open(path, encoding="utf-8") as arguments_file:
        before = json.load(arguments_file)
    changed = [key for key in sorted(set(before) | set(arguments)) if before.get(key) != arguments.get(key)]
    if changed:
        key = changed[0]
        raise EmoLobesError(f"the {what} in {output_folder} was run with other arguments ({key}: {before.get(key)} "
                            f"there, {arguments.get(key)} now)", "give a new --output_folder, or the same arguments")
