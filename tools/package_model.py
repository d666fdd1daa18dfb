#!/usr/bin/env python3
"""Write the model folder (weights, inference.yaml, labels, model card) of a finished experiment.

Run: python tools/package_model.py results/MLEE/mlee/all/1986/fold_1 [--output_folder my_model]
(recipes do this themselves at the end of a run; this is for experiments trained before, or another place).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.errors import cli_errors  # noqa: E402
from emo_lobes.inference.packaging import write_model_package  # noqa: E402


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment_folder", help="a recipe's output folder")
    parser.add_argument("--output_folder", default=None, help="default: <experiment_folder>/model")
    args = parser.parse_args(argv)
    folder = write_model_package(args.experiment_folder, args.output_folder)
    print(f"[package] {folder}")
    return folder


if __name__ == "__main__":
    main()
