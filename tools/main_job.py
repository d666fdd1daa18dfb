#!/usr/bin/env python3
"""The main job: write the synthetic corpora, run the leaderboard's quick run on them (every system, baselines
included, on identical splits) and print it; ``--recipe_runs`` runs each recipe's own quick configurations instead.

Run: python tools/main_job.py [--synthetic_root synthetic_data] [--output_root results/main_job]
     python tools/main_job.py --recipe_runs [--only MLEE EmoNet]     # the recipes' paper-table quick runs
(``bash tools/run_main.sh`` sets up the environment first and runs this.)
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from emo_lobes.data.corpora import parse_corpus  # noqa: E402
from emo_lobes.errors import EmoLobesError, cli_errors  # noqa: E402
from emo_lobes.evaluation.metrics import read_test_results  # noqa: E402
from emo_lobes.data.synthetic import SYNTHETIC_CORPORA, write_corpus  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table  # noqa: E402

#: Synthetic corpus name -> (parser name, parser options).
PARSERS = {name: (name, {}) for name in SYNTHETIC_CORPORA}
PARSERS.update({"spont": ("csv", {}), "gemep": ("csv", {}), "masc": ("csv", {})})

#: Each recipe's quick run: commands (``{syn}`` = synthetic root, ``{out}`` = this recipe's output folder)
#: and where its results land: (corpus shown in the table, test_results.json relative to ``{out}``).
#: EmoNet's widths shrunk so the quick run takes about a minute on 2 CPU cores (the paper's are the hparams defaults).
EMONET_QUICK = ["--stem_channels=4", "--stack_channels=[8,16,16]", "--attention_size=16", "--head_hidden_size=16",
                "--batch_size=16", "--default_split={{k: 4}}", "--noprogressbar"]

QUICK_RUNS = [
    {
        "recipe": "SelectiveMTL",
        "what": "selective MTL on synthetic IEMOCAP + SPONT (spontaneous CSV corpus), fold 1 of the declared splits "
                "(IEMOCAP by session, SPONT 5 speaker folds), 10 epochs, reduced model",
        "commands": [
            ["{python}", "recipes/SelectiveMTL/train.py", "recipes/SelectiveMTL/hparams/selective_mtl.yaml",
             "--data_folder={syn}", "--output_folder={out}/selective_mtl/fold_1", "--fold=1", "--number_of_epochs=10",
             "--lstm_size=32", "--attention_size=32", "--dense1_size=128", "--dense2_size=64", "--lr=0.001",
             "--noprogressbar"],
        ],
        "results": [("IEMOCAP + SPONT (both test parts)", "selective_mtl/fold_1/test_results.json")],
    },
    {
        "recipe": "EmoNet",
        "what": "multi-domain adapter ResNet on EmoDB + RAVDESS + CaFE (tiny widths, fold 1 of 4 speaker folds), then "
                "adapter transfer to URDU (fold 1 of its held-out speaker draws)",
        "commands": [
            ["{python}", "recipes/EmoNet/train.py", "recipes/EmoNet/hparams/multidomain.yaml",
             "--corpus=[emodb, ravdess, cafe]", "--data_folder={syn}",
             "--output_folder={out}/multidomain", "--rounds_per_level=3", "--rounds_per_epoch=3", "--max_epochs=2",
             "--patience=1", *EMONET_QUICK],
            ["{python}", "recipes/EmoNet/train.py", "recipes/EmoNet/hparams/transfer.yaml", "--corpus=urdu",
             "--data_folder={syn}/URDU", "--pretrained_folder={out}/multidomain", "--output_folder={out}/transfer_urdu",
             "--max_epochs=3", "--patience=2", *EMONET_QUICK],
            # a longer single-corpus run, so the table shows the network learning from prosody
            ["{python}", "recipes/EmoNet/train.py", "recipes/EmoNet/hparams/scratch.yaml", "--corpus=emodb",
             "--data_folder={syn}/EmoDB", "--stem_channels=8", "--stack_channels=[16,16,32]", "--attention_size=32",
             "--head_hidden_size=32", "--batch_size=16", "--lr_levels=[0.01, 0.001]", "--max_epochs=40",
             "--patience=40", "--output_folder={out}/scratch_emodb", "--noprogressbar"],
        ],
        "results": [("URDU, adapters transferred from EmoDB + RAVDESS + CaFE", "transfer_urdu/test_results.json"),
                    ("EmoDB, from scratch (small widths, 40 epochs, lr 0.01)", "scratch_emodb/test_results.json")],
    },
    {
        "recipe": "EmotionEmbeddings",
        "what": "CaFE + EmoDB + GEMEP + RAVDESS, tiny random wav2vec2 (frozen, cached), 2 epochs, Tables II-III, Figs 2-3",
        "commands": [
            ["{python}", "tools/make_tiny_wav2vec2.py", "--output_folder", "{out}/tiny_wav2vec2"],
            ["env", "HF_HUB_OFFLINE=1", "{python}", "recipes/EmotionEmbeddings/train.py",
             "recipes/EmotionEmbeddings/hparams/multi_corpus_w2v2.yaml", "--data_folder={syn}",
             "--ssl_source={out}/tiny_wav2vec2", "--number_of_epochs=2", "--lr=0.005",
             # the synthetic RAVDESS has actors 01-08 only, so the paper's dev/test actors 19-24 are replaced
             "--corpora={{ravdess: {{split: {{dev_speakers: [ravdess_06], test_speakers: [ravdess_07, ravdess_08]}}}}}}",
             "--output_folder={out}/multi_corpus", "--feature_cache_dir={out}/feature_cache", "--noprogressbar"],
            # the random wav2vec2 carries no emotion; the log-mel front-end shows the shared GRU learning
            ["{python}", "recipes/EmotionEmbeddings/train.py", "recipes/EmotionEmbeddings/hparams/multi_corpus_mfb.yaml",
             "--data_folder={syn}", "--number_of_epochs=15", "--lr=0.003",
             "--corpora={{ravdess: {{split: {{dev_speakers: [ravdess_06], test_speakers: [ravdess_07, ravdess_08]}}}}}}",
             "--output_folder={out}/multi_corpus_mfb", "--noprogressbar"],
            ["{python}", "recipes/EmotionEmbeddings/cross_corpus.py", "--setting", "Multi-corpus={out}/multi_corpus",
             "--output_folder", "{out}/tables"],
            ["{python}", "recipes/EmotionEmbeddings/plot_embeddings.py", "--run", "Multi-corpus={out}/multi_corpus",
             "--output", "{out}/tables/figure2_umap.png"],
        ],
        "results": [("CaFE + EmoDB + GEMEP + RAVDESS (tiny random wav2vec2)", "multi_corpus/test_results.json"),
                    ("CaFE + EmoDB + GEMEP + RAVDESS (log-mel front-end, 15 epochs)", "multi_corpus_mfb/test_results.json")],
    },
    {
        "recipe": "MLEE",
        "what": "synthetic IEMOCAP improvised, leave-one-speaker-out fold 1 (declared split), 2 epochs: MLEE flat "
                "start -> MLEE pre-training (hard targets)",
        "commands": [
            ["{python}", "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee.yaml",
             "--data_folder={syn}/IEMOCAP_full_release", "--output_folder={out}/mlee/fold_1", "--number_of_epochs=2",
             "--speed_factors=[]", "--num_workers=0", "--noprogressbar"],
            ["{python}", "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee_pretrain.yaml",
             "--data_folder={syn}/IEMOCAP_full_release", "--output_folder={out}/mlee_pretrain_hard/fold_1",
             "--pretrained_mlee_folder={out}/mlee/fold_1", "--number_of_epochs=2", "--speed_factors=[]",
             "--num_workers=0", "--noprogressbar"],
        ],
        "results": [
            ("IEMOCAP improvised, MLEE only", "mlee/fold_1/test_results.json"),
            ("IEMOCAP improvised, MLEE pre-train (hard)", "mlee_pretrain_hard/fold_1/test_results.json"),
        ],
    },
    {
        "recipe": "LanguageMTL",
        "what": "Table 4 multi-task vs emotion-only pool (MFCC LSTM) + Table 5 IEMOCAP -> other corpora (IS09 LSTM, SVC), "
                "the paper's protocol: named test speakers, no dev set, the last epoch tested; RAVDESS (undeclared) "
                "the same way (MFCC LSTM)",
        "commands": [
            ["{python}", "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/multitask.yaml",
             "--data_folder={syn}", "--output_folder={out}/multitask", "--feature_cache_folder={out}/feature_cache",
             "--number_of_epochs=8", "--noprogressbar"],
            ["{python}", "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/multitask.yaml",
             "--task=emotion_only", "--data_folder={syn}", "--output_folder={out}/emotion_only",
             "--feature_cache_folder={out}/feature_cache", "--number_of_epochs=8", "--noprogressbar"],
            ["{python}", "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/cross_corpus.yaml",
             "--data_folder={syn}", "--output_folder={out}/cross_corpus", "--feature_cache_folder={out}/feature_cache",
             "--number_of_epochs=30", "--noprogressbar"],
            ["{python}", "recipes/LanguageMTL/svm_baselines.py", "recipes/LanguageMTL/hparams/cross_corpus.yaml",
             "--data_folder={syn}", "--output_folder={out}/cross_corpus",
             "--baseline_output_folder={out}/cross_corpus_baselines", "--feature_cache_folder={out}/feature_cache"],
            ["{python}", "recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml",
             "--corpus=ravdess", "--n_dev_speakers=0", "--data_folder={syn}", "--output_folder={out}/ravdess_no_dev",
             "--feature_cache_folder={out}/feature_cache", "--number_of_epochs=30", "--noprogressbar"],
            ["{python}", "recipes/LanguageMTL/make_tables.py", "--results_folder", "{out}", "--output", "{out}/tables.md"],
        ],
        "results": [
            ("5 corpora pooled, multi-task", "multitask/test_results.json"),
            ("5 corpora pooled, emotion only", "emotion_only/test_results.json"),
            ("IEMOCAP -> IEMOCAP/EMOVO/SAVEE/EMO-DB, IS09 LSTM", "cross_corpus/test_results.json"),
            ("same, IS09 SVC", "cross_corpus_baselines/svc/test_results.json"),
            ("RAVDESS, no dev set, MFCC LSTM", "ravdess_no_dev/test_results.json"),
        ],
    },
]


def write_synthetic(root, seed):
    """Write every synthetic corpus under ``root`` and print one summary line each.

    Returns
    -------
    dict
        ``{name: folder}``.
    """
    folders = {}
    for name in SYNTHETIC_CORPORA:
        start = time.time()
        folder = write_corpus(name, root, seed=seed)
        parser_name, options = PARSERS[name]
        summary = parse_corpus(parser_name, folder, **options).summary()
        labels = ", ".join(f"{k}:{v}" for k, v in summary["labels"].items())
        print(f"[data] {name:8s} {summary['n_utterances']:4d} utt  {summary['n_speakers']:2d} spk  "
              f"{summary['duration_s']['total'] / 60:5.1f} min  rates {list(summary['sample_rates'])}  "
              f"({time.time() - start:4.1f} s)  labels {labels}", flush=True)
        folders[name] = folder
    return folders


def run_step(command, log_path):
    """Run one command, echoing its output with a prefix and keeping a log; fail with one line."""
    with open(log_path, "a", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1)
        for line in process.stdout:
            log.write(line)
            print("    | " + line.rstrip(), flush=True)
        code = process.wait()
    if code != 0:
        raise EmoLobesError(f"'{' '.join(command)}' failed (exit {code})", f"see {log_path}")


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic_root", default=os.path.join(ROOT, "synthetic_data"))
    parser.add_argument("--output_root", default=os.path.join(ROOT, "results", "main_job"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipe_runs", action="store_true",
                        help="run each recipe's quick configurations (its paper tables) instead of the leaderboard")
    parser.add_argument("--only", nargs="*", help="with --recipe_runs: recipes to run (default: all)")
    parser.add_argument("--folds", type=int, default=3, help="leaderboard folds per corpus")
    args = parser.parse_args(argv)
    start = time.time()
    print(f"[main] writing synthetic corpora to {args.synthetic_root}", flush=True)
    folders = write_synthetic(args.synthetic_root, args.seed)
    if not args.recipe_runs:
        command = [sys.executable, os.path.join(ROOT, "tools", "leaderboard.py"), "--quick", "--folds", str(args.folds),
                   "--corpora", f"urdu={folders['urdu']}", f"baved={folders['baved']}",
                   "--output_folder", os.path.join(args.output_root, "leaderboard")]
        print(f"[main] leaderboard, quick (tiny models, a few epochs): {' '.join(command)}", flush=True)
        code = subprocess.call(command, cwd=ROOT)
        if code != 0:
            raise EmoLobesError(f"the leaderboard failed (exit {code})", "read its output above")
        print(f"[main] done in {time.time() - start:.0f} s", flush=True)
        return
    rows = []
    runs = [r for r in QUICK_RUNS if not args.only or r["recipe"] in args.only]
    for index, run in enumerate(runs, 1):
        out = os.path.join(args.output_root, run["recipe"])
        os.makedirs(out, exist_ok=True)
        log_path = os.path.join(out, "main_job.log")
        print(f"[main] ({index}/{len(runs)}) {run['recipe']}: {run['what']}", flush=True)
        recipe_start = time.time()
        for command in run["commands"]:
            filled = [part.format(syn=args.synthetic_root, out=out, python=sys.executable) for part in command]
            run_step(filled, log_path)
        print(f"[main] {run['recipe']} done in {time.time() - recipe_start:.0f} s", flush=True)
        for corpus, rel in run["results"]:
            path = os.path.join(out, rel)
            res = read_test_results(path)
            rows.append([run["recipe"], corpus, 100 * res["ua"], 100 * res["wa"], os.path.relpath(path, ROOT)])
    if not runs:
        print("[main] no recipe quick runs are registered yet: only the synthetic corpora were written")
        return
    table = markdown_table(["recipe", "corpus", "UA %", "WA %", "outputs"], rows)
    os.makedirs(args.output_root, exist_ok=True)
    with open(os.path.join(args.output_root, "summary.md"), "w", encoding="utf-8") as f:
        f.write(f"Synthetic data, quick configurations, {time.strftime('%Y-%m-%d')}\n\n{table}\n")
    print(f"\n[main] results on synthetic data (quick configurations, {time.time() - start:.0f} s in all):\n")
    print(table)


if __name__ == "__main__":
    main()
