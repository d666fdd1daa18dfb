"""Progress bars (tqdm, as SpeechBrain shows them) for long steps that are not training: reading a corpus, caching
features, classifying a folder.

A bar is shown only on a terminal and for at least :data:`MIN_ITEMS` items, so logs, CI output and the small
synthetic corpora stay free of bar lines; ``EMO_LOBES_PROGRESS=0`` turns bars off, ``=1`` on (even off a terminal).
"""
import os
import sys

from tqdm import tqdm

#: Fewer items than this get no bar (the step is quick).
MIN_ITEMS = 200


def progress(items, description, total=None, enabled=None, file=None):
    """``items`` wrapped in a tqdm bar when the step is long and someone is watching, else ``items`` as they are.

    Arguments
    ---------
    items : iterable
        What the loop goes over.
    description : str
        The bar's label (``[prep] emodb``, ``[features] mfcc`` ...).
    total : int, optional
        The number of items (default ``len(items)`` when it has one).
    enabled : bool, optional
        Force the bar on or off (default: ``EMO_LOBES_PROGRESS``, else on a terminal with at least
        :data:`MIN_ITEMS` items).
    file : file, optional
        Where the bar goes (default ``sys.stderr``).

    Returns
    -------
    iterable
        The same items, in the same order.

    Example
    -------
    >>> import io
    >>> progress(range(3), "[test]") == range(3)            # three items: no bar
    True
    >>> out = io.StringIO()
    >>> list(progress(range(3), "[test] items", enabled=True, file=out))
    [0, 1, 2]
    >>> "[test] items" in out.getvalue() and "/3" in out.getvalue()
    True
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if enabled is None:
        setting = os.environ.get("EMO_LOBES_PROGRESS")
        if setting is not None:
            enabled = setting not in ("0", "", "false", "False")
        else:
            stream = file or sys.stderr
            enabled = bool(getattr(stream, "isatty", lambda: False)()) and (total or 0) >= MIN_ITEMS
    if not enabled:
        return items
    return tqdm(items, desc=description, total=total, file=file or sys.stderr, dynamic_ncols=True, leave=False)
