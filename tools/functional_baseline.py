#!/usr/bin/env python3
"""Fit one functional baseline (egemaps_svm, is09_svc, compare_svm) on a corpus's split and write test_results.json.

Run: python tools/functional_baseline.py --system egemaps_svm --corpus urdu --data_folder /data/URDU \
        --split_file results/leaderboard/splits/urdu_fold1.json --output_folder results/baselines/urdu/fold_1
(``--corpus name:parser`` for a corpus whose name is not its parser's, e.g. ``calls:csv``; the protocols are in
emo_lobes/evaluation/split_baselines.py.)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.data.declarations import check_corpus_folders, declare_corpora  # noqa: E402
from emo_lobes.data.manifest import assert_not_inside, check_output_folder_writable  # noqa: E402
from emo_lobes.errors import cli_errors  # noqa: E402
from emo_lobes.evaluation.split_baselines import BASELINES, run_split_baseline  # noqa: E402


@cli_errors
def main(argv=None):
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", required=True, choices=sorted(BASELINES))
    parser.add_argument("--corpus", required=True, help="NAME or NAME:PARSER")
    parser.add_argument("--data_folder", required=True, help="the corpus root (read-only)")
    parser.add_argument("--split_file", required=True,
                        help="a split file, an EmoBox data/<corpus> folder or SpeechBrain manifests")
    parser.add_argument("--fold", type=int, default=1, help="the fold of an EmoBox folder")
    parser.add_argument("--output_folder", required=True)
    parser.add_argument("--cache", help="functionals cache (default: <output_folder>/feature_cache)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    name, _, parser_name = args.corpus.partition(":")
    declarations = declare_corpora({name: {"parser": parser_name or name, "folder": os.path.abspath(args.data_folder)}},
                                   names=[name], split_file=args.split_file)
    check_corpus_folders(declarations)
    assert_not_inside(args.output_folder, declarations[name].folder)
    check_output_folder_writable(args.output_folder)
    result = run_split_baseline(args.system, declarations[name], args.output_folder, fold=args.fold,
                                cache_dir=args.cache or os.path.join(args.output_folder, "feature_cache"),
                                seed=args.seed)
    print(f"{args.system} on {name}: C={result['c']:g}, dev UAR {result['dev_ua']:.3f}, "
          f"test UAR {result['ua']:.3f}, WA {result['wa']:.3f} ({result['n']} test utterances)")
    return result


if __name__ == "__main__":
    main()
