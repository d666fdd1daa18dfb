#!/usr/bin/env python3
"""Run a recipe over its folds (one experiment folder each), resume an interrupted set, aggregate the results.

Run: python tools/cross_validate.py recipes/MLEE/train.py recipes/MLEE/hparams/mlee.yaml \
        --folds 1-10 --output_folder results/MLEE/mlee --data_folder=/data/IEMOCAP_full_release

Every argument after the named ones is passed to each train.py call unchanged (hparams overrides).
Fold k runs ``train.py HPARAMS --fold=k --output_folder=OUT/fold_k ...``. When train.py exits with status 0
the runner writes ``OUT/fold_k/cv_fold_done.json``; a fold with that file is done and skipped. Any other fold
(never started, failed, or killed, even after its ``test_results.json`` but before train.py ended) is started
again with the same command, so the checkpointer resumes it where it stopped. The aggregate goes to
``OUT/cv_results.json`` and ``OUT/cv_results.md``. The runner holds ``OUT``'s run lock (a second runner on the same
set is refused), and a fold's train.py is killed when the runner dies, so no orphan trains on.
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.data.manifest import write_json_atomic, write_text_atomic  # noqa: E402
from emo_lobes.evaluation.metrics import aggregate_folds, read_test_results  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table, mean_std  # noqa: E402
from emo_lobes.training.run_lock import die_with_parent, lock_output_folder  # noqa: E402

RESULT_FILE = "test_results.json"
#: Written by the runner once a fold's train.py has exited with status 0: the fold is done.
DONE_FILE = "cv_fold_done.json"


def parse_folds(spec):
    """Fold numbers from a spec such as ``1-10``, ``1,3,5`` or ``2-4,7``.

    Arguments
    ---------
    spec : str
        The spec.

    Returns
    -------
    list of int
        Sorted, unique fold numbers.

    Example
    -------
    >>> parse_folds("2-4,7,3")
    [2, 3, 4, 7]
    """
    folds = set()
    try:
        for part in str(spec).split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                folds.update(range(lo, hi + 1))
            elif part:
                folds.add(int(part))
    except ValueError:
        raise EmoLobesError(f"cannot read fold spec '{spec}'", "write folds as 1-10 or 1,3,5") from None
    if not folds:
        raise EmoLobesError(f"fold spec '{spec}' names no fold", "write folds as 1-10 or 1,3,5")
    return sorted(folds)


def fold_command(train_script, hparams, fold, output_folder, overrides, python=sys.executable):
    """The command that trains and tests one fold.

    Example
    -------
    >>> fold_command("train.py", "h.yaml", 3, "out", ["--seed=1"], python="python")
    ['python', 'train.py', 'h.yaml', '--fold=3', '--output_folder=out/fold_3', '--seed=1']
    """
    return [python, train_script, hparams, f"--fold={fold}",
            f"--output_folder={os.path.join(output_folder, f'fold_{fold}')}", *overrides]


def aggregate(output_folder, folds):
    """Read each fold's ``test_results.json`` and write ``cv_results.json`` and ``cv_results.md``.

    Arguments
    ---------
    output_folder : str
        The fold set's folder (holding ``fold_<k>/``).
    folds : list of int
        The folds to aggregate.

    Returns
    -------
    dict
        ``{"folds": {k: metrics}, "aggregate": {...}}``.
    """
    per_fold = {}
    for fold in folds:
        path = os.path.join(output_folder, f"fold_{fold}", RESULT_FILE)
        if os.path.exists(path):
            per_fold[fold] = read_test_results(path)
    if not per_fold:
        raise EmoLobesError(f"no fold of {output_folder} has a {RESULT_FILE}", "run the folds first")
    summary = aggregate_folds(list(per_fold.values()))
    result = {
        "folds": {str(k): {key: v.get(key) for key in ("wa", "ua", "macro_f1", "n")} for k, v in per_fold.items()},
        "aggregate": summary,
        "n_folds": len(per_fold),
        "missing_folds": [k for k in folds if k not in per_fold],
    }
    write_json_atomic(result, os.path.join(output_folder, "cv_results.json"))
    rows = [[f"fold {k}", 100 * v["wa"], 100 * v["ua"], 100 * v["macro_f1"], v["n"]] for k, v in per_fold.items()]
    rows.append(["mean ± std"] + [mean_std(summary[key]["mean"], summary[key]["std"])
                                  for key in ("wa", "ua", "macro_f1")] + [sum(v["n"] for v in per_fold.values())])
    table = markdown_table(["fold", "WA %", "UA %", "macro-F1 %", "n"], rows)
    write_text_atomic(table + "\n", os.path.join(output_folder, "cv_results.md"))
    return result


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train_script", help="recipes/<R>/train.py")
    parser.add_argument("hparams", help="recipes/<R>/hparams/<x>.yaml")
    parser.add_argument("--folds", required=True, help="e.g. 1-10 or 1,3,5")
    parser.add_argument("--output_folder", required=True, help="one fold_<k>/ folder per fold goes here")
    args, overrides = parser.parse_known_args(argv)
    for path in (args.train_script, args.hparams):
        if not os.path.isfile(path):
            raise EmoLobesError(f"{path} does not exist", "give the recipe's train.py and an hparams file")
    folds = parse_folds(args.folds)
    lock_output_folder(args.output_folder, "fold runner")  # a second runner on this set is refused in one line
    for fold in folds:
        done = os.path.join(args.output_folder, f"fold_{fold}", DONE_FILE)
        if os.path.exists(done) and os.path.exists(os.path.join(os.path.dirname(done), RESULT_FILE)):
            print(f"[cv] fold {fold}: done already ({done})", flush=True)
            continue
        command = fold_command(args.train_script, args.hparams, fold, args.output_folder, overrides)
        print(f"[cv] fold {fold}: {' '.join(command)}", flush=True)
        start = time.time()
        code = subprocess.call(command, preexec_fn=die_with_parent)  # killed with the runner: no orphan
        if code != 0:
            raise EmoLobesError(f"fold {fold} failed with exit status {code}",
                                "read the log above; run this command again to resume from the last checkpoint")
        if not os.path.exists(os.path.join(os.path.dirname(done), RESULT_FILE)):
            raise EmoLobesError(f"fold {fold} ended without writing {RESULT_FILE}",
                                f"check that {args.train_script} writes <output_folder>/{RESULT_FILE}")
        write_json_atomic({"fold": fold, "command": command, "seconds": round(time.time() - start, 1)}, done)
        print(f"[cv] fold {fold}: finished in {time.time() - start:.0f} s", flush=True)
    result = aggregate(args.output_folder, folds)
    with open(os.path.join(args.output_folder, "cv_results.md"), encoding="utf-8") as f:
        print(f.read())
    return result


if __name__ == "__main__":
    main()
