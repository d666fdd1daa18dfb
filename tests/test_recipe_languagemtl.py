"""Tests of the Language-ID MTL recipe: label mapping, splits, MTL loss, frozen transfer, baselines, end-to-end runs."""
import glob
import json
import os
import subprocess
import sys

import pytest
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.processing.features import InputNormalization
from speechbrain.utils.epoch_loop import EpochCounter

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.errors import EmoLobesError
from emo_lobes.lobes.lstm_classifier import LSTMClassifier
from emo_lobes.data.synthetic import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.benchmarks._common import load_recipe_modules  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "LanguageMTL")
CORPORA = ("emodb", "savee", "emovo", "masc", "iemocap", "urdu")
#: Tiny model and training for end-to-end runs.
TINY = ["--hidden_size=8", "--number_of_epochs=2", "--batch_size=16", "--noprogressbar", "--cpu_threads=1"]


prepare, train, svm_baselines, make_tables = load_recipe_modules("LanguageMTL", "prepare", "train", "svm_baselines",
                                                                 "make_tables")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("languagemtl_data")
    for corpus in CORPORA:
        write_corpus(corpus, str(root))
    return str(root)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("languagemtl_runs")


def parsed(corpus, data_root):
    spec = prepare.CORPORA[corpus]
    return parse_corpus(spec["parser"], os.path.join(data_root, spec["folder"]), **spec["options"]).records


# Each corpus's own labels -> the recipe's five classes (everything else dropped).
EXPECTED_MAPPING = {
    "emodb": {"W": "anger", "F": "happy", "T": "sad", "A": "fear", "N": "neutral"},
    "savee": {"a": "anger", "h": "happy", "sa": "sad", "f": "fear", "n": "neutral"},
    "emovo": {"rab": "anger", "gio": "happy", "tri": "sad", "pau": "fear", "neu": "neutral"},
    "masc": {"anger": "anger", "elation": "happy", "sadness": "sad", "panic": "fear", "neutral": "neutral"},
    "iemocap": {"ang": "anger", "hap": "happy", "sad": "sad", "fea": "fear", "neu": "neutral"},
    "urdu": {"A": "anger", "H": "happy", "S": "sad", "N": "neutral"},
}
EXPECTED_DROPPED = {
    "emodb": {"boredom", "disgust"}, "savee": {"disgust", "surprise"}, "emovo": {"disgust", "surprise"},
    "masc": set(), "iemocap": {"excited", "frustration", "surprise", "disgust", "other", "undecided"}, "urdu": set(),
}
LANGUAGES = {"emodb": "de", "savee": "en", "emovo": "it", "masc": "zh", "iemocap": "en", "urdu": "ur"}


@pytest.mark.parametrize("corpus", CORPORA)
def test_label_mapping_per_corpus(corpus, data_root):
    records = parsed(corpus, data_root)
    kept, dropped = prepare.five_class_records(records, corpus)
    mapping = {}
    for record in kept:
        assert mapping.setdefault(record["label"], record["emotion"]) == record["emotion"]
    assert mapping == EXPECTED_MAPPING[corpus]
    assert set(dropped) == EXPECTED_DROPPED[corpus]
    assert len(kept) + sum(dropped.values()) == len(records)
    assert {r["language"] for r in kept} == {LANGUAGES[corpus]} and {r["corpus"] for r in kept} == {corpus}
    assert all(r["id"].startswith(f"{corpus}_") for r in kept)


def test_iemocap_excited_merges_into_happy_only_when_asked(data_root):
    records = parsed("iemocap", data_root)
    default, _ = prepare.five_class_records(records, "iemocap")
    merged, dropped = prepare.five_class_records(records, "iemocap", merge_excited=True)
    n_excited = sum(r["emotion"] == "excited" for r in records)
    assert n_excited > 0 and "excited" not in dropped
    assert sum(r["emotion"] == "happy" for r in merged) == sum(r["emotion"] == "happy" for r in default) + n_excited


def test_held_out_speakers_per_corpus_and_rotation(data_root, workdir):
    folders = {c: os.path.join(data_root, prepare.CORPORA[c]["folder"]) for c in CORPORA}
    save = str(workdir / "prep_holdout")
    paths = prepare.prepare_language_mtl(folders, save)
    for corpus in CORPORA:
        split = json.load(open(os.path.join(save, corpus, "split.json")))
        n_test = 2 if corpus in ("masc", "iemocap", "urdu") else 1
        assert len(split["test_speakers"]) == n_test and len(split["dev_speakers"]) == 1
        speakers = {part: set(split[f"{part}_speakers"]) for part in ("train", "dev", "test")}
        assert not (speakers["train"] & speakers["test"]) and not (speakers["dev"] & speakers["test"])
        test = json.load(open(paths[corpus]["test"]))
        assert {entry["speaker"] for entry in test.values()} == speakers["test"]
    savee = [r for r in parsed("savee", data_root)]
    kept, _ = prepare.five_class_records(savee, "savee")
    tested = [prepare.corpus_split(kept, 1, split="loso", fold=k)[0]["test_speakers"][0] for k in range(1, 5)]
    assert sorted(tested) == sorted({r["speaker"] for r in kept})  # LOSO: each speaker tested once


def test_prep_refuses_bad_input(data_root, workdir):
    folder = os.path.join(data_root, "EmoDB")
    with pytest.raises(EmoLobesError, match="unknown corpus"):
        prepare.prepare_language_mtl({"klingon": folder}, str(workdir / "p"))
    with pytest.raises(EmoLobesError, match="inside the data folder"):
        prepare.prepare_language_mtl({"emodb": folder}, os.path.join(folder, "prep"))
    with pytest.raises(EmoLobesError, match="unknown split"):
        prepare.prepare_language_mtl({"emodb": folder}, str(workdir / "p2"), split="random")


def _mtl_brain(task, language_weight):
    torch.manual_seed(0)
    hparams = {"use_lengths": True, "features": "mfcc", "max_frames": 120, "task": task,
               "language_weight": language_weight, "language_classes": ["emodb", "savee", "emovo", "masc", "iemocap"],
               "epoch_counter": EpochCounter(1), "stage_name": "test",
               "error_stats": lambda: sb.utils.metric_stats.MetricStats(
                   metric=lambda p, t: sb.nnet.losses.classification_error(p, t, reduction="batch"))}
    modules = {"model": LSTMClassifier(13, hidden_size=8, n_languages=5), "normalize": InputNormalization()}
    brain = train.LanguageMTLBrain(modules, opt_class=lambda p: torch.optim.SGD(p, 0.1), hparams=hparams,
                                   run_opts={"device": "cpu"})
    batch = PaddedBatch([{"id": f"u{i}", "feats": torch.randn(20 + 10 * i, 13), "emotion_index": torch.LongTensor([i]),
                          "language_index": torch.LongTensor([4 - i]), "corpus": "emodb"} for i in range(4)])
    loss = brain.compute_objectives(brain.compute_forward(batch, sb.Stage.TRAIN), batch, sb.Stage.TRAIN)
    loss.backward()
    return brain.modules.model, loss


def test_mtl_loss_reaches_both_heads_and_the_shared_lstm():
    model, loss = _mtl_brain("multitask", 1.0)
    assert loss.item() > 0
    assert model.emotion_head.weight.grad.abs().sum() > 0
    assert model.language_head.weight.grad.abs().sum() > 0
    single, _ = _mtl_brain("emotion_only", 1.0)
    assert single.language_head.weight.grad is None  # the single-task model never uses the language head
    # The language term changes the gradient reaching the shared LSTM (same seed, same batch).
    lstm_mtl = model.lstm.rnn.weight_ih_l0.grad
    lstm_single = single.lstm.rnn.weight_ih_l0.grad
    assert lstm_mtl.abs().sum() > 0 and not torch.allclose(lstm_mtl, lstm_single)


def test_fine_tuning_changes_only_the_penultimate_layer():
    base = {"model": LSTMClassifier(13, hidden_size=8, extra_dense_size=4), "normalize": InputNormalization()}
    base["normalize"](torch.randn(4, 10, 13), torch.ones(4), epoch=0)  # statistics as after base training
    modules, trainable = train.fine_tune_modules(base, {"train_output_layer": False})
    assert trainable == ["extra_dense.0.weight", "extra_dense.0.bias"]
    before = {k: v.clone() for k, v in modules["model"].state_dict().items()}
    mean_before = modules["normalize"].glob_mean.clone()
    optimizer = torch.optim.Adam([p for p in modules["model"].parameters() if p.requires_grad], lr=0.1)
    modules["model"].train()
    for _ in range(3):
        x = modules["normalize"](torch.randn(4, 10, 13) + 5, torch.ones(4), epoch=1)
        loss = modules["model"](x).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = modules["model"].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("extra_dense"))
    assert not torch.equal(before["extra_dense.0.weight"], after["extra_dense.0.weight"])
    assert torch.equal(mean_before, modules["normalize"].glob_mean)  # normalisation statistics fixed
    assert torch.equal(base["model"].extra_dense[0].weight, before["extra_dense.0.weight"])  # base untouched


def run_recipe(args, cwd=ROOT, script="recipes/LanguageMTL/train.py"):
    result = subprocess.run([sys.executable, script] + args, cwd=cwd, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _common(data_root, workdir, name):
    return [f"--data_folder={data_root}", f"--output_folder={workdir / name}",
            f"--feature_cache_folder={workdir / 'feature_cache'}"] + TINY


def test_multitask_and_single_task_pool_end_to_end(data_root, workdir):
    for task in ("multitask", "emotion_only"):
        run_recipe(["recipes/LanguageMTL/hparams/multitask.yaml", f"--task={task}"]
                   + _common(data_root, workdir, f"pool_{task}"))
    pooled = json.load(open(workdir / "pool_multitask" / "test_results.json"))
    assert set(pooled["per_corpus"]["test"]) == {"emodb", "savee", "emovo", "masc", "iemocap"}
    assert 0.0 <= pooled["language_accuracy"] <= 1.0 and "language_pred" in pooled["predictions"][0]
    single = json.load(open(workdir / "pool_emotion_only" / "test_results.json"))
    assert "language_accuracy" not in single
    for corpus in ("emodb", "masc"):
        result = json.load(open(workdir / "pool_multitask" / "test" / corpus / "test_results.json"))
        manifest = json.load(open(workdir / "pool_multitask" / "prep" / corpus / "test.json"))
        assert result["table"] == "4" and result["corpus"] == corpus and result["n"] == len(manifest)
    tables = make_tables.make_all_tables(str(workdir))
    assert "LSTM, emotion only (MFCC)" in tables and "EMO-DB (paper)" in tables and "language ID" in tables


def test_transfer_end_to_end_keeps_the_lstm_frozen(data_root, workdir):
    run_recipe(["recipes/LanguageMTL/hparams/transfer.yaml", "--finetune_epochs=2", "--extra_dense_size=4"]
               + _common(data_root, workdir, "transfer"))
    base = torch.load(glob.glob(str(workdir / "transfer" / "save" / "CKPT*" / "model.ckpt"))[0])
    for corpus in ("emodb", "emovo", "savee"):
        tuned = torch.load(glob.glob(str(workdir / "transfer" / "finetune" / corpus / "save" / "CKPT*" / "model.ckpt"))[0])
        frozen = [k for k in base if k.startswith(("lstm.", "emotion_head."))]
        assert len(frozen) == 10 and all(torch.equal(base[k], tuned[k]) for k in frozen)  # bit-identical
        assert not torch.equal(base["extra_dense.0.weight"], tuned["extra_dense.0.weight"])
        assert json.load(open(workdir / "transfer" / "as_is" / corpus / "test_results.json"))["row"].startswith("Train on")
    pooled = json.load(open(workdir / "transfer" / "test_results.json"))
    assert set(pooled["per_corpus"]) == {"as_is", "finetuned"}


def test_single_corpus_lstm_with_paper_padding(data_root, workdir):
    run_recipe(["recipes/LanguageMTL/hparams/single_corpus.yaml", "--corpus=emodb", "--use_lengths=False"]
               + _common(data_root, workdir, "single_emodb"))
    result = json.load(open(workdir / "single_emodb" / "test_results.json"))
    assert result["labels"] == ["happy", "sad", "fear", "anger", "neutral"] and result["n"] == 10


def test_cross_corpus_from_the_recipe_folder_and_cached_baselines(data_root, workdir):
    run_recipe(["hparams/cross_corpus.yaml"] + _common(data_root, workdir, "cross"), cwd=RECIPE, script="train.py")
    pooled = json.load(open(workdir / "cross" / "test_results.json"))
    assert set(pooled["per_corpus"]["test"]) == {"iemocap", "emovo", "savee", "emodb"}
    overrides = {"data_folder": data_root, "output_folder": str(workdir / "cross"),
                 "feature_cache_folder": str(workdir / "feature_cache"),
                 "baseline_output_folder": str(workdir / "cross_svc"), "baseline_c_grid": [1.0]}
    with open(os.path.join(RECIPE, "hparams", "cross_corpus.yaml"), encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    first = svm_baselines.run_baselines(hparams)  # IS09 already cached by the LSTM run above
    cache_files = glob.glob(str(workdir / "feature_cache" / "opensmile*" / "*" / "*.npy"))
    mtimes = {path: os.stat(path).st_mtime_ns for path in cache_files}
    second = svm_baselines.run_baselines(hparams)
    assert first["cache"]["computed"] == 0 and second["cache"]["computed"] == 0
    assert second["cache"]["loaded"] > 0 and first["svc"] == second["svc"]
    assert {path: os.stat(path).st_mtime_ns for path in cache_files} == mtimes
    result = json.load(open(workdir / "cross_svc" / "svc" / "savee" / "test_results.json"))
    assert result["row"] == "IS09 + SVC" and result["table"] == "5" and result["C"] == 1.0
    tables = make_tables.make_all_tables(str(workdir))
    assert "Parry et al. (2019), 4 classes" in tables and "IS09 + SVC" in tables


def test_single_corpus_baselines_compute_features_once(data_root, workdir):
    overrides = {"data_folder": data_root, "corpus": "savee", "feature_cache_folder": str(workdir / "cache_baselines"),
                 "baseline_output_folder": str(workdir / "savee_baselines"), "baseline_c_grid": [0.1, 1.0],
                 "baseline_feature_set": "eGeMAPSv02", "baseline_classifiers": ["linear_svc", "logreg"]}
    with open(os.path.join(RECIPE, "hparams", "single_corpus.yaml"), encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    first = svm_baselines.run_baselines(hparams)
    second = svm_baselines.run_baselines(hparams)
    n_utterances = sum(len(json.load(open(p))) for p in glob.glob(str(workdir / "savee_baselines" / "prep" / "savee" / "*.json"))
                       if not p.endswith(("split.json", "prep_options.json")))
    assert first["cache"]["computed"] == n_utterances == second["cache"]["loaded"] and second["cache"]["computed"] == 0
    for name in ("linear_svc", "logreg"):
        result = json.load(open(workdir / "savee_baselines" / name / "savee" / "test_results.json"))
        assert result["table"] == "2" and result["features"] == "eGeMAPSv02" and result["C"] in (0.1, 1.0)
