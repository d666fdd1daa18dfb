#!/usr/bin/env python3
"""Run the EmoNet paper's whole grid over the corpora a user has, then write Table 3, Table 4 and Figure 7a/7b.

Run (the data folder holds the corpus folders; --dry_run prints the commands and starts none):
python recipes/EmoNet/run_grid.py --data_folder /data --corpus emodb iemocap ravdess \
    --output_folder results/EmoNet/grid [--sources iemocap] [--fold 1] [--train_overrides="--max_epochs=30"] \
    [--multidomain_overrides="--rounds_per_level=500"]   # quote values with spaces: "'--default_split={k: 4}'"
The grid (Sections 5.2.2, 6, 7): a ResNet from scratch on every corpus and eGeMAPS + SVM on the same split
(Table 3); single-task transfer from the scratch model of each source corpus to every other corpus, tuning the
adapters or the classifier head only (Figure 7a; the paper's sources are DEMoS, FAU Aibo, GEMEP and IEMOCAP, the
default here is those among --corpus, or every corpus when none is); multi-domain training on all corpora ("all")
and pre-training on the Table 2 arousal, valence and arousal + valence aggregates, each then adapter-transferred
to every corpus (Table 4, Figure 7b). Every run after the scratch ones reads the scratch run's split file of its
corpus, so every system of a corpus is tested on the same utterances. A finished run (its test_results.json
exists) is not redone and an interrupted one resumes from its checkpoints: rerun the same command.
"""
import argparse
import json
import os
import shlex
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_table3 import table3_text  # noqa: E402
from mcnemar_table import table4_text  # noqa: E402
from plot_figure7 import write_figure7  # noqa: E402

from emo_lobes.data.manifest import write_text_atomic  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.metrics import read_test_results  # noqa: E402
from emo_lobes.training.run_lock import claim_driver_folder, run_command_once  # noqa: E402

RECIPE_DIR = os.path.dirname(os.path.abspath(__file__))
SHARED_MODEL_FILE = "shared_model.ckpt"  # train.py's pre-trained model (its SHARED_MODEL_FILE)
#: Section 7.2.1's pre-training corpora for single-task transfer, by the corpus names a run gives them (emo_lobes
#: parses IEMOCAP; DEMoS, FAU Aibo and GEMEP are CSV corpora a user declares under these names).
PAPER_SOURCES = ("demos", "fauaibo", "gemep", "iemocap")
#: Table 4's multi-task pre-training settings: column name, hparams file, extra overrides, run folder, and whether
#: it is a multi-domain run (A+V: two domains; it takes the multi-domain overrides and is done at its results).
AGGREGATES = (("arousal", "aggregated.yaml", ["--target=arousal"], "aggregated_arousal", False),
              ("valence", "aggregated.yaml", ["--target=valence"], "aggregated_valence", False),
              ("a+v", "arousal_valence.yaml", [], "arousal_valence", True))


def _train(hparams, *args):
    return [sys.executable, os.path.join(RECIPE_DIR, "train.py"), os.path.join(RECIPE_DIR, "hparams", hparams),
            *args]


def default_sources(corpora, sources=None):
    """The single-task transfer sources: ``sources`` when given, else the paper's among ``corpora``, else all.

    Example
    -------
    >>> default_sources(["emodb", "iemocap"]), default_sources(["emodb", "urdu"]), default_sources(["a", "b"], ["b"])
    (['iemocap'], ['emodb', 'urdu'], ['b'])
    """
    if sources is not None:
        return list(sources)
    return [c for c in corpora if c in PAPER_SOURCES] or list(corpora)


def split_file(output_folder, corpus):
    """The split file a grid's scratch run of ``corpus`` writes (every later run of that corpus reads it).

    Example
    -------
    >>> split_file("grid", "emodb")
    'grid/scratch/emodb/splits/emodb.json'
    """
    return os.path.join(output_folder, "scratch", corpus, "splits", f"{corpus}.json")


def grid_runs(corpora, data_folder, output_folder, sources=None, fold=1, declarations=None, train_overrides=(),
              multidomain_overrides=()):
    """The grid's runs in order: ``{"name", "folder", "command", "results"}`` (``results``: the file whose existence
    marks the run done).

    Arguments
    ---------
    corpora : list of str
        Corpus names (parser names, or names declared in ``declarations``).
    data_folder : str
        The folder holding the corpus folders.
    output_folder : str
        The grid's folder.
    sources : list of str, optional
        Single-task transfer sources (default: the paper's among ``corpora``, else all of them).
    fold : int
        The fold of each corpus's split used by the scratch runs.
    declarations : dict, optional
        train.py's ``corpora`` declarations (e.g. CSV corpora); runs after the scratch ones add each corpus's
        split file to them.
    train_overrides : sequence of str
        Overrides appended to every train.py command (e.g. ``--max_epochs=30``).
    multidomain_overrides : sequence of str
        Overrides of multidomain.yaml's own keys (``--rounds_per_level=500``), for the multi-domain runs only
        ("all" and A+V).

    Returns
    -------
    list of dict

    Example
    -------
    >>> runs = grid_runs(["emodb", "ravdess"], "/data", "grid")
    >>> names = [run["name"] for run in runs]
    >>> names[:3]
    ['scratch/emodb', 'scratch/ravdess', 'transfer_adapters/emodb_to_ravdess']
    >>> names[-3:]
    ['transfer_adapters/a+v_to_ravdess', 'egemaps/emodb', 'egemaps/ravdess']
    >>> len(runs), [run["name"] for run in runs if run.get("optional")]
    (18, ['egemaps/emodb', 'egemaps/ravdess'])
    """
    declarations = dict(declarations or {})
    unknown = sorted(set(sources or ()) - set(corpora))
    if unknown:
        raise EmoLobesError(f"transfer source {unknown[0]} is not among the grid's corpora",
                            f"add it to --corpus or drop it from --sources")
    sources = default_sources(corpora, sources)
    extra = list(train_overrides)
    common = [f"--data_folder={data_folder}"]
    if declarations:
        common.append(f"--corpora={json.dumps(declarations)}")
    fixed = {c: dict(declarations.get(c, {}), split={"file": os.path.abspath(split_file(output_folder, c))})
             for c in corpora}  # each corpus with the scratch run's split: the same utterances in every run
    fixed_split = [f"--data_folder={data_folder}", f"--corpora={json.dumps(fixed)}", "--fold=1"]
    many = "[" + ", ".join(corpora) + "]"

    def run(name, command, results=None):
        folder = os.path.join(output_folder, name)
        return {"name": name, "folder": folder, "command": command,
                "results": results or os.path.join(folder, "test_results.json")}

    # a single-corpus model run is done when its shared_model.ckpt exists (train.py writes it after
    # test_results.json); a multi-domain one (all, A+V) when its pooled test_results.json does (written last)
    runs = [run(f"scratch/{c}", _train("scratch.yaml", f"--corpus={c}", *common, f"--fold={fold}",
                                       f"--output_folder={os.path.join(output_folder, 'scratch', c)}", *extra),
                results=os.path.join(output_folder, "scratch", c, SHARED_MODEL_FILE))
            for c in corpora]

    def transfer(tune, source, pretrained, corpus):
        name = f"transfer_{tune}/{source}_to_{corpus}"
        return run(name, _train("transfer.yaml", f"--corpus={corpus}", *fixed_split, f"--tune={tune}",
                                f"--pretrained_folder={pretrained}",
                                f"--output_folder={os.path.join(output_folder, name)}", *extra))

    for source in sources:
        for corpus in corpora:
            if corpus != source:
                runs += [transfer(tune, source, os.path.join(output_folder, "scratch", source), corpus)
                         for tune in ("adapters", "head")]
    if len(corpora) > 1:
        folder = os.path.join(output_folder, "multidomain")
        runs.append(run("multidomain", _train("multidomain.yaml", f"--corpus={many}", *fixed_split,
                                              f"--output_folder={folder}", *extra, *multidomain_overrides)))
        for setting, hparams, options, name, multidomain in AGGREGATES:
            options = [*options, *multidomain_overrides] if multidomain else options
            runs.append(run(name, _train(hparams, f"--corpus={many}", *fixed_split, *options,
                                         f"--output_folder={os.path.join(output_folder, name)}", *extra),
                            results=os.path.join(output_folder, name, "test_results.json" if multidomain
                                                 else SHARED_MODEL_FILE)))
            runs += [transfer("adapters", setting, os.path.join(output_folder, name), corpus) for corpus in corpora]
    # the eGeMAPS baselines last: a missing openSMILE (the baselines extra) or a split without dev (C is chosen on
    # dev) then costs their Table 3 columns only
    runs += [dict(run(f"egemaps/{c}", [sys.executable, os.path.join(RECIPE_DIR, "egemaps_svm.py"),
                                       "--prep_folder", os.path.join(output_folder, "scratch", c, "prep", c),
                                       "--output_folder", os.path.join(output_folder, "egemaps", c)]), optional=True)
             for c in corpora]
    return runs


def _results_if_done(path):
    return read_test_results(path) if os.path.isfile(os.path.join(path, "test_results.json")) else None


def assemble(output_folder, corpora, sources=None):
    """Write ``table3.md``, ``table4.md``, ``figure7a.png`` and ``figure7b.png`` (each with what has finished).

    Arguments
    ---------
    output_folder : str
        The grid's folder (runs in the layout of :func:`grid_runs`).
    corpora : list of str
        The grid's corpora.
    sources : list of str, optional
        The single-task transfer sources (default: :func:`default_sources`).

    Returns
    -------
    list of str
        The files written.

    Example
    -------
    >>> import tempfile
    >>> assemble(tempfile.mkdtemp(), ["emodb"])  # nothing finished: nothing written
    []
    """
    done = lambda *parts: _results_if_done(os.path.join(output_folder, *parts))  # noqa: E731
    scratch = {c: done("scratch", c) for c in corpora}
    scratch = {c: r for c, r in scratch.items() if r is not None}
    written = []
    if not scratch:
        return written
    egemaps = {c: [r] for c, r in ((c, done("egemaps", c)) for c in scratch) if r is not None}
    write_text_atomic(table3_text({c: [r] for c, r in scratch.items()}, egemaps),
                      os.path.join(output_folder, "table3.md"))
    written.append(os.path.join(output_folder, "table3.md"))
    multi = {"all": {c: done("multidomain", c) for c in scratch}}
    for setting, *_ in AGGREGATES:
        multi[setting] = {c: done("transfer_adapters", f"{setting}_to_{c}") for c in scratch}
    multi = {name: {c: r for c, r in runs.items() if r is not None} for name, runs in multi.items()}
    multi = {name: runs for name, runs in multi.items() if runs}
    if multi:
        write_text_atomic(table4_text(scratch, multi), os.path.join(output_folder, "table4.md"))
        written.append(os.path.join(output_folder, "table4.md"))
        path = os.path.join(output_folder, "figure7b.png")
        write_figure7({(None, c): r for c, r in scratch.items()}, multi, path, figure="b")
        # without matplotlib there is no PNG, only its numbers
        written += [p for p in (path, os.path.splitext(path)[0] + ".md") if os.path.isfile(p)]
    sources = default_sources(corpora, sources)
    adapters, heads = {}, {}
    for source in sources:
        for corpus in (c for c in scratch if c != source):
            adapter = done("transfer_adapters", f"{source}_to_{corpus}")
            head = done("transfer_head", f"{source}_to_{corpus}")
            if adapter is not None and head is not None:
                adapters.setdefault(source, {})[corpus] = adapter
                heads[(source, corpus)] = head
    if adapters:
        path = os.path.join(output_folder, "figure7a.png")
        write_figure7(heads, adapters, path, figure="a")
        written += [p for p in (path, os.path.splitext(path)[0] + ".md") if os.path.isfile(p)]
    return written


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_folder", required=True, help="the folder holding the corpus folders (read-only)")
    parser.add_argument("--corpus", nargs="+", required=True, help="corpus names (parser or declared names)")
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--sources", nargs="+", help="single-task transfer sources (default: see above)")
    parser.add_argument("--fold", type=int, default=1, help="the fold of each corpus's split")
    parser.add_argument("--corpora", help="train.py's corpus declarations, as YAML (e.g. CSV corpora)")
    parser.add_argument("--train_overrides", default="", help="overrides for every train.py run, one string")
    parser.add_argument("--multidomain_overrides", default="",
                        help="overrides of multidomain.yaml's own keys (e.g. --rounds_per_level=500), "
                             "for its runs (all, A+V)")
    parser.add_argument("--dry_run", action="store_true", help="print the commands, start none")
    args = parser.parse_args(argv)
    if len(set(args.corpus)) != len(args.corpus):
        raise EmoLobesError("a corpus is named twice in --corpus", "name each corpus once")
    try:
        declarations = yaml.safe_load(args.corpora) if args.corpora else None
    except yaml.YAMLError as err:
        raise EmoLobesError(f"--corpora is not YAML ({str(err).splitlines()[0]})",
                            'write it as "{gemep: {parser: csv, folder: GEMEP}}"') from None
    if declarations is not None and not isinstance(declarations, dict):
        raise EmoLobesError("--corpora is not a mapping", 'write it as "{gemep: {parser: csv, folder: GEMEP}}"')
    runs = grid_runs(args.corpus, args.data_folder, args.output_folder, args.sources, args.fold, declarations,
                     shlex.split(args.train_overrides), shlex.split(args.multidomain_overrides))
    if args.dry_run:
        print("\n".join(shlex.join(run["command"]) for run in runs))
        return
    claim_driver_folder(args.output_folder, args.data_folder, "grid", {  # what decides every run of the grid
        "corpus": args.corpus, "sources": default_sources(args.corpus, args.sources), "fold": args.fold,
        "data_folder": os.path.abspath(args.data_folder), "corpora": declarations,
        "train_overrides": args.train_overrides, "multidomain_overrides": args.multidomain_overrides})
    for run in runs:  # each run's output goes to <its folder>/grid_stdout.log
        try:
            if not run_command_once(f"grid {run['name']}", run["command"], run["folder"], run["results"]):
                print(f"[grid {run['name']}] done", flush=True)
        except EmoLobesError as err:
            if not run.get("optional"):
                raise
            print(f"[grid {run['name']}] skipped: {err.problem}; {err.fix}", flush=True)
    for path in assemble(args.output_folder, args.corpus, args.sources):
        print(f"[grid] wrote {path}", flush=True)


if __name__ == "__main__":
    main()
