#!/usr/bin/env python3
"""EmoNet's eGeMAPS + linear SVM baseline (Section 4.1): openSMILE eGeMAPSv02 functionals, standardised on train,
LinearSVC with C on a log grid 1 .. 1e-9 chosen on dev UAR, refit on train + dev, tested.

Run (same split as a train.py run: reuse its prep folder, or give the same corpus/split options and seed):
python recipes/EmoNet/egemaps_svm.py --prep_folder results/EmoNet/scratch/urdu/1986/fold_1/prep/urdu \
    --data_folder /data/URDU --output_folder results/EmoNet/egemaps_svm/urdu/fold_1
python recipes/EmoNet/egemaps_svm.py --corpus urdu --data_folder /data/URDU --fold 1 \
    --output_folder results/EmoNet/egemaps_svm/urdu/fold_1
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np
import opensmile
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import prepare_emonet  # noqa: E402

from emo_lobes.audio import load_audio  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.manifest import assert_not_inside, check_output_folder_writable, load_manifest  # noqa: E402
from emo_lobes.metrics import classification_metrics, write_test_results  # noqa: E402

#: The complexity grid of Section 4.1: 1, 0.1, ..., 1e-9.
C_GRID = [10.0 ** -exponent for exponent in range(10)]
SAMPLE_RATE = 16000


def egemaps_functionals(wav_paths, cache_path=None, sample_rate=SAMPLE_RATE):
    """eGeMAPSv02 functionals (88 per utterance) of each file, read from and added to a cache file.

    Arguments
    ---------
    wav_paths : dict
        ``{utterance id: audio path}``.
    cache_path : str, optional
        ``.npz`` file holding ``ids``, ``paths`` and ``features``; entries whose path changed are recomputed.
    sample_rate : int
        Audio is read mono at this rate (as the networks see it).

    Returns
    -------
    dict
        ``{utterance id: np.ndarray of shape [88]}``.

    Example
    -------
    >>> import tempfile, soundfile as sf
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "a.wav")
    >>> sf.write(path, 0.1 * np.sin(np.arange(16000) * 0.05), 16000)
    >>> feats = egemaps_functionals({"a": path}, os.path.join(folder, "cache.npz"))
    >>> feats["a"].shape, sorted(np.load(os.path.join(folder, "cache.npz"))["ids"].tolist())
    ((88,), ['a'])
    """
    cached = {}
    if cache_path and os.path.isfile(cache_path):
        stored = np.load(cache_path)
        cached = {utt: (path, row) for utt, path, row in zip(stored["ids"], stored["paths"], stored["features"])}
    features, missing = {}, []
    for utt, path in wav_paths.items():
        if utt in cached and cached[utt][0] == path:
            features[utt] = cached[utt][1]
        else:
            missing.append(utt)
    if missing:
        smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                feature_level=opensmile.FeatureLevel.Functionals)
        for utt in missing:
            signal = load_audio(wav_paths[utt], sample_rate).numpy()
            features[utt] = smile.process_signal(signal, sample_rate).to_numpy()[0].astype(np.float32)
        if cache_path:
            cached.update({utt: (wav_paths[utt], features[utt]) for utt in missing})
            ids = sorted(cached)
            np.savez(cache_path, ids=np.array(ids), paths=np.array([cached[u][0] for u in ids]),
                     features=np.stack([cached[u][1] for u in ids]))
    return features


def fit_linear_svm(train, dev, test, c_grid=C_GRID, seed=0):
    """Standardise on train, choose C on dev UAR, refit on train + dev, predict test (Section 4.1).

    Arguments
    ---------
    train, dev, test : tuple
        ``(features [n, d], labels [n])`` per partition.
    c_grid : list of float
        Complexities tried, in order (ties go to the first).
    seed : int
        LinearSVC's random state.

    Returns
    -------
    dict
        ``c`` (chosen), ``dev_ua`` (``{C: UAR}``), ``test_pred`` (predicted labels).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> def part(n):
    ...     y = np.array(["a", "b"] * n)
    ...     return rng.normal(size=(2 * n, 3)) + (y == "b")[:, None] * 3.0, y
    >>> result = fit_linear_svm(part(20), part(5), part(5))
    >>> result["c"] in C_GRID, result["test_pred"][:4].tolist()
    (True, ['a', 'b', 'a', 'b'])
    """
    scaler = StandardScaler().fit(train[0])  # fitted on train only, then fixed (Section 4.1)
    x_train, x_dev, x_test = (scaler.transform(part[0]) for part in (train, dev, test))
    dev_ua = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for c in c_grid:
            model = LinearSVC(C=c, max_iter=10000, random_state=seed).fit(x_train, train[1])
            dev_ua[c] = classification_metrics(dev[1], model.predict(x_dev))["ua"]
        best_c = max(c_grid, key=lambda c: dev_ua[c])
        final = LinearSVC(C=best_c, max_iter=10000, random_state=seed).fit(
            np.concatenate([x_train, x_dev]), np.concatenate([train[1], dev[1]]))
    return {"c": best_c, "dev_ua": dev_ua, "test_pred": final.predict(x_test)}


def run_baseline(prep_folder, data_folder, output_folder, cache_path=None, seed=0):
    """Extract (or reuse) features for the prep's manifests, fit, test, write ``test_results.json``.

    Returns
    -------
    dict
        The written results (metrics, chosen C, dev UAR per C).
    """
    parts, wavs = {}, {}
    for part in ("train", "valid", "test"):
        parts[part] = load_manifest(os.path.join(prep_folder, f"{part}.json"), data_root=data_folder)
        wavs.update({utt: entry["wav"] for utt, entry in parts[part].items()})
    features = egemaps_functionals(wavs, cache_path)
    matrices = {part: (np.stack([features[utt] for utt in entries]),
                       np.array([entry["emotion"] for entry in entries.values()])) for part, entries in parts.items()}
    with open(os.path.join(prep_folder, "labels.json"), encoding="utf-8") as labels_file:
        labels = json.load(labels_file)
    with open(os.path.join(prep_folder, "split.json"), encoding="utf-8") as split_file:
        split = json.load(split_file)
    fitted = fit_linear_svm(matrices["train"], matrices["valid"], matrices["test"], seed=seed)
    true = matrices["test"][1].tolist()
    metrics = classification_metrics(true, fitted["test_pred"].tolist(), labels=labels)
    predictions = [{"id": utt, "true": t, "pred": str(p)}
                   for utt, t, p in zip(parts["test"], true, fitted["test_pred"])]
    extra = {"corpus": split.get("corpus"), "split": split["name"], "method": "eGeMAPSv02 functionals + LinearSVC",
             "c": fitted["c"], "dev_ua_by_c": {str(c): ua for c, ua in fitted["dev_ua"].items()},
             "dev_ua": fitted["dev_ua"][fitted["c"]]}
    write_test_results(os.path.join(output_folder, "test_results.json"), metrics, predictions, extra)
    return dict(metrics, **extra)


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True, help="the corpus root (read-only)")
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--prep_folder", help="manifests of a train.py run (<output_folder>/prep/<corpus>)")
    parser.add_argument("--corpus", help="corpus name, when no --prep_folder is given")
    parser.add_argument("--split_method", default="speaker_group_kfold")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--n_folds", type=int, default=5)
    parser.add_argument("--dev_fraction", type=float, default=0.15)
    parser.add_argument("--n_test_speakers", type=int, default=2)
    parser.add_argument("--n_dev_speakers", type=int)
    parser.add_argument("--seed", type=int, default=1986, help="split seed (train.py's default seed is 1986)")
    parser.add_argument("--cache", help="feature cache .npz (default: <output_folder>/egemaps_features.npz)")
    args = parser.parse_args(argv)
    assert_not_inside(args.output_folder, args.data_folder)
    check_output_folder_writable(args.output_folder)
    prep_folder = args.prep_folder
    if prep_folder is None:
        if args.corpus is None:
            raise EmoLobesError("neither --prep_folder nor --corpus given", "pass one of them")
        prep_folder = os.path.join(args.output_folder, "prep")
        prepare_emonet(args.corpus, args.data_folder, prep_folder, args.split_method, args.fold, args.n_folds,
                       args.dev_fraction, args.n_test_speakers, args.n_dev_speakers, seed=args.seed)
    elif not os.path.isfile(os.path.join(prep_folder, "split.json")):
        raise EmoLobesError(f"{prep_folder} holds no EmoNet manifests", "pass <train.py output_folder>/prep/<corpus>")
    cache = args.cache or os.path.join(args.output_folder, "egemaps_features.npz")
    results = run_baseline(prep_folder, args.data_folder, args.output_folder, cache, seed=args.seed)
    print(f"eGeMAPS + LinearSVC on {results['corpus']} {results['split']}: C={results['c']:g}, "
          f"dev UAR {results['dev_ua']:.3f}, test UAR {results['ua']:.3f}, WA {results['wa']:.3f}")


if __name__ == "__main__":
    main()
