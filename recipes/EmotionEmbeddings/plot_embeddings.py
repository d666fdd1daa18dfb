#!/usr/bin/env python3
"""Figure 2 of the emotion-embedding paper: UMAP of the emotion embeddings of correctly classified test utterances.

Run:
python recipes/EmotionEmbeddings/plot_embeddings.py --output results/EmotionEmbeddings/figure2_umap.png \
    --run "Multi-corpus=results/EmotionEmbeddings/multi_corpus_w2v2_frozen/0/fold_1" \
    [--run "Multi-corpus + FT=results/EmotionEmbeddings/multi_corpus_w2v2_ft/0/fold_1"]

One panel per run (a multi-corpus run's embeddings.npz, written by train.py): its test utterances that the
corpus's own head classified correctly, restricted to the emotions that occur in at least two corpora
(canonical emotions: CaFE's Colère, EmoDB's W and RAVDESS's 05 are all "angry"), reduced to 2-D with UMAP
(McInnes et al.), one marker per corpus. Points are coloured by each corpus's own label as the paper's Table I
names it (``--colour_by label``, the default: EmoDB's anxiety and CaFE/GEMEP's joy keep their own colours, so the
paper's reading of the figure, anxiety beside the others' fear, can be checked), or by the merged canonical
emotion (``--colour_by emotion``). Which emotions are shown is decided on the merged names either way: anxiety
counts as fear, as the paper's figure (which shows anxiety, an EmoDB-only label) implies.
"""
import argparse
import os
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from emo_lobes.data.label_tables import table_label  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402

EMBEDDINGS_FILE = "embeddings.npz"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: UMAP's default neighbourhood, reduced for small sets; fixed seed for a reproducible layout.
UMAP_NEIGHBORS = 15
UMAP_SEED = 0
#: Fewest points UMAP is asked to lay out.
MIN_POINTS = 4


def load_embeddings(run_folder):
    """The arrays train.py saved for the test utterances of a run.

    Returns
    -------
    dict
        ``ids``, ``corpus``, ``label``, ``emotion``, ``correct`` (own head right), ``embedding`` ``[n, size]``.
    """
    path = os.path.join(run_folder, EMBEDDINGS_FILE) if os.path.isdir(run_folder) else run_folder
    if not os.path.isfile(path):
        raise EmoLobesError(f"no {EMBEDDINGS_FILE} in {run_folder}",
                            "give the output folder of a finished recipes/EmotionEmbeddings/train.py run")
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def select_points(data, min_corpora=2):
    """Indices of correctly classified utterances whose emotion occurs in at least ``min_corpora`` corpora.

    An emotion "occurs" in a corpus when that corpus has utterances with it among the correctly classified
    ones (so corpora without a head, never correct, do not count).

    Arguments
    ---------
    data : dict
        :func:`load_embeddings` output (``corpus``, ``emotion``, ``correct``).
    min_corpora : int
        Corpora an emotion must occur in (2 in the paper).

    Returns
    -------
    numpy.ndarray
        Sorted indices.

    Example
    -------
    >>> data = {"corpus": np.array(["a", "a", "b", "b", "c"]),
    ...         "emotion": np.array(["angry", "sad", "angry", "happy", "sad"]),
    ...         "correct": np.array([True, True, True, True, False])}
    >>> select_points(data).tolist()   # sad is correct only in a, happy only in b
    [0, 2]
    """
    correct = np.asarray(data["correct"], dtype=bool)
    corpora_of = defaultdict(set)
    for corpus, emotion, ok in zip(data["corpus"], data["emotion"], correct):
        if ok:
            corpora_of[str(emotion)].add(str(corpus))
    shared = {emotion for emotion, corpora in corpora_of.items() if len(corpora) >= min_corpora}
    keep = [i for i, (emotion, ok) in enumerate(zip(data["emotion"], correct)) if ok and str(emotion) in shared]
    return np.array(keep, dtype=np.int64)


def umap_layout(embeddings, seed=UMAP_SEED):
    """2-D UMAP coordinates of the embeddings (neighbourhood shrunk for small sets).

    Arguments
    ---------
    embeddings : numpy.ndarray
        ``[n, size]``, ``n >= MIN_POINTS``.
    seed : int
        UMAP's random state.

    Returns
    -------
    numpy.ndarray
        ``[n, 2]``.
    """
    import umap

    if len(embeddings) < MIN_POINTS:
        raise EmoLobesError(f"only {len(embeddings)} correctly classified utterances with shared emotions",
                            "train longer (more epochs) so more test utterances are classified correctly")
    reducer = umap.UMAP(n_neighbors=min(UMAP_NEIGHBORS, len(embeddings) - 1), random_state=seed, n_jobs=1)
    return reducer.fit_transform(np.asarray(embeddings, dtype=np.float32))


COLOUR_BY = ("label", "emotion")


def colour_names(data, colour_by="label"):
    """The name each utterance is coloured by: its corpus's Table I label, or its merged emotion.

    Arguments
    ---------
    data : dict
        :func:`load_embeddings` output (``corpus``, ``emotion``).
    colour_by : str
        ``label`` (Table I's word for the corpus's class) or ``emotion`` (the canonical name).

    Returns
    -------
    list of str
        One name per utterance.

    Example
    -------
    >>> data = {"corpus": np.array(["emodb", "cafe", "ravdess"]), "emotion": np.array(["fear", "happy", "fear"])}
    >>> colour_names(data), colour_names(data, "emotion")
    (['anxiety', 'joy', 'fear'], ['fear', 'happy', 'fear'])
    """
    if colour_by not in COLOUR_BY:
        raise EmoLobesError(f"--colour_by {colour_by} is not a colouring", f"use one of {', '.join(COLOUR_BY)}")
    if colour_by == "emotion":
        return [str(e) for e in data["emotion"]]
    return [table_label(str(c), str(e)) for c, e in zip(data["corpus"], data["emotion"])]


def plot_runs(runs, path, colour_by="label"):
    """Draw Figure 2, one panel per ``(name, run folder)``, and save it as a PNG.

    Arguments
    ---------
    runs : list of (str, str)
        Panel titles and run folders.
    path : str
        The PNG.
    colour_by : str
        ``label`` (each corpus's Table I label, the default) or ``emotion`` (merged names); see
        :func:`colour_names`.

    Returns
    -------
    dict
        ``{name: number of points drawn}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for name, folder in runs:
        data = load_embeddings(folder)
        keep = select_points(data)
        data["colour"] = np.array(colour_names(data, colour_by))
        panels.append((name, data, keep, umap_layout(data["embedding"][keep])))
    colour_keys = sorted({str(data["colour"][i]) for _, data, keep, _ in panels for i in keep})
    corpora = sorted({str(data["corpus"][i]) for _, data, keep, _ in panels for i in keep})
    colours = plt.get_cmap("tab10" if len(colour_keys) <= 10 else "tab20")
    fig, axes = plt.subplots(1, len(panels), figsize=(1.5 + 5.5 * len(panels), 5.2), squeeze=False)
    for axis, (name, data, keep, xy) in zip(axes[0], panels):
        for k_index, key in enumerate(colour_keys):
            for c_index, corpus in enumerate(corpora):
                chosen = [k for k, i in enumerate(keep)
                          if data["colour"][i] == key and data["corpus"][i] == corpus]
                if chosen:
                    axis.scatter(xy[chosen, 0], xy[chosen, 1], s=22, color=colours(k_index),
                                 marker=MARKERS[c_index % len(MARKERS)], alpha=0.8, linewidths=0)
        axis.set_title(f"{name} ({len(keep)} utterances)", fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    colour_handles = [plt.Line2D([], [], color=colours(i), marker="o", linestyle="", label=key)
                      for i, key in enumerate(colour_keys)]
    corpus_handles = [plt.Line2D([], [], color="grey", marker=MARKERS[i % len(MARKERS)], linestyle="", label=c)
                      for i, c in enumerate(corpora)]
    fig.legend(handles=colour_handles + corpus_handles, loc="center right", fontsize=8, frameon=False)
    fig.suptitle("Emotion embeddings of correctly classified test utterances (UMAP)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1 - 1.4 / (1.5 + 5.5 * len(panels)), 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return {name: int(len(keep)) for name, _, keep, _ in panels}


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help='"NAME=RUN_FOLDER" (repeatable)')
    parser.add_argument("--output", required=True, help="the PNG to write")
    parser.add_argument("--colour_by", default="label", choices=COLOUR_BY,
                        help="label: each corpus's own label as Table I names it (default); emotion: merged names")
    args = parser.parse_args(argv)
    runs = []
    for text in args.run:
        name, _, folder = text.partition("=")
        if not folder:
            name, folder = os.path.basename(os.path.normpath(text)), text
        runs.append((name.strip(), folder.strip()))
    counts = plot_runs(runs, args.output, args.colour_by)
    print(f"Figure 2 ({', '.join(f'{n}: {c} utterances' for n, c in counts.items())}): {args.output}")
    return counts


if __name__ == "__main__":
    main()
