"""Pictures of a run's results: ``confusion.png`` beside every ``test_results.json`` (matplotlib, the ``plots`` extra).

:func:`write_confusion_png` is called by :func:`emo_lobes.evaluation.metrics.write_test_results`, the one place every
recipe writes its test results, so every run gets the picture. Without matplotlib (``pip install emo-lobes[plots]``)
the picture is skipped with one printed line. Figures are drawn on matplotlib's Agg canvas directly (no pyplot
backend is chosen, nothing is shown).
"""
import os

import numpy as np

CONFUSION_FILE = "confusion.png"


def matplotlib_figure(width, height):
    """A matplotlib ``Figure`` on the Agg canvas, or ``None`` (one printed line) when matplotlib is not installed.

    Example
    -------
    >>> figure = matplotlib_figure(4, 3)
    >>> type(figure.canvas).__name__
    'FigureCanvasAgg'
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print("[plots] matplotlib is not installed: no picture drawn (pip install 'emo-lobes[plots]')", flush=True)
        return None
    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def row_normalised(confusion):
    """Each row of a confusion matrix divided by its sum (rows are true classes; an empty row stays 0).

    Example
    -------
    >>> row_normalised([[2, 1, 1], [0, 0, 0]]).tolist()
    [[0.5, 0.25, 0.25], [0.0, 0.0, 0.0]]
    """
    counts = np.asarray(confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def write_confusion_png(folder, confusion, labels, title=None):
    """Draw ``<folder>/confusion.png``: scikit-learn's ``ConfusionMatrixDisplay``, colours and values normalised by
    true class (each row sums to 1), the count of each cell under its value.

    Arguments
    ---------
    folder : str
        Where to write (the folder of ``test_results.json``).
    confusion : list of list of int
        Counts, rows true classes, columns predicted classes (``confusion`` of ``classification_metrics``).
    labels : list
        Class names in row order.
    title : str, optional
        The picture's title (default: "Confusion matrix (normalised by true class)").

    Returns
    -------
    str or None
        The picture's path, or ``None`` when matplotlib is not installed.

    Example
    -------
    >>> import tempfile
    >>> path = write_confusion_png(tempfile.mkdtemp(), [[3, 1], [0, 2]], ["angry", "sad"])
    >>> os.path.basename(path), open(path, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n"
    ('confusion.png', True)
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    counts = np.asarray(confusion, dtype=int)
    size = max(4.0, 0.8 * len(labels) + 2.5)
    figure = matplotlib_figure(size + 1.0, size)
    if figure is None:
        return None
    axes = figure.add_subplot()
    display = ConfusionMatrixDisplay(row_normalised(counts), display_labels=[str(label) for label in labels])
    display.plot(ax=axes, cmap="Blues", colorbar=True, values_format=".2f", im_kw={"vmin": 0.0, "vmax": 1.0})
    for (row, column), text in np.ndenumerate(display.text_):
        text.set_text(f"{display.confusion_matrix[row, column]:.2f}\n({counts[row, column]})")
        text.set_fontsize(9)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class (count under each share)")
    axes.set_title(title or "Confusion matrix (normalised by true class)", fontsize=10)
    figure.tight_layout()
    path = os.path.join(folder, CONFUSION_FILE)
    tmp = f"{path}.tmp{os.getpid()}"
    figure.savefig(tmp, format="png")
    os.replace(tmp, path)  # atomic, as test_results.json is
    return path


TRAINING_CURVES_FILE = "training_curves.png"
TRAIN_LOG_FILE = "train_log.txt"


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def parse_train_log_line(line):
    """The ``meta`` and ``{dataset: {key: value}}`` of one SpeechBrain ``FileTrainLogger`` line (numbers as floats).

    A line is ``meta - dataset stats - dataset stats``, each part ``key: value`` pairs joined by ``, `` (the
    dataset's name prefixes its keys).

    Example
    -------
    >>> meta, stats = parse_train_log_line("phase: scratch, epoch: 2, lr: 1.00e-01 - train loss: 0.52 - "
    ...                                    "valid loss: 0.61, valid UAR: 4.50e-01")
    >>> meta, stats
    ({'phase': 'scratch', 'epoch': 2.0, 'lr': 0.1}, {'train': {'loss': 0.52}, 'valid': {'loss': 0.61, 'UAR': 0.45}})
    """
    parts = line.strip().split(" - ")
    meta, stats = {}, {}
    for index, part in enumerate(parts):
        for item in part.split(", "):
            key, sep, value = item.partition(": ")
            if not sep:
                continue
            number = _number(value.strip())
            if index == 0:
                meta[key.strip()] = value.strip() if number is None else number
            else:
                dataset, _, name = key.strip().partition(" ")
                if name and number is not None:
                    stats.setdefault(dataset, {})[name] = number
    return meta, stats


def read_train_log(path):
    """The epochs of a ``train_log.txt``: one ``{"phase", "epoch", "train": {...}, "valid": {...}}`` per epoch line.

    Test lines (no ``epoch`` in their meta) are left out. ``phase`` is the line's ``phase`` or ``stage`` (EmoNet's
    scratch / fine-tuning phases, LanguageMTL's stages; ``""`` otherwise). An epoch logged twice (a resumed run)
    keeps its last line.

    Example
    -------
    >>> import tempfile
    >>> log = os.path.join(tempfile.mkdtemp(), "train_log.txt")
    >>> _ = open(log, "w").write("epoch: 1 - train loss: 2.0 - valid loss: 1.5, valid UA: 0.3\\n"
    ...                          "epoch: 1 - train loss: 1.9 - valid loss: 1.4, valid UA: 0.31\\n"
    ...                          "epoch: 2 - train loss: 1.2\\nepoch loaded: 2 - test loss: 1.1, test UA: 0.4\\n")
    >>> [(e["epoch"], e["train"]["loss"], e.get("valid")) for e in read_train_log(log)]
    [(1, 1.9, {'loss': 1.4, 'UA': 0.31}), (2, 1.2, None)]
    """
    epochs = {}
    with open(path, encoding="utf-8", errors="replace") as fin:
        for line in fin:
            meta, stats = parse_train_log_line(line)
            if not isinstance(meta.get("epoch"), float) or not stats:
                continue
            phase = str(meta.get("phase", meta.get("stage", "")))
            epochs[(phase, int(meta["epoch"]))] = {"phase": phase, "epoch": int(meta["epoch"]), **stats}
    return list(epochs.values())


def write_training_curves_png(folder, log_path=None):
    """Draw ``<folder>/training_curves.png`` from its ``train_log.txt``: train and dev loss per epoch (left) and
    every dev metric the recipe logs (right: UAR, UA, WA, error rate, style accuracy ...).

    Epochs of successive phases (EmoNet's scratch then fine-tuning phases, LanguageMTL's stages) follow each other
    on the x axis, a dotted line where a phase starts.

    Arguments
    ---------
    folder : str
        A recipe's output folder.
    log_path : str, optional
        The log (default ``<folder>/train_log.txt``).

    Returns
    -------
    str or None
        The picture's path, or ``None`` when matplotlib is not installed.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "train_log.txt"), "w").write(
    ...     "epoch: 1 - train loss: 2.0 - valid loss: 1.5, valid UAR: 0.3\\n"
    ...     "epoch: 2 - train loss: 1.2 - valid loss: 1.3, valid UAR: 0.4\\n")
    >>> os.path.basename(write_training_curves_png(folder))
    'training_curves.png'
    """
    from emo_lobes.errors import EmoLobesError

    log_path = log_path or os.path.join(folder, TRAIN_LOG_FILE)
    if not os.path.isfile(log_path):
        raise EmoLobesError(f"{folder} holds no {TRAIN_LOG_FILE}", "give the output folder of a train.py run")
    epochs = read_train_log(log_path)
    if not epochs:
        raise EmoLobesError(f"{log_path} has no epoch line yet", "plot after the run's first epoch")
    metrics = []
    for epoch in epochs:
        metrics += [key for key in epoch.get("valid", {}) if key != "loss" and key not in metrics]
    figure = matplotlib_figure(11 if metrics else 6, 4.2)
    if figure is None:
        return None
    from matplotlib.ticker import MaxNLocator

    panels = [figure.add_subplot(1, 2 if metrics else 1, 1)]
    if metrics:
        panels.append(figure.add_subplot(1, 2, 2))
    steps = list(range(1, len(epochs) + 1))
    phases = [epoch["phase"] for epoch in epochs]

    def curve(axes, dataset, key, label):
        # one line per phase (a new phase starts from other weights), all in the curve's colour
        color = None
        for phase in dict.fromkeys(phases):
            points = [(step, epoch[dataset][key]) for step, epoch in zip(steps, epochs)
                      if epoch["phase"] == phase and key in epoch.get(dataset, {})]
            if points:
                line, = axes.plot(*zip(*points), marker="o", markersize=3, color=color,
                                  label=label if color is None else None)
                color = line.get_color()

    curve(panels[0], "train", "loss", "train loss")
    curve(panels[0], "valid", "loss", "dev loss")
    panels[0].set_title("loss")
    for key in metrics:
        curve(panels[1], "valid", key, f"dev {key}")
    if metrics:
        panels[1].set_title("dev metrics")
    for axes in panels:
        for step, phase, previous in zip(steps, phases, [None] + phases[:-1]):
            if phase and phase != previous:
                axes.axvline(step - 0.5, color="grey", linestyle=":", linewidth=1)
                axes.annotate(phase, (step - 0.4, 1.0), xycoords=("data", "axes fraction"), va="top", fontsize=8,
                              color="grey")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch" if len(set(phases)) == 1 else "epoch (phases in order)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle(os.path.basename(os.path.abspath(folder)), fontsize=10)
    figure.tight_layout()
    path = os.path.join(folder, TRAINING_CURVES_FILE)
    figure.savefig(path, format="png")
    return path


def write_timeline_png(path, windows, labels, title=None):
    """Draw the class probabilities of sliding windows over time (one line per class, at each window's centre) and
    the predicted label of each window as a coloured band underneath, into ``path``.

    Arguments
    ---------
    path : str
        The PNG to write.
    windows : list of dict
        ``start``, ``end``, ``label`` and ``probabilities`` per window (``EmotionClassifier.classify_windows``).
    labels : list of str
        The classes, in colour order.
    title : str, optional
        The picture's title.

    Returns
    -------
    str or None
        ``path``, or ``None`` when matplotlib is not installed.

    Example
    -------
    >>> import tempfile
    >>> windows = [{"start": s, "end": s + 3.0, "label": "sad" if s > 1 else "neu",
    ...             "probabilities": {"neu": 0.6 - 0.2 * s, "sad": 0.4 + 0.2 * s}} for s in (0.0, 1.0, 2.0)]
    >>> out = write_timeline_png(os.path.join(tempfile.mkdtemp(), "t.png"), windows, ["neu", "sad"])
    >>> open(out, "rb").read(4) == b"\\x89PNG"
    True
    """
    figure = matplotlib_figure(10, 4.2)
    if figure is None:
        return None
    grid = figure.add_gridspec(2, 1, height_ratios=[4, 1], hspace=0.08)
    curves, band = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
    centres = [(window["start"] + window["end"]) / 2 for window in windows]
    colors = {}
    for label in labels:
        line, = curves.plot(centres, [window["probabilities"][label] for window in windows], marker="o",
                            markersize=2.5, label=str(label))
        colors[label] = line.get_color()
    hop = min((b["start"] - a["start"] for a, b in zip(windows, windows[1:])), default=windows[0]["end"])
    for window in windows:  # the hop-wide slice around each window's centre gets its label's colour
        centre = (window["start"] + window["end"]) / 2
        band.axvspan(max(0.0, centre - hop / 2), centre + hop / 2, color=colors[window["label"]], linewidth=0)
    end = max(window["end"] for window in windows)
    for axes in (curves, band):
        axes.set_xlim(0, end)
    curves.set_ylabel("probability")
    curves.set_ylim(0, 1.02)
    curves.grid(alpha=0.3)
    curves.legend(fontsize=8, ncol=min(len(labels), 7), loc="upper right")
    curves.tick_params(labelbottom=False)
    span = windows[0]["end"] - windows[0]["start"]
    curves.set_title(title or f"sliding windows of {span:g} s", fontsize=10)
    band.set_yticks([])
    band.set_ylabel("label", rotation=0, ha="right", va="center")
    band.set_xlabel("time (s), each window at its centre")
    figure.savefig(path, format="png", bbox_inches="tight")
    return path


def write_delta_heatmap_png(path, rows, columns, values, deltas, marks=None, title=None,
                            delta_label="gain (points)"):
    """Draw a heatmap whose colours are differences from a reference (diverging, white at 0) and whose cells print
    the values themselves (with an optional mark, e.g. a McNemar ``+``), as the EmoNet paper's Figure 7 does.

    Arguments
    ---------
    path : str
        The PNG to write.
    rows, columns : list of str
        Row and column labels.
    values, deltas : array-like
        ``len(rows) x len(columns)``: the printed values and the coloured differences; ``None`` / NaN: empty cell.
    marks : list of list of str, optional
        Text appended to each printed value.
    title : str, optional
        The picture's title.
    delta_label : str
        The colour bar's label.

    Returns
    -------
    str or None
        ``path``, or ``None`` when matplotlib is not installed.

    Example
    -------
    >>> import tempfile
    >>> out = write_delta_heatmap_png(os.path.join(tempfile.mkdtemp(), "h.png"), ["emodb", "urdu"],
    ...                               ["all devel", "all test"], [[70.1, 65.0], [50.0, None]],
    ...                               [[5.2, -3.0], [0.0, None]], marks=[["", "+"], ["", ""]])
    >>> open(out, "rb").read(4) == b"\\x89PNG"
    True
    """
    values = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    deltas = np.array([[np.nan if v is None else v for v in row] for row in deltas], dtype=float)
    figure = matplotlib_figure(max(6.5, 2.2 + 1.05 * len(columns)), 1.7 + 0.42 * len(rows))
    if figure is None:
        return None
    axes = figure.add_subplot(1, 1, 1)
    finite = np.abs(deltas[np.isfinite(deltas)])
    limit = max(float(finite.max()) if finite.size else 0.0, 1.0)
    from matplotlib import colormaps

    cmap = colormaps["RdBu"].with_extremes(bad="#dddddd")  # red: below the reference, blue: above, grey: no run
    image = axes.imshow(np.ma.masked_invalid(deltas), cmap=cmap, vmin=-limit, vmax=limit, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            if np.isfinite(values[i, j]):
                mark = marks[i][j] if marks else ""
                strong = np.isfinite(deltas[i, j]) and abs(deltas[i, j]) > 0.6 * limit
                axes.text(j, i, f"{values[i, j]:.1f}{mark}", ha="center", va="center", fontsize=8,
                          color="white" if strong else "black")
    axes.set_xticks(range(len(columns)), labels=columns, rotation=35, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    figure.colorbar(image, ax=axes, label=delta_label, shrink=0.9)
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path
