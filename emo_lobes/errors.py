"""User-facing errors: one line that names the problem and the fix, never a deep traceback."""
import functools
import sys


class EmoLobesError(Exception):
    """An error caused by the user's input (data, paths, options), with the fix in its message.

    Command-line entry points wrapped by :func:`cli_errors` print it as one line and exit with status 2.

    Arguments
    ---------
    problem : str
        What is wrong, naming the offending path, key or value.
    fix : str, optional
        What the user should do about it.

    Example
    -------
    >>> err = EmoLobesError("no IEMOCAP sessions under /data/x", "point --data_folder at IEMOCAP_full_release")
    >>> str(err)
    'no IEMOCAP sessions under /data/x. Fix: point --data_folder at IEMOCAP_full_release'
    """

    def __init__(self, problem, fix=None):
        self.problem = problem
        self.fix = fix
        message = problem if fix is None else f"{problem}. Fix: {fix}"
        super().__init__(message)


def cli_errors(main):
    """Decorate a command-line ``main`` so an :class:`EmoLobesError` ends it with one line on stderr.

    Arguments
    ---------
    main : callable
        The entry point.

    Returns
    -------
    callable
        The wrapped entry point; it exits with status 2 on an :class:`EmoLobesError`.

    Example
    -------
    >>> @cli_errors
    ... def main():
    ...     raise EmoLobesError("bad thing", "do this")
    >>> try:
    ...     main()
    ... except SystemExit as e:
    ...     print(e.code)
    2
    """

    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except EmoLobesError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2)

    return wrapped


def install_excepthook():
    """Make an uncaught :class:`EmoLobesError` print one line instead of a traceback (for recipe scripts).

    Other exceptions go to the hook that was installed before (Python's traceback, or SpeechBrain's logging
    hook). ``speechbrain.create_experiment_directory`` replaces ``sys.excepthook``, so recipes call this
    once at the start of ``__main__`` and once more right after creating the experiment directory.

    Example
    -------
    >>> install_excepthook()
    >>> sys.excepthook.__name__
    'emo_lobes_excepthook'
    """
    previous = sys.excepthook

    def emo_lobes_excepthook(exc_type, exc, tb):
        if issubclass(exc_type, EmoLobesError):
            print(f"error: {exc}", file=sys.stderr)
            return
        previous(exc_type, exc, tb)

    sys.excepthook = emo_lobes_excepthook
