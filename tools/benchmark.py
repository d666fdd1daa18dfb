#!/usr/bin/env python3
"""Benchmark every recipe on a fixed synthetic workload: training utterances/s and time share outside the model.

Run: python tools/benchmark.py [--recipes mlee emonet] [--quick] [--output_folder results/benchmark]

Each recipe adds an entry: a module ``tools/benchmarks/<name>.py`` with ``run(workdir, quick=False) -> dict``
that returns at least ``utterances_per_s`` and ``outside_model_share`` (see
``emo_lobes.training.profiling.profile_training_epoch``), plus a ``TARGETS`` dict such as
``{"outside_model_share": ("<=", 0.20)}``, and optionally ``QUICK_TARGETS``, those still checked under ``--quick``
(an entry whose quick model is too small for a target to mean anything leaves it out: it is then shown as
"full workload only"). Results go to ``benchmark.json`` and ``benchmark.md``.
"""
import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table  # noqa: E402


def available_entries():
    """Names of the benchmark entries in ``tools/benchmarks/``.

    Example
    -------
    >>> isinstance(available_entries(), list)
    True
    """
    folder = os.path.join(HERE, "benchmarks")
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith(".py") and not name.startswith("_"))


#: How a target reads in the table (``None``: not checked on the quick workload, see the entry's ``QUICK_TARGETS``).
TARGET_STATE = {True: "met", False: "NOT met", None: "full workload only"}


def check_targets(result, targets):
    """Compare a result with its targets; returns ``{metric: {"value", "target", "met"}}``.

    Example
    -------
    >>> check_targets({"outside_model_share": 0.1}, {"outside_model_share": ("<=", 0.2)})
    {'outside_model_share': {'value': 0.1, 'target': '<= 0.2', 'met': True}}
    """
    checks = {}
    for metric, (op, bound) in targets.items():
        value = result.get(metric)
        met = value is not None and (value <= bound if op == "<=" else value >= bound)
        checks[metric] = {"value": value, "target": f"{op} {bound}", "met": bool(met)}
    return checks


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="*", help="entries to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller workload (smoke test)")
    parser.add_argument("--output_folder", default="results/benchmark")
    parser.add_argument("--workdir", default=None, help="where synthetic data and experiments go (default: temp)")
    args = parser.parse_args(argv)
    names = args.recipes or available_entries()
    unknown = sorted(set(names) - set(available_entries()))
    if unknown:
        raise EmoLobesError(f"no benchmark entry {', '.join(unknown)}", f"use one of {', '.join(available_entries())}")
    os.makedirs(args.output_folder, exist_ok=True)
    results = {"machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                           "platform": platform.platform()}, "date": time.strftime("%Y-%m-%d"), "entries": {}}
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        workdir = args.workdir or tempfile.mkdtemp(prefix=f"bench_{name}_")
        print(f"[benchmark] {name} ...", flush=True)
        result = module.run(os.path.join(workdir, name), quick=args.quick)
        targets = getattr(module, "TARGETS", {})
        checked = getattr(module, "QUICK_TARGETS", targets) if args.quick else targets
        result["targets"] = check_targets(result, checked)
        for metric, (op, bound) in targets.items():  # a quick workload too small for the target to mean anything
            if metric not in checked:
                result["targets"][metric] = {"value": result.get(metric), "target": f"{op} {bound}", "met": None}
        results["entries"][name] = result
        print(f"[benchmark] {name}: {json.dumps(result)}", flush=True)
    with open(os.path.join(args.output_folder, "benchmark.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    rows = []
    for name, res in results["entries"].items():
        targets = "; ".join(f"{m} {c['target']}: {TARGET_STATE[c['met']]}" for m, c in res["targets"].items())
        rows.append([name, res.get("workload", ""), res.get("utterances_per_s"),
                     res.get("outside_model_share"), targets or "–"])
    table = markdown_table(["entry", "workload", "train utt/s", "share outside model", "targets"], rows)
    with open(os.path.join(args.output_folder, "benchmark.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    print(table)
    return results


if __name__ == "__main__":
    main()
