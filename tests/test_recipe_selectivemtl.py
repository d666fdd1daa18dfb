"""Tests of the SelectiveMTL recipe: data prep rules, the selective MTL loss, and short runs of every experiment."""
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.errors import EmoLobesError
from emo_lobes.lobes.blstm_attention import BLSTMAttentionEncoder
from emo_lobes.lobes.selective_mtl_loss import SelectiveMTLLoss
from emo_lobes.data.synthetic import write_corpus
from emo_lobes.data.synthetic.csv_corpora import SPONT_FILLERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.benchmarks._common import load_recipe_modules  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "SelectiveMTL")
NEUTRAL = 3  # index of neutral in the recipe's emotion list
#: Tiny model and short audio so one run takes seconds on 2 CPU cores.
TINY = ["--number_of_epochs=1", "--lstm_size=8", "--lstm_layers=2", "--attention_size=8", "--attention_heads=2",
        "--dense1_size=16", "--dense2_size=8", "--max_duration=2.0", "--batch_size=64"]
#: One thread per run: a tiny model gains nothing from more, and threads spinning on a shared machine cost a lot.
ENV = dict(os.environ, OMP_NUM_THREADS="1")


prepare, make_tables = load_recipe_modules("SelectiveMTL", "prepare", "make_tables")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("selectivemtl_data"))
    write_corpus("iemocap", root)
    write_corpus("spont", root)
    return root


@pytest.fixture(scope="module")
def spont_records(data_root):
    return parse_corpus("csv", os.path.join(data_root, "SPONT")).records


# ---- data preparation -------------------------------------------------------------------------------------

def test_iemocap_four_classes_merge_excited(data_root):
    records = parse_corpus("iemocap", os.path.join(data_root, "IEMOCAP_full_release")).records
    kept = prepare.iemocap_four_class(records)
    raw = {emotion: sum(r["emotion"] == emotion for r in records) for emotion in ("happy", "excited", "angry")}
    counts = {emotion: sum(r["emotion"] == emotion for r in kept) for emotion in prepare.EMOTIONS}
    assert raw["excited"] > 0 and counts["happy"] == raw["happy"] + raw["excited"]
    assert counts["angry"] == raw["angry"]
    assert sum(counts.values()) == len(kept) < len(records)  # frustration, undecided ... are dropped


def test_spontaneous_filters(spont_records):
    kept, dropped = prepare.filter_spontaneous(spont_records, drop_all_disagree=True, max_neutral=20,
                                               min_duration=1.0, filler_transcripts=SPONT_FILLERS, seed=3)
    assert dropped["all_annotators_disagree"] > 0 and dropped["filler_transcript"] + dropped[
        "shorter_than_min_duration"] > 0 and dropped["neutral_over_cap"] > 0
    assert len(kept) + sum(dropped.values()) == len(spont_records)
    assert not any(prepare.annotators_all_disagree(r["annotations"]) for r in kept)
    assert not any(prepare.normalise_transcript(r["text"]) in SPONT_FILLERS for r in kept)
    assert min(r["duration"] for r in kept) >= 1.0
    assert sum(r["emotion"] == "neutral" for r in kept) == 20
    assert {r["emotion"] for r in kept} <= set(prepare.EMOTIONS)
    assert any(r["duration"] > 7.5 for r in kept)  # long utterances stay (cut to 7.5 s at load time)
    again, _ = prepare.filter_spontaneous(spont_records, max_neutral=20, min_duration=1.0,
                                          filler_transcripts=SPONT_FILLERS, seed=3)
    assert [r["id"] for r in again] == [r["id"] for r in kept]  # deterministic from the seed
    unfiltered, _ = prepare.filter_spontaneous(spont_records, drop_all_disagree=False, max_neutral=None)
    assert len(unfiltered) == len(spont_records)


def test_folds_are_speaker_independent_and_cover_each_corpus(data_root, spont_records):
    iemocap = prepare.iemocap_four_class(
        parse_corpus("iemocap", os.path.join(data_root, "IEMOCAP_full_release")).records)
    spont, _ = prepare.filter_spontaneous(spont_records, filler_transcripts=SPONT_FILLERS)
    for corpus, records in (("iemocap", iemocap), ("spont", spont)):
        speaker = {r["id"]: r["speaker"] for r in records}
        tested = []
        for fold in range(1, 6):
            split = prepare.corpus_fold(corpus, records, fold)
            groups = [{speaker[u] for u in split[part]} for part in ("train", "dev", "test")]
            assert all(groups) and not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
            if corpus == "iemocap":  # leave-one-session-out: fold k tests session k
                assert groups[2] == {f"Ses0{fold}F", f"Ses0{fold}M"} and len(groups[1]) == 1
            tested += split["test"]
        assert sorted(tested) == sorted(speaker)  # every utterance is tested exactly once
    no_speakers = [dict(r, speaker="spont_unknown") for r in spont]
    assert prepare.corpus_fold("spont", no_speakers, 2)["name"] == "random_fold_2"  # paper: random parts
    with pytest.raises(EmoLobesError, match="fold 6"):
        prepare.corpus_fold("spont", spont, 6)


def test_prepare_writes_fold_manifests_and_halves(data_root, tmp_path):
    folders = {"iemocap_folder": os.path.join(data_root, "IEMOCAP_full_release"),
               "spont_folder": os.path.join(data_root, "SPONT"), "spont_filler_transcripts": SPONT_FILLERS}
    full = prepare.prepare_selective_mtl(str(tmp_path / "full"), ["iemocap", "spont"], 2, **folders)
    half = prepare.prepare_selective_mtl(str(tmp_path / "half"), ["iemocap", "spont"], 2, half_training_set=True,
                                         **folders)
    manifest = json.load(open(tmp_path / "full" / "test_spont.json"))
    entry = next(iter(manifest.values()))
    assert entry["wav"].startswith("{spont_root}/") and entry["style"] == "spontaneous" and entry["corpus"] == "spont"
    assert json.load(open(tmp_path / "full" / "train_iemocap.json")).popitem()[1]["style"] == "acted"
    full_train = sum(full["partition_sizes"][c]["train"] for c in ("iemocap", "spont"))
    half_train = sum(half["partition_sizes"][c]["train"] for c in ("iemocap", "spont"))
    assert half_train == full_train // 2 or half_train == (full_train + 1) // 2
    for corpus in ("iemocap", "spont"):
        assert half["partition_sizes"][corpus]["test"] == full["partition_sizes"][corpus]["test"]
        assert half["partition_sizes"][corpus]["train"] > 0
    assert full["splits"]["iemocap"]["test_speakers"] == ["Ses02F", "Ses02M"]


def test_prepare_skips_when_current_and_rebuilds_on_change(data_root, tmp_path):
    save = str(tmp_path / "prep")
    options = {"spont_folder": os.path.join(data_root, "SPONT"), "spont_filler_transcripts": SPONT_FILLERS}
    prepare.prepare_selective_mtl(save, ["spont"], 1, **options)
    stamp = os.path.getmtime(os.path.join(save, "train_spont.json"))
    prepare.prepare_selective_mtl(save, ["spont"], 1, **options)
    assert os.path.getmtime(os.path.join(save, "train_spont.json")) == stamp
    capped = prepare.prepare_selective_mtl(save, ["spont"], 1, spont_max_neutral=10, **options)
    assert capped["class_counts"]["spont"]["neutral"] == 10


def test_prepare_rejects_bad_input(data_root, tmp_path):
    with pytest.raises(EmoLobesError, match="corpora"):
        prepare.prepare_selective_mtl(str(tmp_path / "a"), ["emodb"], 1)
    with pytest.raises(EmoLobesError, match="spont_folder"):
        prepare.prepare_selective_mtl(str(tmp_path / "b"), ["spont"], 1)
    spont = os.path.join(data_root, "SPONT")
    with pytest.raises(EmoLobesError, match="data folder"):
        prepare.prepare_selective_mtl(os.path.join(spont, "prep"), ["spont"], 1, spont_folder=spont)


# ---- selective MTL loss (eq. 3) ---------------------------------------------------------------------------

def _style_head_gradient(emotions, style_free_classes):
    torch.manual_seed(0)
    encoder = BLSTMAttentionEncoder(input_size=40, lstm_size=4, attention_size=4, attention_heads=2, dense_sizes=(8,))
    emotion_head, style_head = torch.nn.Linear(8, 4), torch.nn.Linear(8, 2)
    shared = encoder(torch.randn(len(emotions), 12, 40))
    loss = SelectiveMTLLoss(0.8, style_free_classes)(
        emotion_head(shared), torch.tensor(emotions), style_head(shared), torch.tensor([0, 1] * (len(emotions) // 2)))
    loss.backward()
    return torch.cat([style_head.weight.grad.flatten(), style_head.bias.grad]), emotion_head.weight.grad


def test_selective_loss_gives_style_head_no_gradient_on_neutral_batch():
    style_grad, emotion_grad = _style_head_gradient([NEUTRAL] * 4, [NEUTRAL])
    assert torch.count_nonzero(style_grad) == 0 and torch.count_nonzero(emotion_grad) > 0
    style_grad, _ = _style_head_gradient([NEUTRAL, 0, NEUTRAL, 2], [NEUTRAL])
    assert style_grad.abs().sum() > 0
    style_grad, _ = _style_head_gradient([NEUTRAL] * 4, [])  # standard MTL learns style from neutral too
    assert style_grad.abs().sum() > 0


def test_selective_loss_values():
    torch.manual_seed(1)
    emotion_logits, style_logits = torch.randn(6, 4), torch.randn(6, 2)
    emotions, styles = torch.tensor([[0], [3], [1], [3], [2], [0]]), torch.tensor([[0], [0], [1], [1], [0], [1]])
    ser = F.cross_entropy(emotion_logits, emotions.flatten(), reduction="none")
    style = F.cross_entropy(style_logits, styles.flatten(), reduction="none")
    neutral = emotions.flatten() == NEUTRAL
    expected = torch.where(neutral, ser, 0.7 * ser + 0.3 * style).mean()  # lambda = 1 for neutral (Section 2.3)
    selective = SelectiveMTLLoss(0.7, [NEUTRAL])(emotion_logits, emotions, style_logits, styles)
    assert torch.allclose(selective, expected)
    standard = SelectiveMTLLoss(0.7)(emotion_logits, emotions, style_logits, styles)
    assert torch.allclose(standard, (0.7 * ser + 0.3 * style).mean())
    assert torch.allclose(SelectiveMTLLoss(1.0)(emotion_logits, emotions, style_logits, styles), ser.mean())
    assert torch.allclose(SelectiveMTLLoss(0.5)(emotion_logits, emotions), ser.mean())  # no style head
    with pytest.raises(ValueError):
        SelectiveMTLLoss(1.5)


# ---- end-to-end runs of every experiment --------------------------------------------------------------------

#: name -> (hparams file, overrides, corpora, run from inside the recipe folder).
EXPERIMENTS = {
    "baseline_iemocap": ("baseline.yaml", ["--baseline_corpus=iemocap"], ["iemocap"], False),
    "baseline_spont": ("baseline.yaml", ["--baseline_corpus=spont"], ["spont"], False),
    "combined_half": ("combined.yaml", ["--half_training_set=True"], ["iemocap", "spont"], False),
    "mtl": ("mtl.yaml", [], ["iemocap", "spont"], False),
    "selective_mtl": ("selective_mtl.yaml", ["--ser_weight=0.6"], ["iemocap", "spont"], True),
}


@pytest.fixture(scope="module")
def runs(data_root, tmp_path_factory):
    # All runs at once: each is single-threaded, so on 2 cores they finish in about half the sequential time.
    results = str(tmp_path_factory.mktemp("selectivemtl_results"))
    started = {}
    for name, (hparams, overrides, _, inside) in EXPERIMENTS.items():
        output = os.path.join(results, name, "1986", "fold_1")
        script, hparams_path = (("train.py", os.path.join("hparams", hparams)) if inside else
                                (os.path.join(RECIPE, "train.py"), os.path.join(RECIPE, "hparams", hparams)))
        command = [sys.executable, script, hparams_path, f"--data_folder={data_root}", f"--output_folder={output}",
                   *TINY, *overrides]
        log = open(os.path.join(results, f"{name}.log"), "w+")
        started[name] = (output, log, subprocess.Popen(command, cwd=RECIPE if inside else ROOT, stdout=log,
                                                        stderr=subprocess.STDOUT, text=True, env=ENV))
    outcomes = {}
    for name, (output, log, process) in started.items():
        code = process.wait(timeout=300)
        log.seek(0)
        outcomes[name] = (output, code, log.read())
        log.close()
    return results, outcomes


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_runs_and_writes_test_results(runs, name):
    output, code, log = runs[1][name]
    assert code == 0, log[-4000:]
    corpora = EXPERIMENTS[name][2]
    results = json.load(open(os.path.join(output, "test_results.json")))
    assert sorted(results["per_corpus"]) == corpora and results["corpora"] == corpora
    test_ids = set()
    for corpus in corpora:
        test_ids |= set(json.load(open(os.path.join(output, "prep", f"test_{corpus}.json"))))
        metrics = results["per_corpus"][corpus]
        assert set(metrics["per_class_recall"]) == set(prepare.EMOTIONS) and 0 <= metrics["ua"] <= 1
    assert {p["id"] for p in results["predictions"]} == test_ids and results["n"] == len(test_ids)
    mean_ua = sum(m["ua"] for m in results["per_corpus"].values()) / len(corpora)
    assert results["corpus_mean"]["ua"] == pytest.approx(mean_ua)
    mtl = name in ("mtl", "selective_mtl")
    assert (results["style_accuracy"] is not None) == mtl and results["style_task"] == mtl
    if mtl:
        assert all(p["style_true"] in ("acted", "spontaneous") for p in results["predictions"])
    assert results["selective"] == (name == "selective_mtl")
    assert results["half_training_set"] == (name == "combined_half")
    assert "[prep] iemocap" in log or "iemocap" not in corpora  # counts printed at prep


def test_selective_run_uses_lambda_override_and_half_really_halves(runs):
    results = json.load(open(os.path.join(runs[1]["selective_mtl"][0], "test_results.json")))
    assert results["ser_weight"] == 0.6 and results["experiment"] == "selective_mtl"
    half = json.load(open(os.path.join(runs[1]["combined_half"][0], "prep", "prep_summary.json")))
    full = json.load(open(os.path.join(runs[1]["mtl"][0], "prep", "prep_summary.json")))
    assert sum(half["partition_sizes"][c]["train"] for c in ("iemocap", "spont")) < 0.6 * sum(
        full["partition_sizes"][c]["train"] for c in ("iemocap", "spont"))


def test_make_tables_reads_the_runs(runs, tmp_path):
    output = str(tmp_path / "tables.md")
    make_tables.main(["--results_folder", runs[0], "--seed", "1986", "--output", output])
    text = open(output).read()
    for title in ("Table 3", "Table 4", "Table 5", "Style recognition"):
        assert title in text
    assert "Baseline: ACT+SPON (separate)" in text and "Selective MTL: ACT+SPON" in text
    assert "UA % (paper)" in text and "62.7" in text  # the paper's selective MTL UA beside ours
    assert "Combined (half)" in text and "MTL: ACT+SPON (half)" not in text  # rows only for runs that exist


def test_recipe_doctests_and_mtl_without_style_loss_fails_in_one_line(data_root, tmp_path):
    doctests = subprocess.Popen([sys.executable, "-m", "doctest", "-o", "ELLIPSIS", "-o", "NORMALIZE_WHITESPACE",
                                 "prepare.py", "make_tables.py", "train.py"], cwd=RECIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=ENV)
    bad = subprocess.run([sys.executable, os.path.join(RECIPE, "train.py"), os.path.join(RECIPE, "hparams", "mtl.yaml"),
                          f"--data_folder={data_root}", f"--output_folder={tmp_path}", "--ser_weight=1.0"],
                         cwd=ROOT, capture_output=True, text=True, env=ENV)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].startswith("error: ser_weight 1.0")
    output, _ = doctests.communicate(timeout=300)
    assert doctests.returncode == 0, output[-3000:]
