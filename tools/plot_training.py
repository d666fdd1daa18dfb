#!/usr/bin/env python3
"""Draw a run's train/dev loss and dev metrics per epoch from its train_log.txt into <output_folder>/training_curves.png.

Run: python tools/plot_training.py results/MLEE/mlee/all/1986/fold_1 [more output folders ...]

The dev metrics are whatever the recipe logs (EmoNet and EmotionEmbeddings: UAR; SelectiveMTL: ua, wa, style_acc;
LanguageMTL: error_rate; MLEE: dev loss only). Needs matplotlib (pip install 'emo-lobes[plots]').
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.plots import write_training_curves_png  # noqa: E402


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("output_folders", nargs="+", help="recipe output folders holding train_log.txt")
    args = parser.parse_args(argv)
    written = []
    for folder in args.output_folders:
        path = write_training_curves_png(folder)
        if path is None:
            raise EmoLobesError("matplotlib is not installed", "pip install 'emo-lobes[plots]'")
        print(f"[plot_training] {path}", flush=True)
        written.append(path)
    return written


if __name__ == "__main__":
    main()
