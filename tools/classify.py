#!/usr/bin/env python3
"""Classify audio files with a trained experiment folder and write a CSV (label and class probabilities per file).

Run: python tools/classify.py results/MLEE/mlee/all/1986/fold_1 speech.wav more_audio/ --output predictions.csv
     [--device cuda] [--batch_size 8] [--embeddings] [--head CORPUS]
     (--embeddings adds columns emb_0, emb_1, ...; --head picks the emotion head of a model with one per corpus)
Long audio: ... --window 3 --hop 1 classifies sliding windows of 3 s every 1 s: one row per window (path, start, end,
label, probabilities) and a timeline picture per file, <output stem>_timeline_<n>_<file name>.png (matplotlib).
A file that cannot be classified (unreadable, empty, non-finite samples) gets one error line on stderr; the others are
still written, and the exit status is then 1.
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.inference.classifier import EmotionClassifier, audio_files  # noqa: E402


def write_predictions_csv(results, labels, path, with_embeddings=False):
    """Write ``path,label,p_<class>...[,<head>_label,<head>_p_<class>...][,emb_<i>...]``, one row per result.

    Other output heads (``heads`` of a result of :class:`EmotionClassifier`, e.g. SelectiveMTL's style head) get
    a label column and probability columns each.

    Arguments
    ---------
    results : list of dict
        ``path``, ``label``, ``probabilities``, ``embedding`` and optionally ``heads`` per file.
    labels : list of str
        Class order of the probability columns.
    path : str
        The CSV file (its folder is created).
    with_embeddings : bool
        Add the embedding's values as columns.

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> import tempfile, torch
    >>> out = os.path.join(tempfile.mkdtemp(), "p.csv")
    >>> rows = [{"path": "a.wav", "label": "sad", "probabilities": {"neu": 0.25, "sad": 0.75},
    ...          "embedding": torch.tensor([1.0, 2.0])}]
    >>> print(open(write_predictions_csv(rows, ["neu", "sad"], out, with_embeddings=True)).read().strip())
    path,label,p_neu,p_sad,emb_0,emb_1
    a.wav,sad,0.25,0.75,1,2
    >>> rows[0]["heads"] = {"style": {"label": "acted", "probabilities": {"acted": 0.5, "spontaneous": 0.5}}}
    >>> print(open(write_predictions_csv(rows, ["neu", "sad"], out)).read().strip())
    path,label,p_neu,p_sad,style_label,style_p_acted,style_p_spontaneous
    a.wav,sad,0.25,0.75,acted,0.5,0.5
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        out = open(path, "w", newline="", encoding="utf-8")
    except OSError as err:
        raise EmoLobesError(f"cannot write {path} ({err.strerror})", "pass an --output path you can write to") from None
    size = len(results[0]["embedding"]) if with_embeddings and results and results[0]["embedding"] is not None else 0
    heads = {name: list(head["probabilities"]) for name, head in (results[0].get("heads") or {}).items()} if results else {}
    with out:
        writer = csv.writer(out)
        writer.writerow(["path", "label"] + [f"p_{label}" for label in labels]
                        + [column for name, head_labels in heads.items()
                           for column in [f"{name}_label"] + [f"{name}_p_{label}" for label in head_labels]]
                        + [f"emb_{i}" for i in range(size)])
        for result in results:
            row = [result["path"], result["label"]] + [f"{result['probabilities'][label]:.6g}" for label in labels]
            for name, head_labels in heads.items():
                head = result["heads"][name]
                row += [head["label"]] + [f"{head['probabilities'][label]:.6g}" for label in head_labels]
            if size:
                row += [f"{float(value):.6g}" for value in result["embedding"]]
            writer.writerow(row)
    return path


def write_windows_csv(results, labels, path, with_embeddings=False):
    """Write ``path,start,end,label,p_<class>...[,emb_<i>...]``, one row per window (times in seconds).

    Example
    -------
    >>> import tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "w.csv")
    >>> rows = [{"path": "a.wav", "start": 0.0, "end": 3.0, "label": "sad",
    ...          "probabilities": {"neu": 0.25, "sad": 0.75}, "embedding": None}]
    >>> print(open(write_windows_csv(rows, ["neu", "sad"], out)).read().strip())
    path,start,end,label,p_neu,p_sad
    a.wav,0.0,3.0,sad,0.25,0.75
    """
    size = len(results[0]["embedding"]) if with_embeddings and results and results[0]["embedding"] is not None else 0
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        out = open(path, "w", newline="", encoding="utf-8")
    except OSError as err:
        raise EmoLobesError(f"cannot write {path} ({err.strerror})", "pass an --output path you can write to") from None
    with out:
        writer = csv.writer(out)
        writer.writerow(["path", "start", "end", "label"] + [f"p_{label}" for label in labels]
                        + [f"emb_{i}" for i in range(size)])
        for result in results:
            writer.writerow([result["path"], result["start"], result["end"], result["label"]]
                            + [f"{result['probabilities'][label]:.6g}" for label in labels]
                            + ([f"{float(v):.6g}" for v in result["embedding"]] if size else []))
    return path


def classify_windows(classifier, files, args):
    """Sliding-window rows of every file (a file that cannot be read: an error line, no rows) and the pictures."""
    from emo_lobes.evaluation.plots import write_timeline_png

    rows, failed = [], []
    stem = os.path.splitext(args.output)[0]
    for number, path in enumerate(files, 1):
        try:
            windows = classifier.classify_windows(path, args.window, args.hop)
        except EmoLobesError as err:
            if "must both be above 0" in str(err):
                raise
            failed.append(path)
            print(f"error: {err}", file=sys.stderr, flush=True)
            continue
        rows += windows
        picture = write_timeline_png(f"{stem}_timeline_{number}_{os.path.splitext(os.path.basename(path))[0]}.png",
                                     windows, classifier.labels, title=f"{os.path.basename(path)}: windows of "
                                     f"{args.window:g} s every {args.hop:g} s")
        if picture:
            print(f"[classify] timeline of {path} -> {picture}", flush=True)
    write_windows_csv(rows, classifier.labels, args.output, with_embeddings=args.embeddings)
    print(f"[classify] {len(rows)} windows of {len(files) - len(failed)} files -> {args.output}"
          + (f"; {len(failed)} not classified (see the errors above)" if failed else ""), flush=True)
    if failed:
        sys.exit(1)
    return rows


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="a recipe's output folder (hyperparams.yaml, save/)")
    parser.add_argument("paths", nargs="+", help="audio files or folders (searched recursively for .wav/.flac)")
    parser.add_argument("--output", required=True, help="the CSV to write")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--embeddings", action="store_true", help="add the emotion embedding's values as columns")
    parser.add_argument("--head", help="the emotion head giving 'label' (models with one head per corpus)")
    parser.add_argument("--window", type=float, help="classify sliding windows of this many seconds (long audio)")
    parser.add_argument("--hop", type=float, help="seconds between window starts (with --window; default: --window)")
    args = parser.parse_args(argv)
    if args.hop is not None and args.window is None:
        raise EmoLobesError("--hop without --window", "add --window SECONDS (e.g. --window 3 --hop 1)")
    if args.window is not None and args.hop is None:
        args.hop = args.window
    if args.window is not None and not (args.window > 0 and args.hop > 0):
        raise EmoLobesError(f"--window {args.window:g} and --hop {args.hop:g} must both be above 0",
                            "pass e.g. --window 3 --hop 1")
    if args.batch_size < 1:
        raise EmoLobesError(f"--batch_size {args.batch_size} is below 1", "pass --batch_size 1 or more")
    files = audio_files(args.paths)
    if not files:
        raise EmoLobesError(f"no .wav or .flac file in {' '.join(args.paths)}", "give audio files or folders")
    classifier = EmotionClassifier.from_experiment(args.experiment, device=args.device, batch_size=args.batch_size)
    if args.head:
        classifier.use_head(args.head)
    if args.window is not None:
        return classify_windows(classifier, files, args)
    results = classifier.classify_files(files, on_error="report")
    failed = [result for result in results if "error" in result]
    classified = [result for result in results if "error" not in result]
    for result in failed:  # one line each; the other files are still classified and written
        print(f"error: {result['error']}", file=sys.stderr, flush=True)
    write_predictions_csv(classified, classifier.labels, args.output, with_embeddings=args.embeddings)
    print(f"[classify] {len(classified)} files -> {args.output}"
          + (f"; {len(failed)} not classified (see the errors above)" if failed else ""), flush=True)
    if failed:
        sys.exit(1)
    return results


if __name__ == "__main__":
    main()
