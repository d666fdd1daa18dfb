"""Tests of the SelectiveMTL recipe: data prep rules, the selective MTL loss, and short runs of every experiment."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hyperpyyaml import load_hyperpyyaml

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.data.declarations import load_corpus_split
from emo_lobes.data.splits import read_split_file
from emo_lobes.errors import EmoLobesError
from emo_lobes.inference.classifier import EmotionClassifier
from emo_lobes.lobes.blstm_attention import BLSTMAttentionEncoder
from emo_lobes.lobes.selective_mtl_loss import SelectiveMTLLoss
from emo_lobes.data.synthetic import write_corpus
from emo_lobes.data.synthetic.csv_corpora import SPONT_FILLERS
from split_checks import tested_wavs

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

#: The corpora of hparams/selective_mtl.yaml (the declarations every two-corpus experiment shares).
with open(os.path.join(RECIPE, "hparams", "selective_mtl.yaml"), encoding="utf-8") as _handle:
    CORPORA = load_hyperpyyaml(_handle, {"data_folder": "unused", "lstm_size": 4, "attention_size": 4,
                                         "attention_heads": 2, "dense1_size": 4, "dense2_size": 4})["corpora"]


def declarations(data_root, corpus=None, **changes):
    """The recipe's declarations over ``data_root`` (``changes``: ``{corpus: {key: value}}`` merged in)."""
    corpora = {name: dict(spec, **changes.get(name, {})) for name, spec in CORPORA.items()}
    return prepare.recipe_declarations(corpora, data_root, corpus=corpus)


def test_iemocap_four_classes_merge_excited(data_root):
    records = parse_corpus("iemocap", os.path.join(data_root, "IEMOCAP_full_release")).records
    for decls, _ in (declarations(data_root), prepare.recipe_declarations({}, data_root, corpus="iemocap")):
        kept = load_corpus_split(decls["iemocap"], fold=1).records  # declared, and the paper's default
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
    assert any(r["duration"] > 7.5 for r in kept)  # long utterances stay (cut to 7.5 s at load time)
    again, _ = prepare.filter_spontaneous(spont_records, max_neutral=20, min_duration=1.0,
                                          filler_transcripts=SPONT_FILLERS, seed=3)
    assert [r["id"] for r in again] == [r["id"] for r in kept]  # deterministic from the seed
    unfiltered, _ = prepare.filter_spontaneous(spont_records, drop_all_disagree=False, max_neutral=None)
    assert len(unfiltered) == len(spont_records)


def test_folds_are_speaker_independent_and_cover_each_corpus(data_root):
    decls, _ = declarations(data_root)
    for corpus, decl in decls.items():
        tested = []
        for fold in range(1, 6):
            data = load_corpus_split(decl, fold, seed=1986)
            speaker = {r["id"]: r["speaker"] for r in data.records}
            train_speakers, dev, test = [{speaker[u] for u in data.split[part]} for part in ("train", "dev", "test")]
            assert train_speakers and test and not dev and not train_speakers & test  # the paper: no dev set
            if corpus == "iemocap":  # leave-one-session-out: fold k tests session k, the 4 others (8 speakers) train
                assert test == {f"Ses0{fold}F", f"Ses0{fold}M"}
                assert len(train_speakers) == 8 and {s[:5] for s in train_speakers} == {
                    f"Ses0{k}" for k in range(1, 6) if k != fold}
            else:
                assert train_speakers | test == set(speaker.values())
            tested += data.split["test"]
        assert sorted(tested) == sorted(speaker)  # every utterance is tested exactly once
    with pytest.raises(EmoLobesError, match="fold 6"):
        load_corpus_split(decls["spont"], 6)


def test_model_selection_on_a_dev_speaker_is_an_option(data_root):
    dev_rules = {"iemocap": {"split": {"method": "loso_session", "dev": "next_session_speaker"}},
                 "spont": {"split": {"method": "speaker_kfold", "k": 5, "dev": {"speaker_fraction": 0.1}}}}
    decls, _ = declarations(data_root, **dev_rules)
    for corpus, decl in decls.items():
        data = load_corpus_split(decl, 1, seed=1986)
        speaker = {r["id"]: r["speaker"] for r in data.records}
        train_speakers, dev, test = [{speaker[u] for u in data.split[part]} for part in ("train", "dev", "test")]
        assert dev and not (train_speakers & dev or dev & test or train_speakers & test)
        if corpus == "iemocap":
            assert len(dev) == 1 and len(train_speakers) == 7
    for defaults in (prepare.PAPER_DEFAULTS["iemocap"], prepare.OTHER_CORPUS_DEFAULTS):
        assert defaults["split"]["dev"] == "none"  # the paper's protocol for corpora a run names undeclared


def test_style_comes_from_the_declaration_or_the_records(data_root, tmp_path):
    assert prepare.split_styles(CORPORA)[1] == {"spont": "spontaneous"}
    decls, styles = declarations(data_root)
    summary = prepare.prepare_selective_mtl(str(tmp_path / "a"), decls, 1, styles=styles)
    assert summary["styles"] == {"iemocap": "acted", "spont": "spontaneous"}
    # declared acted: no spontaneous cleaning, acted style labels
    decls, styles = declarations(data_root, spont={"style": "acted"})
    summary = prepare.prepare_selective_mtl(str(tmp_path / "b"), decls, 1, styles=styles)
    assert summary["styles"]["spont"] == "acted" and "filler_transcript" not in summary["dropped"]["spont"]
    with pytest.raises(EmoLobesError, match="corpus spont is declared 'sung'"):
        decls, styles = declarations(data_root, spont={"style": "sung"})
        prepare.prepare_selective_mtl(str(tmp_path / "c"), decls, 1, styles=styles)


def test_prepare_writes_fold_manifests_splits_and_halves(data_root, tmp_path):
    decls, styles = declarations(data_root)
    options = {"styles": styles, "spont_filler_transcripts": SPONT_FILLERS, "seed": 1986}
    full = prepare.prepare_selective_mtl(str(tmp_path / "full"), decls, 2, output_folder=str(tmp_path / "run"),
                                         **options)
    half = prepare.prepare_selective_mtl(str(tmp_path / "half"), decls, 2, half_training_set=True, **options)
    manifest = json.load(open(tmp_path / "full" / "test_spont.json"))
    entry = next(iter(manifest.values()))
    assert entry["wav"].startswith("{spont_root}/") and entry["style"] == "spontaneous" and entry["corpus"] == "spont"
    assert entry["wav"] == "{spont_root}/" + entry["rel_wav"]
    assert json.load(open(tmp_path / "full" / "train_iemocap.json")).popitem()[1]["style"] == "acted"
    full_train = sum(full["partition_sizes"][c]["train"] for c in ("iemocap", "spont"))
    half_train = sum(half["partition_sizes"][c]["train"] for c in ("iemocap", "spont"))
    assert half_train == full_train // 2 or half_train == (full_train + 1) // 2
    for corpus in ("iemocap", "spont"):
        assert half["partition_sizes"][corpus]["test"] == full["partition_sizes"][corpus]["test"]
        assert half["partition_sizes"][corpus]["train"] > 0
        # the split used is copied to the run's output folder, in split-file form, halved where halved
        copied = read_split_file(str(tmp_path / "run" / "splits" / f"{corpus}.json"))[0]
        assert sorted(copied["test"]) == sorted(e["rel_wav"] for e in json.load(
            open(tmp_path / "full" / f"test_{corpus}.json")).values())
        halved = read_split_file(str(tmp_path / "half" / "splits" / f"{corpus}.json"))[0]
        assert len(halved["train"]) == half["partition_sizes"][corpus]["train"] < len(copied["train"])
    assert full["split"]["iemocap"]["test_speakers"] == ["Ses02F", "Ses02M"]
    assert full["split"]["spont"]["speaker_independent"] and full["split"]["spont"]["method"] == "speaker_kfold"


def test_prepare_skips_when_current_and_rebuilds_on_change(data_root, tmp_path):
    save = str(tmp_path / "prep")
    decls, styles = declarations(data_root, corpus="spont")
    options = {"styles": styles, "spont_filler_transcripts": SPONT_FILLERS}
    prepare.prepare_selective_mtl(save, decls, 1, **options)
    stamp = os.path.getmtime(os.path.join(save, "train_spont.json"))
    prepare.prepare_selective_mtl(save, decls, 1, **options)
    assert os.path.getmtime(os.path.join(save, "train_spont.json")) == stamp
    capped = prepare.prepare_selective_mtl(save, decls, 1, spont_max_neutral=10, **options)
    assert capped["class_counts"]["spont"]["neutral"] == 10
    decls, styles = declarations(data_root, corpus="spont", spont={"split": {"method": "random_kfold", "k": 5}})
    rebuilt = prepare.prepare_selective_mtl(save, decls, 1, **options)  # a changed declaration re-runs prep
    assert rebuilt["split"]["spont"]["method"] == "random_kfold"


def test_prepare_rejects_bad_input(data_root, tmp_path):
    with pytest.raises(EmoLobesError, match="neither declared in corpora"):
        prepare.recipe_declarations(CORPORA, data_root, corpus="calls")
    decls, styles = declarations(str(tmp_path / "nowhere"))
    with pytest.raises(EmoLobesError, match="corpus folders missing: .*IEMOCAP_full_release .iemocap."):
        prepare.prepare_selective_mtl(str(tmp_path / "b"), decls, 1, styles=styles)
    decls, styles = declarations(data_root, corpus="spont")
    with pytest.raises(EmoLobesError, match="data folder"):
        prepare.prepare_selective_mtl(os.path.join(data_root, "SPONT", "prep"), decls, 1, styles=styles)
    decls, styles = declarations(data_root, iemocap={"emotions": ["angry", "sad", "happy", "neutral", "bored"]})
    with pytest.raises(EmoLobesError, match="corpus iemocap has no utterance of the asked class 'bored'"):
        prepare.prepare_selective_mtl(str(tmp_path / "c"), decls, 1, styles=styles)


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
    "baseline_iemocap": ("baseline.yaml", ["--corpus=iemocap"], ["iemocap"], False),
    "baseline_spont": ("baseline.yaml", ["--corpus=spont"], ["spont"], False),
    "combined_half": ("combined.yaml", ["--half_training_set=True"], ["iemocap", "spont"], False),
    "mtl": ("mtl.yaml", [], ["iemocap", "spont"], False),
    "selective_mtl": ("selective_mtl.yaml", ["--ser_weight=0.6"], ["iemocap", "spont"], True),
}
#: Runs on other splits (in ``<results>/other/``, out of the tables' way): name -> (hparams file, overrides).
#: ``{iemocap}`` and ``{spont}`` are split files written by :func:`custom_split_files`.
OTHER_SPLITS = {
    # each corpus its own split file (a form override also drops the hparams' method and dev rule)
    "split_files": ("mtl.yaml", ["--corpora={{iemocap: {{split: {{file: {iemocap}, method: null, dev: null}}}}, "
                                 "spont: {{split: {{file: {spont}, method: null, dev: null}}}}}}"]),
    # a single-corpus run: --split_file, and --data_folder the corpus root itself
    "baseline_split_file": ("baseline.yaml", ["--corpus=spont", "--data_folder={root}/SPONT",
                                              "--split_file={spont}"]),
    # no dev set: the epochs of number_of_epochs, the last one tested
    "no_dev": ("combined.yaml", ["--number_of_epochs=2", "--corpora={{iemocap: {{split: {{dev: none}}}}, "
                                 "spont: {{split: {{dev: none}}}}}}"]),
}


def custom_split_files(data_root, folder):
    """Split files unlike any generated fold: IEMOCAP tests session 3 with dev Ses05M; the spontaneous corpus tests
    its last three callers, without a dev list (the recipe's dev rule draws one).

    Written from the wav paths of the recipe's own prep (the spontaneous corpus after its cleaning).
    Returns ``{corpus: (path, set of test wavs)}``.
    """
    decls, styles = declarations(data_root)
    prep = os.path.join(folder, "prep")
    prepare.prepare_selective_mtl(prep, decls, 1, styles=styles, spont_filler_transcripts=SPONT_FILLERS)
    files = {}
    for corpus in decls:
        speaker_of = {}
        for part in ("train", "dev", "test"):
            manifest = json.load(open(os.path.join(prep, f"{part}_{corpus}.json")))
            speaker_of.update({entry["rel_wav"]: entry["speaker"] for entry in manifest.values()})
        speakers = sorted(set(speaker_of.values()))
        test, dev = ({"Ses03F", "Ses03M"}, {"Ses05M"}) if corpus == "iemocap" else (set(speakers[-3:]), set())
        lists = {"train": sorted(w for w, s in speaker_of.items() if s not in test | dev),
                 "test": sorted(w for w, s in speaker_of.items() if s in test)}
        if dev:
            lists["dev"] = sorted(w for w, s in speaker_of.items() if s in dev)
        path = os.path.join(folder, f"{corpus}_split.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(lists, handle)
        files[corpus] = (path, set(lists["test"]))
    return files


@pytest.fixture(scope="module")
def runs(data_root, tmp_path_factory):
    # All runs at once: each is single-threaded, so on 2 cores they finish in about half the sequential time.
    results = str(tmp_path_factory.mktemp("selectivemtl_results"))
    files = custom_split_files(data_root, os.path.join(results, "other"))
    fill = {"root": data_root, **{corpus: path for corpus, (path, _) in files.items()}}
    planned = {name: (hparams, overrides, inside, os.path.join(results, name, "1986", "fold_1"))
               for name, (hparams, overrides, _, inside) in EXPERIMENTS.items()}
    planned.update({name: (hparams, [o.format(**fill) for o in overrides], False, os.path.join(results, "other", name))
                    for name, (hparams, overrides) in OTHER_SPLITS.items()})
    started = {}
    for name, (hparams, overrides, inside, output) in planned.items():
        script, hparams_path = (("train.py", os.path.join("hparams", hparams)) if inside else
                                (os.path.join(RECIPE, "train.py"), os.path.join(RECIPE, "hparams", hparams)))
        given = {o.split("=", 1)[0] for o in overrides}
        defaults = [f"--data_folder={data_root}", *TINY]
        command = [sys.executable, script, hparams_path, *[o for o in defaults if o.split("=", 1)[0] not in given],
                   f"--output_folder={output}", *overrides]
        log = open(os.path.join(results, f"{name}.log"), "w+")
        started[name] = (output, log, subprocess.Popen(command, cwd=RECIPE if inside else ROOT, stdout=log,
                                                        stderr=subprocess.STDOUT, text=True, env=ENV))
    outcomes = {}
    for name, (output, log, process) in started.items():
        code = process.wait(timeout=300)
        log.seek(0)
        outcomes[name] = (output, code, log.read())
        log.close()
    return results, outcomes, files


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


def finished_run(runs, name):
    output, code, log = runs[1][name]
    assert code == 0, log[-4000:]
    return output, json.load(open(os.path.join(output, "test_results.json")))


@pytest.mark.parametrize("name", sorted(EXPERIMENTS) + sorted(OTHER_SPLITS))
def test_every_run_records_its_split_and_each_prediction_its_file(runs, name):
    output, results = finished_run(runs, name)
    corpora = results["corpora"]
    assert set(results["split"]) == set(corpora) and all(p["corpus"] in corpora for p in results["predictions"])
    for corpus in corpora:  # the splits/ copy holds exactly the utterances tested (wav relative to the corpus root)
        copied = read_split_file(os.path.join(output, "splits", f"{corpus}.json"))[0]
        assert tested_wavs(output, corpus) == set(copied["test"])
        assert results["split"][corpus]["n"]["test"] == len(copied["test"]) and "speaker_independent" in results[
            "split"][corpus]
        assert all(not os.path.isabs(p["wav"]) for p in results["predictions"])


@pytest.mark.parametrize("name, corpora", [("split_files", ["iemocap", "spont"]), ("baseline_split_file", ["spont"])])
def test_split_files_decide_exactly_what_is_tested(runs, name, corpora):
    output, results = finished_run(runs, name)
    files = runs[2]
    assert results["corpora"] == corpora
    for corpus in corpora:
        assert tested_wavs(output, corpus) == files[corpus][1]  # exactly the file's test set, per corpus
        assert results["split"][corpus]["method"] == "file"
    if "iemocap" in corpora:  # the file's dev list is kept
        assert results["split"]["iemocap"]["dev_speakers"] == ["Ses05M"]
    assert results["split"]["spont"]["n"]["dev"] > 0  # no dev list: drawn by the dev rule


def test_without_dev_set_the_last_epoch_is_tested(runs):
    output, results = finished_run(runs, "no_dev")
    assert results["tested_checkpoint"] == "last_epoch" and results["epoch"] == 2
    assert all(results["split"][corpus]["n"]["dev"] == 0 for corpus in ("iemocap", "spont"))
    log = open(os.path.join(output, "train_log.txt")).read()
    assert "epoch: 2 - train loss" in log and "valid" not in log
    saved = [d for d in os.listdir(os.path.join(output, "save")) if d.startswith("CKPT")]
    assert len(saved) == 1  # the last epoch's


def test_classifier_of_a_run_without_dev_set_reads_its_last_epoch(runs, data_root):
    output, results = finished_run(runs, "no_dev")
    folders = {"iemocap": "IEMOCAP_full_release", "spont": "SPONT"}
    tested = results["predictions"][:3] + results["predictions"][-3:]  # both corpora
    files = [os.path.join(data_root, folders[p["corpus"]], p["wav"]) for p in tested]
    for classifier in (EmotionClassifier.from_experiment(output, device="cpu"),
                       EmotionClassifier.from_hparams(source=os.path.join(output, "model"))):  # the packaged model
        for result, prediction in zip(classifier.classify_files(files), tested):
            assert np.allclose(list(result["probabilities"].values()), prediction["probs"], atol=1e-4)


def test_two_corpora_refuse_split_file_in_one_line(data_root, tmp_path):
    hparams = os.path.join(RECIPE, "hparams", "mtl.yaml")
    proc = subprocess.run([sys.executable, os.path.join(RECIPE, "train.py"), hparams, f"--data_folder={data_root}",
                           f"--output_folder={tmp_path}", "--split_file=x.json"],
                          cwd=ROOT, capture_output=True, text=True, env=ENV)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: --split_file is for single-corpus runs, but this run uses iemocap, spont. Fix: give each corpus "
        "its own split: corpora.<name>.split: {file: PATH}")


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


def _numpy_logfbank(signal, sample_rate=16000, n_filters=40, n_fft=512, preemph=0.97):
    """python_speech_features' logfbank written out directly in numpy (its default settings), for one signal."""
    emphasized = np.append(signal[0], signal[1:] - preemph * signal[:-1])
    frame_length, frame_step = 400, 160
    n_frames = 1 + int(np.ceil((len(signal) - frame_length) / frame_step))
    emphasized = np.concatenate([emphasized, np.zeros((n_frames - 1) * frame_step + frame_length - len(signal))])
    frames = np.stack([emphasized[i * frame_step: i * frame_step + frame_length] for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2 / n_fft
    mel = np.linspace(0, 2595 * np.log10(1 + (sample_rate / 2) / 700), n_filters + 2)
    bins = np.floor((n_fft + 1) * 700 * (10 ** (mel / 2595) - 1) / sample_rate)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        for i in range(int(bins[j]), int(bins[j + 1])):
            bank[j, i] = (i - bins[j]) / (bins[j + 1] - bins[j])
        for i in range(int(bins[j + 1]), int(bins[j + 2])):
            bank[j, i] = (bins[j + 2] - i) / (bins[j + 2] - bins[j + 1])
    energies = power @ bank.T
    return np.log(np.where(energies == 0, np.finfo(float).eps, energies))


def test_paper_front_end_is_python_speech_features_logfbank():
    from emo_lobes.features.pysf_logfbank import PysfLogFbank

    rng = np.random.default_rng(0)
    signal = rng.standard_normal(4000).astype(np.float32) * 0.1  # 0.25 s
    frontend = PysfLogFbank(16000, n_filters=40)
    ours = frontend(torch.from_numpy(signal)[None]).double()[0].numpy()
    assert ours.shape == (1 + int(np.ceil((4000 - 400) / 160)), 40)
    assert np.allclose(ours, _numpy_logfbank(signal.astype(np.float64)), atol=1e-3)
    # pre-emphasis and the natural log are applied: without them the numbers differ
    assert not np.allclose(ours, _numpy_logfbank(signal.astype(np.float64), preemph=0.0), atol=1e-2)
    assert np.allclose(np.exp(ours), np.exp(_numpy_logfbank(signal.astype(np.float64))), rtol=1e-3)
    # the paper's 7.5 s input, a batch
    assert frontend(torch.zeros(2, 120000)).shape == (2, 749, 40)
    hparams = load_hyperpyyaml(open(os.path.join(RECIPE, "hparams", "selective_mtl.yaml")),
                               {"data_folder": "unused", "paper_features": True})
    assert isinstance(hparams["paper_compute_features"], PysfLogFbank) and hparams["n_mels"] == 40
