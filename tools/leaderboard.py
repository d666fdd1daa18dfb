#!/usr/bin/env python3
"""Run every system (functional baselines and the recipes) on the same split files of the given corpora; write
leaderboard.md and leaderboard.json.

Run: python tools/leaderboard.py --corpora urdu=/data/URDU baved=/data/BAVED --folds 5 --output_folder results/leaderboard
     python tools/leaderboard.py --corpora emodb=/data/EmoDB --split_files emodb=splits/emodb.json \
         --output_folder results/leaderboard_emodb          # a split file instead of generated folds
     python tools/leaderboard.py --quick --corpora urdu=synthetic_data/URDU --output_folder results/lb_quick

A corpus is ``name=folder`` (``name`` a parser name) or ``name:parser=folder`` (e.g. ``calls:csv=/data/calls``).
Splits: ``--split_files name=FILE[,FILE...]`` (split files, an EmoBox ``data/<corpus>`` folder, SpeechBrain
manifests), else generated once into ``<output_folder>/splits/``: ``--folds`` speaker folds with 15 % of the
training speakers as dev and every class in dev and test; a corpus whose classes have too few speakers for that
(URDU: angry has 4 of 29 speakers) gets ``--folds`` seeded draws of held-out test speakers covering every class
instead (the line that writes the split says so). Every system of a fold reads the same file, so test predictions
pair by ``wav`` (McNemar against ``egemaps_svm``).

Each run is one command in ``<output_folder>/runs/<system>/<corpus>/fold_<k>/`` (its ``leaderboard_run.json`` holds
the command and its time); a run with that file and a ``test_results.json`` is done and not redone, so an
interrupted leaderboard resumes. ``--max_epochs N`` caps every recipe's epochs (the table notes each schedule it
cuts); ``--quick`` runs tiny models for a few epochs (CI and the main command: the numbers check the plumbing,
not the methods). Runs get ``OMP_NUM_THREADS=1`` unless it is set: on a shared CPU one thread per run is many
times faster than threads competing.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from emo_lobes.data.declarations import check_corpus_folders, declare_corpora, load_corpus_split, read_corpus  # noqa: E402
from emo_lobes.data.splits.files import write_split_file  # noqa: E402
from emo_lobes.data.manifest import (  # noqa: E402
    assert_not_inside, check_output_folder_writable, write_json_atomic, write_text_atomic,
)
from emo_lobes.data.declarations import FORM_KEYS  # noqa: E402
from emo_lobes.data.splits.specs import COMMON_KEYS, METHOD_KEYS, n_folds_of_spec  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.leaderboard import leaderboard_markdown, leaderboard_rows  # noqa: E402
from emo_lobes.evaluation.metrics import read_test_results  # noqa: E402
from emo_lobes.training.run_lock import die_with_parent, lock_output_folder  # noqa: E402

RUN_FILE = "leaderboard_run.json"
#: Tiny EmoNet widths of ``--quick`` (the paper's are the hparams defaults).
EMONET_TINY = ["--stem_channels=4", "--stack_channels=[8,16,16]", "--attention_size=16", "--head_hidden_size=16",
               "--batch_size=16"]

#: The Language-ID MTL paper's five emotions: its recipe classifies corpora labelled with (some of) them only.
LANGUAGE_MTL_CLASSES = ("happy", "sad", "fear", "angry", "neutral")


def _system(kind, script=None, hparams=None, epochs_key=None, schedule=None, quick=(), **options):
    # one entry of SYSTEMS
    return dict(options, kind=kind, script=script, hparams=hparams, epochs_key=epochs_key, schedule=schedule,
                quick=list(quick))


EMONET_SCHEDULE = "lr levels on dev plateaus, patience 50 (Sec. 4.3)"
EMBEDDINGS_SCHEDULE = "50 epochs (Sec. IV-A)"
LANGUAGE_MTL_SCHEDULE = "60 epochs, stop after 10 without a lower dev error"
EMONET_SCRATCH = _system("single", "recipes/EmoNet/train.py", "recipes/EmoNet/hparams/scratch.yaml", "max_epochs",
                         EMONET_SCHEDULE, EMONET_TINY + ["--max_epochs=4", "--patience=4"])
EMBEDDINGS_MFB = _system("single", "recipes/EmotionEmbeddings/train.py",
                         "recipes/EmotionEmbeddings/hparams/single_corpus_mfb.yaml", "number_of_epochs",
                         EMBEDDINGS_SCHEDULE, ["--number_of_epochs=4"], cache_key="feature_cache_dir")
LANGUAGE_MTL = _system("single", "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml",
                       "number_of_epochs", LANGUAGE_MTL_SCHEDULE, ["--number_of_epochs=4"],
                       cache_key="feature_cache_folder", classes=LANGUAGE_MTL_CLASSES)
#: The systems, in table order: ``kind`` (baseline, single: one corpus, multi: every corpus at once, transfer: one
#: corpus from the fold's multi-corpus run ``needs``), the script and hparams, the epoch key ``--max_epochs`` sets,
#: the paper's schedule (printed when cut), ``quick`` overrides, and ``classes`` when the recipe takes only corpora
#: labelled with some of those (other corpora are left out of that system, with a line saying so).
SYSTEMS = {
    "egemaps_svm": _system("baseline"),
    "is09_svc": _system("baseline"),
    "compare_svm": _system("baseline"),
    "emonet_scratch_paper": EMONET_SCRATCH,
    "emonet_scratch_recommended": dict(EMONET_SCRATCH, hparams="recipes/EmoNet/hparams/scratch_recommended.yaml"),
    "emotionembeddings_mfb_paper": EMBEDDINGS_MFB,
    "emotionembeddings_mfb_recommended": dict(
        EMBEDDINGS_MFB, hparams="recipes/EmotionEmbeddings/hparams/single_corpus_mfb_recommended.yaml"),
    "languagemtl_mfcc_lstm": dict(LANGUAGE_MTL, extra=["--features=mfcc"]),
    "languagemtl_is09_lstm": dict(LANGUAGE_MTL, extra=["--features=IS09"]),
    "emonet_multidomain": _system(
        "multi", "recipes/EmoNet/train.py", "recipes/EmoNet/hparams/multidomain.yaml", "max_epochs", EMONET_SCHEDULE,
        EMONET_TINY + ["--rounds_per_level=3", "--rounds_per_epoch=3", "--max_epochs=2", "--patience=1"]),
    "emonet_transfer": _system(
        "transfer", "recipes/EmoNet/train.py", "recipes/EmoNet/hparams/transfer.yaml", "max_epochs", EMONET_SCHEDULE,
        EMONET_TINY + ["--max_epochs=3", "--patience=2"], needs="emonet_multidomain"),
    "emotionembeddings_multi_mfb": dict(EMBEDDINGS_MFB, kind="multi",
                                        hparams="recipes/EmotionEmbeddings/hparams/multi_corpus_mfb.yaml"),
}
#: Every key a declared split may hold but ``file``, unset in a multi-corpus run's override (its split is the file).
SPLIT_KEYS = sorted((set(FORM_KEYS) | set(COMMON_KEYS) | set(METHOD_KEYS)) - {"file"})


def parse_corpus_arg(text):
    """``name=folder`` or ``name:parser=folder`` as ``(name, parser, folder)``.

    Example
    -------
    >>> parse_corpus_arg("urdu=/data/URDU"), parse_corpus_arg("calls:csv=/data/calls")
    (('urdu', 'urdu', '/data/URDU'), ('calls', 'csv', '/data/calls'))
    """
    if "=" not in text:
        raise EmoLobesError(f"cannot read corpus '{text}'", "write it as name=folder or name:parser=folder")
    key, folder = text.split("=", 1)
    name, _, parser = key.partition(":")
    return name, parser or name, folder


def generated_split(records, corpus, folds):
    """The split the leaderboard generates: ``folds`` speaker folds (15 % dev speakers), or, when some class has too
    few speakers for every fold's dev and test to hold it, ``folds`` draws of 2+ held-out test speakers.

    Example
    -------
    >>> records = [{"id": f"{s}{e}", "speaker": s, "emotion": e} for s in "abcdefgh" for e in ("x", "y")]
    >>> generated_split(records, "c", 3)["method"]
    'speaker_kfold'
    >>> generated_split(records[:8], "c", 5)["method"]
    'holdout'
    """
    kfold = {"method": "speaker_kfold", "k": folds, "dev": {"speaker_fraction": 0.15}, "min_per_class": 1}
    per_class = {}
    for record in records:
        per_class.setdefault(record["emotion"], set()).add(record["speaker"])
    if min(len(speakers) for speakers in per_class.values()) >= folds + 1:
        return kfold
    return {"method": "holdout", "n_test": 2, "folds": folds, "dev": {"speakers": 1}, "min_per_class": 1}


def make_splits(corpora, folds, split_files, output_folder, seed):
    """``({corpus: [(split argument, fold), ...]}, {corpus: classes})``: the given split files, or generated ones written to
    ``<output_folder>/splits/<corpus>_fold<k>.json`` (kept when already there)."""
    splits, labels = {}, {}
    for name, (parser, folder) in corpora.items():
        records, corpus_labels, _ = read_corpus(declare_corpora({name: {"parser": parser, "folder": folder}},
                                                                names=[name])[name])
        labels[name] = list(corpus_labels)
        if name in split_files:
            entries = []
            for path in split_files[name].split(","):
                path = os.path.abspath(path)
                if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "train.json")):
                    fold_dirs = sorted(glob.glob(os.path.join(path, "fold_*")), key=lambda p: int(p.rsplit("_", 1)[1]))
                    entries += [(path, int(p.rsplit("_", 1)[1])) for p in fold_dirs] or [(path, 1)]
                else:
                    entries.append((path, 1))
            splits[name] = entries
            print(f"[leaderboard] {name}: {len(entries)} fold(s) from {split_files[name]}", flush=True)
            continue
        paths = [os.path.join(output_folder, "splits", f"{name}_fold{k}.json") for k in range(1, folds + 1)]
        if not all(os.path.isfile(p) for p in paths):
            spec = generated_split(records, name, folds)
            n = n_folds_of_spec(records, spec, name) or 1
            declaration = declare_corpora({name: {"parser": parser, "folder": folder, "split": spec}},
                                          names=[name])[name]
            for k, path in enumerate(paths[:n], 1):
                data = load_corpus_split(declaration, fold=k, seed=seed)
                write_split_file(data.split, data.records, path, name, declaration.label_key)
            print(f"[leaderboard] {name}: {n} folds, {spec['method']}"
                  + ("" if spec["method"] == "speaker_kfold" else
                     f" (some class has at most {folds} speakers: {folds} speaker folds cannot each test it)"),
                  flush=True)
        splits[name] = [(p, 1) for p in paths if os.path.isfile(p)]
    return splits, labels


def _declaration_override(corpora, splits, fold_index):
    # --corpora of a multi-corpus run: each corpus's parser, folder and the fold's split file (declared keys unset)
    parts = []
    for name, (parser, folder) in corpora.items():
        path, fold = splits[name][fold_index]
        unset = ", ".join(f"{key}: null" for key in SPLIT_KEYS)
        parts.append(f"{name}: {{parser: {parser}, folder: {json.dumps(os.path.abspath(folder))}, "
                     f"split: {{{unset}, file: {json.dumps(path)}}}}}")
    return "--corpora={" + ", ".join(parts) + "}"


def plan_runs(systems, corpora, splits, output_folder, quick, max_epochs, labels=None):
    """Every run of the leaderboard: ``[{"system", "corpora", "fold", "folder", "command"}]`` in dependency order."""
    python = sys.executable
    cache = os.path.join(output_folder, "cache")
    runs = []
    n_folds = min(len(entries) for entries in splits.values())
    for system in systems:
        spec = SYSTEMS[system]
        budget = []
        if spec["kind"] != "baseline":
            budget = list(spec.get("extra", [])) + (spec["quick"] if quick else [])
            if max_epochs:
                budget.append(f"--{spec['epochs_key']}={max_epochs}")
            if spec.get("cache_key"):
                budget.append(f"--{spec['cache_key']}={os.path.join(cache, system.split('_')[0])}")
            budget.append("--noprogressbar")
        groups = ([[name] for name in corpora] if spec["kind"] != "multi" else [list(corpora)])
        if spec.get("classes") and labels:
            unfit = [g for g in groups if not set(labels[g[0]]) <= set(spec["classes"])]
            for group in unfit:
                print(f"[leaderboard] {system}: {group[0]} left out (its classes {', '.join(labels[group[0]])} "
                      f"are not among the recipe's {', '.join(spec['classes'])})", flush=True)
            groups = [g for g in groups if g not in unfit]
        for names in groups:
            label = "+".join(names)
            for index in range(n_folds if spec["kind"] in ("multi", "transfer") else len(splits[names[0]])):
                folder = os.path.join(output_folder, "runs", system, label, f"fold_{index + 1}")
                name = names[0]
                parser, data = corpora[name]
                path, fold = splits[name][index]
                if spec["kind"] == "baseline":
                    command = [python, "tools/functional_baseline.py", "--system", system, "--corpus",
                               f"{name}:{parser}", "--data_folder", data, "--split_file", path, "--fold", str(fold),
                               "--output_folder", folder, "--cache", os.path.join(cache, "functionals")]
                elif spec["kind"] == "multi":
                    command = [python, spec["script"], spec["hparams"], f"--data_folder={corpora[name][1]}",
                               _declaration_override(corpora, splits, index), f"--output_folder={folder}"]
                    command.append(f"--train_corpora=[{', '.join(names)}]" if "EmotionEmbeddings" in spec["script"]
                                   else f"--corpus=[{', '.join(names)}]")
                    command += budget
                else:
                    command = [python, spec["script"], spec["hparams"], f"--corpus={name}", f"--data_folder={data}",
                               f"--split_file={path}", f"--fold={fold}", f"--output_folder={folder}"] + budget
                    if parser != name:
                        command.append(f"--corpora={{{name}: {{parser: {parser}}}}}")
                    if spec["kind"] == "transfer":
                        needed = os.path.join(output_folder, "runs", spec["needs"], "+".join(corpora),
                                              f"fold_{index + 1}")
                        command.append(f"--pretrained_folder={needed}")
                runs.append({"system": system, "corpora": names, "fold": index + 1, "folder": folder,
                             "command": command})
    return runs


def epochs_run(folder):
    """Epochs trained by a run: the lines of its ``train_log.txt`` with a train loss (None without that file).

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "train_log.txt"), "w") as f:
    ...     _ = f.write("epoch: 1, lr: 0.1 - train loss: 1.2 - valid loss: 1.3\\nepoch: 2 - train loss: 1.0\\n")
    >>> epochs_run(folder), epochs_run(os.path.join(folder, "none"))
    (2, None)
    """
    path = os.path.join(folder, "train_log.txt")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as log:
        return sum(1 for line in log if "train loss" in line)


def execute(run, env):
    """Run one planned run unless it is done; return its record (command, seconds, epochs)."""
    record_path = os.path.join(run["folder"], RUN_FILE)
    if os.path.isfile(record_path) and os.path.isfile(os.path.join(run["folder"], "test_results.json")):
        with open(record_path, encoding="utf-8") as f:
            return json.load(f)
    print(f"[leaderboard] {run['system']} {'+'.join(run['corpora'])} fold {run['fold']}: "
          f"{' '.join(run['command'])}", flush=True)
    start = time.time()
    os.makedirs(run["folder"], exist_ok=True)
    with open(os.path.join(run["folder"], "leaderboard_stdout.log"), "w", encoding="utf-8") as log:
        code = subprocess.call(run["command"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=die_with_parent)
    if code != 0:
        raise EmoLobesError(f"{run['system']} on {'+'.join(run['corpora'])} fold {run['fold']} failed "
                            f"(exit {code})", f"read {os.path.join(run['folder'], 'leaderboard_stdout.log')}; "
                                              "run the leaderboard again to resume")
    record = {"command": run["command"], "seconds": round(time.time() - start, 1),
              "epochs": epochs_run(run["folder"])}
    write_json_atomic(record, record_path)
    return record


def default_systems(corpora):
    """Systems that apply: every single-corpus one whose hparams file exists, multi-corpus ones for 2+ corpora."""
    return [name for name, spec in SYSTEMS.items()
            if (spec["kind"] == "baseline" or os.path.isfile(os.path.join(ROOT, spec["hparams"])))
            and (spec["kind"] not in ("multi", "transfer") or len(corpora) > 1)]


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", required=True, help="name=folder or name:parser=folder")
    parser.add_argument("--folds", type=int, default=5, help="generated folds per corpus")
    parser.add_argument("--split_files", nargs="*", default=[], help="name=FILE[,FILE...]: given splits")
    parser.add_argument("--systems", help="comma-separated system names (default: all that apply)")
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--quick", action="store_true", help="tiny models, a few epochs (CI, main command)")
    parser.add_argument("--max_epochs", type=int, help="cap every recipe's epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated splits")
    parser.add_argument("--report_only", action="store_true",
                        help="start no run: tabulate the finished runs (the table so far; each row counts its folds)")
    args = parser.parse_args(argv)
    corpora = {}
    for text in args.corpora:
        name, parser_name, folder = parse_corpus_arg(text)
        corpora[name] = (parser_name, os.path.abspath(folder))
    check_corpus_folders(declare_corpora({n: {"parser": p, "folder": f} for n, (p, f) in corpora.items()},
                                         names=list(corpora)))
    for _, folder in corpora.values():
        assert_not_inside(args.output_folder, folder)
    split_files = dict(parse_corpus_arg(text)[::2] for text in args.split_files)
    unknown = sorted(set(split_files) - set(corpora))
    if unknown:
        raise EmoLobesError(f"--split_files names {unknown[0]}, which --corpora does not", "name a given corpus")
    systems = args.systems.split(",") if args.systems else default_systems(corpora)
    bad = [s for s in systems if s not in SYSTEMS]
    if bad:
        raise EmoLobesError(f"unknown system '{bad[0]}'", f"use some of {', '.join(SYSTEMS)}")
    if args.folds < 1 or (args.max_epochs is not None and args.max_epochs < 1):
        raise EmoLobesError("--folds and --max_epochs must be at least 1", "give positive numbers")
    check_output_folder_writable(args.output_folder)
    lock_output_folder(args.output_folder, "leaderboard")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    print(f"[leaderboard] {len(systems)} systems on {', '.join(corpora)}; each run on "
          f"{env['OMP_NUM_THREADS']} torch thread(s) (OMP_NUM_THREADS)", flush=True)
    splits, labels = make_splits(corpora, args.folds, split_files, args.output_folder, args.seed)
    start = time.time()
    fold_results = {}
    for run in plan_runs(systems, corpora, splits, args.output_folder, args.quick, args.max_epochs, labels):
        if args.report_only and not os.path.isfile(os.path.join(run["folder"], RUN_FILE)):
            print(f"[leaderboard] {run['system']} {'+'.join(run['corpora'])} fold {run['fold']}: not run yet", flush=True)
            continue
        record = execute(run, env)
        results = read_test_results(os.path.join(run["folder"], "test_results.json"))
        for name in run["corpora"]:
            fold_results.setdefault((run["system"], name), {})[run["fold"]] = {
                "results": results, "run": os.path.relpath(run["folder"], args.output_folder),
                "seconds": record["seconds"], "epochs": record["epochs"], "command": record["command"]}
    if not fold_results:
        raise EmoLobesError("no run has finished", "run the leaderboard without --report_only")
    rows = leaderboard_rows(fold_results)
    for row in rows:
        row["commands"] = [fold_results[(row["system"], row["corpus"])][k]["command"]
                           for k in sorted(fold_results[(row["system"], row["corpus"])])]
    notes = {}
    for system in systems:
        spec = SYSTEMS[system]
        if spec["kind"] == "baseline":
            continue
        if args.quick:
            notes[system] = "quick: tiny model, a few epochs"
        elif args.max_epochs:
            notes[system] = f"at most {args.max_epochs} epochs (paper: {spec['schedule']})"
    header = (f"Leaderboard ({time.strftime('%Y-%m-%d')}): {', '.join(f'{n} ({f})' for n, (_, f) in corpora.items())}; "
              f"splits in {os.path.join(args.output_folder, 'splits')}; runs under "
              f"{os.path.join(args.output_folder, 'runs')}; {time.time() - start:.0f} s for the runs not done before. "
              "UA, WA, macro-F1: mean over folds; McNemar: exact, pooled test predictions paired by fold and wav, "
              "(+k): k fewer errors than egemaps_svm.")
    table = leaderboard_markdown(rows, notes)
    write_json_atomic(rows, os.path.join(args.output_folder, "leaderboard.json"))
    write_text_atomic(header + "\n\n" + table + "\n", os.path.join(args.output_folder, "leaderboard.md"))
    print("\n" + header + "\n\n" + table, flush=True)
    return rows


if __name__ == "__main__":
    main()
