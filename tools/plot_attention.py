#!/usr/bin/env python3
"""Plot the attention weights of test utterances over time, one curve per run (the MLEE paper's Figure 3), to PNG.

Run: python tools/plot_attention.py results/MLEE/dominant_hard/all/1986/fold_1 \
        results/MLEE/dominant_soft/all/1986/fold_1 results/MLEE/mlee/all/1986/fold_1 \
        [--utterance Ses01F_impro01_F000] --output figure3.png

Each run folder holds the ``attention.pt`` its test stage wrote: ``{"frame_shift_s", "method", "label_type",
"branches": {branch: {utterance id: weights}}}``. Without ``--utterance`` the first test utterance common to
all runs (sorted by id) is plotted. Runs with two encoders (fusion) give one curve per encoder.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402

ATTENTION_FILE = "attention.pt"


def load_attention(run_folder):
    """Read a run's ``attention.pt``.

    Arguments
    ---------
    run_folder : str
        An MLEE output folder (or the ``attention.pt`` file itself).

    Returns
    -------
    dict
        ``frame_shift_s``, ``method``, ``label_type``, ``branches``.

    Example
    -------
    >>> try:
    ...     load_attention("/no/such/run")
    ... except EmoLobesError as err:
    ...     print(err.problem)
    no attention.pt in /no/such/run
    """
    path = run_folder if run_folder.endswith(".pt") else os.path.join(run_folder, ATTENTION_FILE)
    if not os.path.isfile(path):
        raise EmoLobesError(f"no {ATTENTION_FILE} in {run_folder}",
                            "give output folders of finished MLEE runs (their test stage writes attention.pt)")
    return torch.load(path, map_location="cpu")


def attention_curves(runs, utterance=None):
    """Time axes and weights of one utterance in each run (and each encoder branch of the run).

    Arguments
    ---------
    runs : list of str
        Run folders.
    utterance : str, optional
        Test utterance id; default the first id (sorted) that every run has.

    Returns
    -------
    utterance : str
        The id plotted.
    curves : list of tuple
        ``(label, seconds, weights)`` with step centres ``(i + 0.5) * frame_shift_s``.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> torch.save({"frame_shift_s": 0.16, "method": "mlee", "label_type": "-",
    ...             "branches": {"mlee": {"u1": torch.tensor([0.2, 0.5, 0.3])}}}, os.path.join(folder, "attention.pt"))
    >>> utt, curves = attention_curves([folder])
    >>> utt, curves[0][0], [round(t, 2) for t in curves[0][1]]
    ('u1', 'mlee', [0.08, 0.24, 0.4])
    """
    loaded = [(run, load_attention(run)) for run in runs]
    if utterance is None:
        common = None
        for _, data in loaded:
            ids = set().union(*(set(b) for b in data["branches"].values()))
            common = ids if common is None else common & ids
        if not common:
            raise EmoLobesError("the runs share no test utterance", "give runs of the same fold")
        utterance = sorted(common)[0]
    curves = []
    for run, data in loaded:
        name = data["method"] if data["label_type"] == "-" else f"{data['method']} {data['label_type']}"
        for branch, weights in data["branches"].items():
            if utterance not in weights:
                raise EmoLobesError(f"utterance {utterance} is not in the test set of {run}",
                                    "pick an id from that fold's test_results.json")
            values = weights[utterance].float().tolist()
            label = name if len(data["branches"]) == 1 else f"{name} [{branch} encoder]"
            seconds = [(i + 0.5) * data["frame_shift_s"] for i in range(len(values))]
            curves.append((label, seconds, values))
    return utterance, curves


def plot_attention(runs, output, utterance=None):
    """Draw the attention curves of one utterance and save them as a PNG.

    Arguments
    ---------
    runs : list of str
        Run folders.
    output : str
        PNG file to write.
    utterance : str, optional
        Test utterance id (default: the first shared one).

    Returns
    -------
    str
        The utterance id plotted.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> torch.save({"frame_shift_s": 0.16, "method": "dominant", "label_type": "hard",
    ...             "branches": {"dominant": {"u1": torch.tensor([0.6, 0.4])}}}, os.path.join(folder, "attention.pt"))
    >>> plot_attention([folder], os.path.join(folder, "fig.png"))
    'u1'
    >>> os.path.getsize(os.path.join(folder, "fig.png")) > 0
    True
    """
    utterance, curves = attention_curves(runs, utterance)
    figure, axis = plt.subplots(figsize=(8, 3))
    for label, seconds, values in curves:
        axis.plot(seconds, values, label=label)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("attention weight")
    axis.set_title(f"Attention-layer outputs: {utterance}")
    axis.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    figure.savefig(output, dpi=120)
    plt.close(figure)
    return utterance


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="MLEE output folders of the same fold")
    parser.add_argument("--utterance", help="test utterance id (default: the first shared one)")
    parser.add_argument("--output", default="attention.png", help="PNG file to write")
    args = parser.parse_args(argv)
    utterance = plot_attention(args.runs, args.output, args.utterance)
    print(f"attention of {utterance} over time -> {args.output}")


if __name__ == "__main__":
    main()
