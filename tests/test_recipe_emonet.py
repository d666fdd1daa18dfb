"""Tests of the EmoNet recipe: data prep, round-robin order, and short end-to-end runs of scratch, transfer and
multi-domain training on synthetic corpora (tiny model)."""
import doctest
import glob
import json
import os
import runpy
import sys

import numpy as np
import pytest
import torch
from speechbrain.dataio.batch import PaddedBatch

from emo_lobes.features import feature_cache as features_cache
from emo_lobes.errors import EmoLobesError
from emo_lobes.training.round_robin import MultiCorpusDataset, RoundRobinBatchSampler
from emo_lobes.data.splits import check_no_leakage
from emo_lobes.data.synthetic import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.benchmarks._common import load_recipe_module, load_recipe_modules  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "EmoNet")
TINY = ["--stem_channels=4", "--stack_channels=[8, 8, 16]", "--attention_size=8", "--head_hidden_size=8",
        "--batch_size=16", "--eval_batch_size=32", "--n_folds=4", "--n_dev_speakers=1", "--noprogressbar"]


def _load(name):
    return load_recipe_module("EmoNet", name)


prepare, train = load_recipe_modules("EmoNet", "prepare", "train")


def run_train(hparams_name, *args):
    """Run train.py in this process (imports are shared, so each run costs only its training)."""
    argv = sys.argv
    sys.argv = ["train.py", os.path.join(RECIPE, "hparams", hparams_name), *args]
    try:
        runpy.run_path(os.path.join(RECIPE, "train.py"), run_name="__main__")
    finally:
        sys.argv = argv


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("emonet_synthetic"))
    return {name: write_corpus(name, root) for name in ("urdu", "emodb")}


@pytest.fixture(scope="module")
def scratch_run(corpora, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("emonet_scratch"))
    run_train("scratch.yaml", f"--data_folder={corpora['urdu']}", f"--output_folder={out}", "--max_epochs=2",
              "--patience=1", *TINY)
    return out


def _snapshot(folder):
    return {path: os.path.getmtime(path) for path in glob.glob(os.path.join(folder, "**"), recursive=True)}


def test_recipe_doctests():
    for module in (prepare, train, _load("egemaps_svm"), _load("mcnemar_table")):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_prepare_is_speaker_independent_and_skips_or_rebuilds(corpora, tmp_path):
    before = _snapshot(corpora["urdu"])
    paths = prepare.prepare_emonet("urdu", corpora["urdu"], str(tmp_path), n_folds=4, fold=3, n_dev_speakers=1)
    split = json.load(open(paths["split"]))
    records = [dict(v, id=k) for part in ("train", "valid", "test")
               for k, v in json.load(open(paths[part])).items()]
    check_no_leakage(split, records)
    assert split["name"] == "fold_3" and len(split["dev_speakers"]) == 1
    assert json.load(open(paths["labels"])) == ["angry", "happy", "neutral", "sad"]
    stamp = os.path.getmtime(paths["train"])
    prepare.prepare_emonet("urdu", corpora["urdu"], str(tmp_path), n_folds=4, fold=3, n_dev_speakers=1)
    assert os.path.getmtime(paths["train"]) == stamp  # same options: skipped
    prepare.prepare_emonet("urdu", corpora["urdu"], str(tmp_path), n_folds=4, fold=2, n_dev_speakers=1)
    assert json.load(open(paths["split"]))["name"] == "fold_2"  # new fold: rebuilt
    assert _snapshot(corpora["urdu"]) == before  # nothing written under the data folder
    with pytest.raises(EmoLobesError, match="inside the data folder"):
        prepare.prepare_emonet("urdu", corpora["urdu"], os.path.join(corpora["urdu"], "prep"))


def test_round_robin_takes_one_batch_of_each_corpus_in_turn(corpora, tmp_path):
    hparams = {"sample_rate": 16000, "train_chunk_duration": 5.0, "eval_max_duration": 30.0, "batch_size": 40,
               "eval_batch_size": 8, "num_workers": 0, "seed": 0}
    datasets = []
    for index, name in enumerate(("urdu", "emodb")):
        paths = prepare.prepare_emonet(name, corpora[name], str(tmp_path / name), n_folds=4, n_dev_speakers=1)
        corpus, _ = train.corpus_datasets(hparams, paths, corpora[name], index)
        corpus["train"].set_output_keys(["id", "domain"])  # skip audio: only the order is checked
        datasets.append(corpus["train"])
    n_urdu_batches = -(-len(datasets[0]) // 40)
    sampler = RoundRobinBatchSampler([len(d) for d in datasets], batch_size=40, rounds=n_urdu_batches + 1, seed=0)
    sampler.set_epoch(1)
    loader = torch.utils.data.DataLoader(MultiCorpusDataset(datasets), batch_sampler=sampler, collate_fn=PaddedBatch)
    batches = list(loader)
    assert [int(b.domain[0]) for b in batches] == [0, 1] * (n_urdu_batches + 1)
    assert all(len(set(b.domain.tolist())) == 1 for b in batches)
    urdu_ids = [b.id for b in batches[::2]]
    first_pass = [utt for ids in urdu_ids[:n_urdu_batches] for utt in ids]
    assert sorted(first_pass) == sorted(datasets[0].data_ids)  # one pass: every utterance once
    assert urdu_ids[n_urdu_batches] != urdu_ids[0]  # the exhausted corpus restarts, reshuffled
    sampler.set_epoch(2)  # the next epoch continues the passes where the first stopped
    assert list(sampler)[0] == sampler.batch(0, n_urdu_batches + 1)


def test_scratch_writes_both_evaluation_points(scratch_run):
    results = json.load(open(os.path.join(scratch_run, "test_results.json")))
    assert results["mode"] == "scratch" and results["corpus"] == "urdu"
    assert 0.0 <= results["ua"] <= 1.0 and results["n"] == len(results["predictions"])
    for point in ("best", "final"):
        for part in ("dev", "test"):
            assert set(results[point][part]) >= {"wa", "ua", "confusion", "epoch"}
    assert results["final"]["test"]["epoch"] == 2 and len(results["final"]["test"]["predictions"]) == results["n"]
    assert results["best"]["test"]["ua"] == results["ua"]
    saved = torch.load(os.path.join(scratch_run, train.SHARED_MODEL_FILE), weights_only=False)
    assert saved["kind"] == train.SHARED_MODEL_KIND and saved["source_corpora"] == ["urdu"]


def test_transfer_keeps_shared_parameters_bit_identical(scratch_run, corpora, tmp_path):
    out = str(tmp_path / "transfer")
    run_train("transfer.yaml", "--corpus=emodb", f"--data_folder={corpora['emodb']}",
              f"--pretrained_folder={scratch_run}", f"--output_folder={out}", "--max_epochs=2", "--patience=5", *TINY)
    source = torch.load(os.path.join(scratch_run, train.SHARED_MODEL_FILE), weights_only=False)
    final_model = torch.load(glob.glob(os.path.join(out, "save", "transfer", "CKPT*", "model.ckpt"))[-1])
    assert all(torch.equal(final_model[name], value) for name, value in source["shared_state"].items())
    trained = [name for name in final_model if ".adapters." in name or name.startswith("heads.")]
    results = json.load(open(os.path.join(out, "test_results.json")))
    assert trained and results["pretrained_on"] == ["urdu"] and len(results["labels"]) == 7
    assert results["trainable_parameters"] == results["parameter_counts"]["per_domain"][0]


def test_transfer_without_pretrained_model_fails_in_one_line(corpora, tmp_path):
    with pytest.raises(EmoLobesError, match="no shared_model.ckpt in pretrained_folder"):
        run_train("transfer.yaml", "--corpus=emodb", f"--data_folder={corpora['emodb']}",
                  f"--pretrained_folder={tmp_path}", f"--output_folder={tmp_path / 'out'}", *TINY)


def test_multidomain_round_robin_then_finetuning(corpora, tmp_path):
    out = str(tmp_path / "multi")
    run_train("multidomain.yaml", "--corpora=[urdu, emodb]", f"--data_folders=[{corpora['urdu']}, {corpora['emodb']}]",
              f"--output_folder={out}", "--rounds_per_level=1", "--rounds_per_epoch=3", "--max_epochs=1", *TINY)
    pooled = json.load(open(os.path.join(out, "test_results.json")))
    assert set(pooled["corpora"]) == {"urdu", "emodb"} and len(pooled["labels"]) == 4 + 7
    assert len(pooled["parameter_counts"]["per_domain"]) == 2
    for name in ("urdu", "emodb"):
        results = json.load(open(os.path.join(out, name, "test_results.json")))
        assert results["corpus"] == name and "before_finetune" in results and "final" in results
    # Fine-tuning never touches the shared base written after the round-robin phase.
    shared = torch.load(os.path.join(out, train.SHARED_MODEL_FILE), weights_only=False)["shared_state"]
    last = torch.load(glob.glob(os.path.join(out, "save", "finetune_emodb", "CKPT*", "model.ckpt"))[-1])
    assert all(torch.equal(last[name], value) for name, value in shared.items())
    log = open(os.path.join(out, "train_log.txt")).read()
    assert "phase: multidomain, epoch: 1" in log and "phase: finetune_urdu" in log and "phase: finetune_emodb" in log


def test_egemaps_svm_baseline_on_synthetic_corpus(corpora, tmp_path, monkeypatch, capsys):
    egemaps_svm = _load("egemaps_svm")
    out = str(tmp_path / "svm")
    egemaps_svm.main(["--corpus", "urdu", "--data_folder", corpora["urdu"], "--output_folder", out,
                      "--n_folds", "4", "--n_dev_speakers", "1"])
    results = json.load(open(os.path.join(out, "test_results.json")))
    assert results["c"] in egemaps_svm.C_GRID and len(results["dev_ua_by_c"]) == 10
    assert results["dev_ua"] == max(results["dev_ua_by_c"].values())
    assert results["labels"] == ["angry", "happy", "neutral", "sad"] and results["n"] == len(results["predictions"])
    assert "test UAR" in capsys.readouterr().out
    cached = glob.glob(os.path.join(out, "feature_cache", "opensmile*eGeMAPSv02*", "*", "*.npy"))
    assert len(cached) == results["n"] + sum(len(json.load(open(os.path.join(out, "prep", f"{part}.json"))))
                                             for part in ("train", "valid"))
    assert np.load(cached[0]).shape == (88,)
    # A second run on the same split reads every feature from the cache: openSMILE is never called.
    monkeypatch.setattr(features_cache, "opensmile_functionals", lambda *a, **k: pytest.fail("features recomputed"))
    egemaps_svm.main(["--prep_folder", os.path.join(out, "prep"), "--data_folder", corpora["urdu"],
                      "--output_folder", out])
    assert json.load(open(os.path.join(out, "test_results.json")))["ua"] == results["ua"]


def test_every_corpus_emotion_maps_to_arousal_and_valence():
    from emo_lobes.data.label_tables import arousal_valence
    from emo_lobes.data.labels import CANONICAL_EMOTIONS

    unmapped = [e for e in CANONICAL_EMOTIONS if e not in ("other", "undecided")
                and arousal_valence(e)[0] not in ("low", "high")]
    assert unmapped == []
    with pytest.raises(EmoLobesError):
        arousal_valence("undecided")  # no consensus label: dropped by prepare_aggregated, listed in problems


def test_aggregated_arousal_and_arousal_valence_domains(corpora, tmp_path):
    folders = f"--data_folders=[{corpora['urdu']}, {corpora['emodb']}]"
    out4 = str(tmp_path / "arousal")
    run_train("aggregated.yaml", "--target=arousal", "--corpora=[urdu, emodb]", folders, f"--output_folder={out4}",
              "--max_epochs=1", *TINY)
    results = json.load(open(os.path.join(out4, "test_results.json")))
    assert results["labels"] == ["high", "low"] and results["corpus"] == "arousal"
    out5 = str(tmp_path / "a_plus_v")
    run_train("arousal_valence.yaml", "--corpora=[urdu, emodb]", folders, f"--output_folder={out5}",
              "--rounds_per_level=1", "--rounds_per_epoch=3", "--max_epochs=1", *TINY)
    pooled = json.load(open(os.path.join(out5, "test_results.json")))
    assert set(pooled["corpora"]) == {"arousal", "valence"}
    assert json.load(open(os.path.join(out5, "valence", "test_results.json")))["labels"] == [
        "negative", "neutral", "positive"]
    # Each corpus's partitions are balanced: every mapped class has the count of the rarest one.
    summary = json.load(open(os.path.join(out5, "prep", "aggregated_valence", "split.json")))["summary"]
    for part, counts in summary.items():
        for corpus in ("urdu", "emodb"):
            per_class = [n for key, n in counts.items() if key.startswith(f"{corpus}:")]
            assert len(set(per_class)) == 1, (part, corpus, counts)


def test_mcnemar_table_marks_significant_differences(scratch_run, tmp_path, capsys):
    from emo_lobes.evaluation.metrics import classification_metrics, write_test_results

    mcnemar_table = _load("mcnemar_table")
    baseline = json.load(open(os.path.join(scratch_run, "test_results.json")))
    perfect = [dict(p, pred=p["true"]) for p in baseline["predictions"]]
    metrics = classification_metrics([p["true"] for p in perfect], [p["pred"] for p in perfect],
                                     labels=baseline["labels"])
    write_test_results(str(tmp_path), metrics, perfect)
    output = str(tmp_path / "table4.md")
    mcnemar_table.main(["--baseline", f"urdu={scratch_run}", "--system", f"oracle:urdu={tmp_path}",
                        "--system", f"same:urdu={scratch_run}", "--output", output])
    row = [line for line in open(output) if line.startswith("| urdu")][0].split("|")
    errors = sum(p["true"] != p["pred"] for p in baseline["predictions"])
    assert row[4].strip() == ("100.0+" if errors >= 6 else "100.0")  # 6 discordant pairs reach p < 0.05
    assert row[5].strip() == f"{100 * baseline['ua']:.1f}" and float(row[2]) == 25.0
    with pytest.raises(SystemExit):
        mcnemar_table.main(["--baseline", f"urdu={scratch_run}", "--system", f"x:emodb={scratch_run}"])
    assert "has no baseline" in capsys.readouterr().err
