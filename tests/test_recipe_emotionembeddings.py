"""EmotionEmbeddings recipe: the paper's declarations, oversampling, splits given and generated, the front-end cache,
head routing, end-to-end runs, refusals of bad declarations."""
import csv
import json
import os
import shutil
import subprocess
import sys

import huggingface_hub.constants
import numpy as np
import pytest
import soundfile as sf
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.data.splits import read_split_file
from emo_lobes.errors import EmoLobesError
from emo_lobes.evaluation.metrics import write_test_results
from emo_lobes.features.frontend_cache import CachedFrozenFrontend
from emo_lobes.inference.classifier import EmotionClassifier
from emo_lobes.lobes.ssl_frontend import SSLFrontend, write_tiny_wav2vec2
from emo_lobes.data.synthetic import write_corpus
from run_checks import assert_refused_in_one_line, folder_hash, refusal_outcomes

from split_checks import split_file_wavs, tested_wavs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.benchmarks._common import load_recipe_modules  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "EmotionEmbeddings")
#: Synthetic RAVDESS has actors 01-08 only: the quick split names speakers that exist (same form as the paper's).
QUICK_RAVDESS = {"ravdess": {"split": {"dev_speakers": ["ravdess_06"], "test_speakers": ["ravdess_07", "ravdess_08"]}}}
SUBPROCESS_ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
TRAIN = [sys.executable, os.path.join(RECIPE, "train.py")]
MFB_SINGLE = os.path.join(RECIPE, "hparams", "single_corpus_mfb.yaml")
TINY_MFB = ["--hidden_size=8", "--batch_size=16", "--noprogressbar", "--device=cpu"]


def load_recipe_module(name):
    """recipes/EmotionEmbeddings/<name>.py as a module, with the recipe's own ``prepare``."""
    return load_recipe_modules("EmotionEmbeddings", name)[0]


@pytest.fixture(autouse=True)
def offline_single_thread(monkeypatch, one_torch_thread):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    for name in ("cafe", "emodb", "gemep", "ravdess"):
        write_corpus(name, root, seed=0)
    return root


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_wav2vec2(str(tmp_path_factory.mktemp("tiny_wav2vec2")), seed=0)


@pytest.fixture(scope="module")
def train_module():
    return load_recipe_module("train")


def listing(folder):
    return sorted((os.path.join(path, name), os.path.getmtime(os.path.join(path, name)))
                  for path, _, names in os.walk(folder) for name in names)


def load_hparams(yaml_name, overrides):
    with open(os.path.join(RECIPE, "hparams", yaml_name), encoding="utf-8") as fin:
        return load_hyperpyyaml(fin, overrides)


def test_prepare_paper_splits_and_oversampling(data_root, tmp_path, train_module):
    before = listing(data_root)
    hparams = load_hparams("multi_corpus_mfb.yaml", {"data_folder": data_root, "corpora": QUICK_RAVDESS,
                                                     "output_folder": str(tmp_path / "run")})
    options = train_module.prep_options(hparams)
    paths = train_module.prepare_emotion_embeddings(**options)
    split = json.load(open(paths["split"]))
    assert split["cafe"]["dev_speakers"] == ["cafe_09", "cafe_10"]
    assert split["cafe"]["test_speakers"] == ["cafe_11", "cafe_12"]
    assert split["emodb"]["dev_speakers"] == ["emodb_11", "emodb_13"]
    assert split["emodb"]["test_speakers"] == ["emodb_15", "emodb_16"]
    assert split["gemep"]["dev_speakers"] == ["gemep_05", "gemep_09"]
    assert split["gemep"]["test_speakers"] == ["gemep_08", "gemep_10"]
    assert all(info["method"] == "speakers" and info["speaker_independent"] for info in split.values())
    train = {c: json.load(open(p)) for c, p in paths["train"].items()}
    valid = {c: json.load(open(p)) for c, p in paths["valid"].items()}
    originals = {c: split[c]["n"]["train"] for c in train}
    assert len({len(m) for m in train.values()}) == 1 and len(next(iter(train.values()))) == max(originals.values())
    assert len({len(m) for m in valid.values()}) == 1 and len(next(iter(valid.values()))) == max(
        split[c]["n"]["dev"] for c in valid)
    for corpus, manifest in train.items():  # every original kept once; copies point at originals of their corpus
        sources = [entry["source_id"] for entry in manifest.values()]
        assert len({utt for utt, entry in manifest.items() if entry["source_id"] == utt}) == originals[corpus]
        assert set(sources) <= set(manifest) and all(s.startswith(f"{corpus}/") for s in sources)
    for corpus, path in paths["test"].items():
        test = json.load(open(path))
        assert all("#copy" not in utt for utt in test)
        assert len(test) == split[corpus]["n"]["test"]
        written = read_split_file(str(tmp_path / "run" / "splits" / f"{corpus}.json"))[0]  # the run's split copy
        assert sorted(written["test"]) == sorted(entry["rel_wav"] for entry in test.values())
    labels = json.load(open(paths["labels"]))
    assert len(labels["gemep"]) == 12 and labels["emodb"]["A"] == "fear" and labels["cafe"]["Joie"] == "happy"
    assert labels["ravdess"]["05"] == "angry" and labels["gemep"]["worry"] == "worry"
    stamp = os.path.getmtime(paths["train"]["cafe"])
    train_module.prepare_emotion_embeddings(**options)
    assert os.path.getmtime(paths["train"]["cafe"]) == stamp  # same options: skipped
    train_module.prepare_emotion_embeddings(**dict(options, seed=1))
    assert os.path.getmtime(paths["train"]["cafe"]) != stamp  # other seed: rebuilt
    assert listing(data_root) == before  # the data folder is never written


def test_declared_and_replaced_splits(data_root, tmp_path, train_module):
    prepare, declare = train_module.prepare_emotion_embeddings, train_module.run_declarations
    corpora = load_hparams("multi_corpus_mfb.yaml", {"data_folder": data_root})["corpora"]
    with pytest.raises(EmoLobesError, match="ravdess_19"):  # the paper's RAVDESS actors are absent here
        prepare(declare(corpora, data_root, ["ravdess"]), str(tmp_path / "paper"), ["ravdess"])
    loso = declare(corpora, data_root, ["emodb"], split={"method": "loso", "dev": "none"})  # Table II's LOSO row
    paths = prepare(loso, str(tmp_path / "loso"), ["emodb"], fold=3)
    split = json.load(open(paths["split"]))["emodb"]
    assert split["test_speakers"] == ["emodb_09"] and split["dev_speakers"] == [] and split["n"]["dev"] == 0
    assert json.load(open(paths["valid"]["emodb"])) == {}  # dev: none
    # a LOSO split naming no dev rule is the paper's (Section III): every other speaker trains, no dev speaker
    paper_loso = declare(corpora, data_root, ["emodb"], split={"method": "loso"})
    paths = prepare(paper_loso, str(tmp_path / "paper_loso"), ["emodb"], fold=3)
    split = json.load(open(paths["split"]))["emodb"]
    assert split["test_speakers"] == ["emodb_09"] and split["dev_speakers"] == [] and split["n"]["dev"] == 0
    assert len(split["train_speakers"]) == 9  # synthetic EmoDB's 10 speakers: all others train
    # model selection on a dev speaker stays an option
    with_dev = declare(corpora, data_root, ["emodb"], split={"method": "loso", "dev": "session_partner"})
    split = json.load(open(prepare(with_dev, str(tmp_path / "loso_dev"), ["emodb"], fold=3)["split"]))["emodb"]
    assert len(split["dev_speakers"]) == 1 and len(split["train_speakers"]) == 8
    with pytest.raises(EmoLobesError, match="emodb have a dev set but cafe have none"):
        mixed = declare(dict(corpora, cafe=dict(corpora["cafe"], split={"method": "loso", "dev": "none"})),
                        data_root, ["emodb", "cafe"])
        prepare(mixed, str(tmp_path / "mixed"), ["emodb", "cafe"])
    with pytest.raises(EmoLobesError, match="--split_file is for single-corpus runs"):
        declare(corpora, data_root, ["emodb", "cafe"], split_file=str(tmp_path / "s.json"))


def gemep_without_emotion_column(data_root, folder):
    """A copy of the synthetic GEMEP whose metadata.csv has GEMEP's codes as labels and no ``emotion`` column."""
    shutil.copytree(os.path.join(data_root, "GEMEP"), os.path.join(folder, "GEMEP"))
    path = os.path.join(folder, "GEMEP", "metadata.csv")
    with open(path, newline="", encoding="utf-8") as fin:
        rows = list(csv.DictReader(fin))
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, [c for c in rows[0] if c != "emotion"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return folder


def emodb_split_file(data_root, path):
    """A split file of the synthetic EmoDB in wav paths: test speakers 03 and 08, dev 09, the others train."""
    records = parse_corpus("emodb", os.path.join(data_root, "EmoDB")).records
    part = {"emodb_03": "test", "emodb_08": "test", "emodb_09": "dev"}
    lists = {"train": [], "dev": [], "test": []}
    for record in records:
        lists[part.get(record["speaker"], "train")].append(record["wav"])
    with open(path, "w", encoding="utf-8") as out:
        json.dump(lists, out)
    return lists


@pytest.fixture(scope="module")
def command_line_runs(data_root, tmp_path_factory):
    """Tiny single-corpus log-mel runs and refusals, started at once: ``{case: (return code, stderr, unchanged)}``
    plus their output folders and the split file given."""
    work = tmp_path_factory.mktemp("ee_cli")
    other = work / "other_data"
    write_corpus("emovo", str(other), seed=0)
    write_corpus("urdu", str(other), seed=0)
    gemep_codes = gemep_without_emotion_column(data_root, str(work / "gemep_codes"))
    split_lists = emodb_split_file(data_root, str(work / "emodb_split.json"))
    cases = {
        # the short form: data_folder is the corpus root, the split a file of wav paths
        "split_file": ([f"--data_folder={data_root}/EmoDB", "--corpus=emodb",
                        f"--split_file={work / 'emodb_split.json'}", "--number_of_epochs=1"], None),
        # Table II's LOSO row, no dev set: 2 epochs, the last tested
        "loso_no_dev": ([f"--data_folder={data_root}", "--corpus=emodb", "--split={method: loso, dev: none}",
                         "--fold=3", "--number_of_epochs=2"], None),
        # a corpus emo_lobes parses, never declared in the hparams
        "emovo": ([f"--data_folder={other}/EMOVO", "--corpus=emovo", "--number_of_epochs=1"], None),
        "gemep_codes_without_emotions": ([f"--data_folder={gemep_codes}", "--corpus=gemep", "--number_of_epochs=1"],
                                         gemep_codes),
        # the hparams' URDU split is a method; speaker lists merged into it mix two forms
        "mixed_split_override": ([f"--data_folder={other}", "--corpus=urdu", "--number_of_epochs=1",
                                  "--corpora={urdu: {split: {dev_speakers: [urdu_SF1], test_speakers: [urdu_SF3]}}}"],
                                 str(other)),
    }
    hashes = {case: folder_hash(folder) for case, (_, folder) in cases.items() if folder}
    started = {case: subprocess.Popen(TRAIN + [MFB_SINGLE, *args, *TINY_MFB, f"--output_folder={work / case}",
                                               f"--feature_cache_dir={work / 'cache'}"],
                                      cwd=ROOT, env=SUBPROCESS_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True)
               for case, (args, _) in cases.items()}
    return {"outcomes": refusal_outcomes(started, cases, hashes), "work": work, "split_lists": split_lists}


def finished(runs, case):
    returncode, stderr, _ = runs["outcomes"][case]
    assert returncode == 0, stderr[-3000:]
    folder = runs["work"] / case
    return folder, json.loads((folder / "test_results.json").read_text())


def test_a_split_file_run_tests_exactly_the_files_test_set(command_line_runs):
    folder, results = finished(command_line_runs, "split_file")
    given = command_line_runs["split_lists"]
    assert tested_wavs(folder, corpus="emodb") == split_file_wavs(command_line_runs["work"] / "emodb_split.json")
    assert tested_wavs(folder) == set(given["test"])
    assert all({"id", "wav", "corpus"} <= set(p) for p in results["predictions"])
    assert results["split"]["emodb"]["method"] == "file" and results["split"]["emodb"]["test_speakers"] == [
        "emodb_03", "emodb_08"]
    copy = read_split_file(str(folder / "splits" / "emodb.json"))[0]  # the run's copy reads back as the same split
    assert {part: sorted(copy[part]) for part in copy} == {part: sorted(given[part]) for part in given}
    assert results["tested_checkpoint"] == "best dev UAR"


def test_dev_none_trains_every_epoch_and_tests_the_last(command_line_runs, data_root):
    folder, results = finished(command_line_runs, "loso_no_dev")
    log = (folder / "train_log.txt").read_text().splitlines()
    assert [line.split(" - ")[0] for line in log] == ["epoch: 1", "epoch: 2", "Epoch loaded: 2"]
    assert "valid" not in " ".join(log)
    assert results["tested_checkpoint"] == "last epoch (no dev set)" and results["checkpoint_key"] == "epoch"
    assert results["split"]["emodb"]["test_speakers"] == ["emodb_09"] and results["split"]["emodb"]["n"]["dev"] == 0
    assert {p["wav"].split("/")[-1][:2] for p in results["predictions"]} == {"09"}
    classifier = EmotionClassifier.from_experiment(str(folder))  # the adapter loads the tested (last) checkpoint
    assert classifier.labels == ["A", "E", "F", "L", "N", "T", "W"]
    packaged = EmotionClassifier.from_hparams(source=str(folder / "model"))  # the run's packaged model
    tested = results["predictions"][:4]
    outputs = packaged.classify_files([os.path.join(data_root, "EmoDB", p["wav"]) for p in tested])
    assert [o["label"] for o in outputs] == [p["pred"] for p in tested]


def test_a_corpus_without_declaration_runs(command_line_runs):
    folder, results = finished(command_line_runs, "emovo")
    assert results["train_corpora"] == ["emovo"] and results["split"]["emovo"]["method"] == "speaker_kfold"
    assert results["labels"] == sorted(["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"])
    assert (folder / "splits" / "emovo.json").is_file()


REFUSED = {
    "gemep_codes_without_emotions": r"error: corpus gemep has no utterance of the asked classes 'amusement', "
                                    r"'despair', 'interest', 'irritation', 'pleasure', 'pride', 'relief', 'worry' "
                                    r"\(it has .*\)\. Fix: ",
    "mixed_split_override": r"error: split of urdu mixes method 'holdout' and dev_speakers/test_speakers .*Fix: give "
                            r"one form",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_declarations_are_refused_in_one_line(command_line_runs, case):
    assert_refused_in_one_line(command_line_runs["outcomes"][case], REFUSED[case])


def test_second_epoch_never_calls_the_frontend(data_root, tiny_model, tmp_path, train_module):
    hparams = load_hparams("single_corpus_w2v2.yaml", {
        "data_folder": data_root, "corpus": "emodb", "eval_corpora": ["emodb"], "ssl_source": tiny_model,
        "output_folder": str(tmp_path / "run"), "feature_cache_dir": str(tmp_path / "cache"), "number_of_epochs": 1,
        "batch_size": 16})
    paths = train_module.prepare_emotion_embeddings(**train_module.prep_options(hparams))
    labels = {c: sorted(t) for c, t in json.load(open(paths["labels"])).items()}
    datasets = train_module.dataio_prep(hparams, paths, labels)
    brain = train_module.build_brain(hparams, {"device": "cpu", "noprogressbar": True}, labels)
    calls = []
    hparams["frontend"].register_forward_hook(lambda *args: calls.append(1))
    loader = {"batch_size": 16}
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"], train_loader_kwargs=loader,
              valid_loader_kwargs=loader)
    first_epoch = len(calls)
    assert first_epoch == len(datasets["train"]) + len(datasets["valid"])  # each file once, one at a time
    brain.hparams.epoch_counter.limit = 2
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"], train_loader_kwargs=loader,
              valid_loader_kwargs=loader)
    assert brain.hparams.epoch_counter.current == 2
    assert len(calls) == first_epoch  # epoch 2: every frame read from the cache

    wav = os.path.join(data_root, "EmoDB", "wav", sorted(os.listdir(os.path.join(data_root, "EmoDB", "wav")))[0])
    cache_dir = str(tmp_path / "cache")
    later_run = CachedFrozenFrontend(hparams["frontend"], hparams["frontend_id"], cache_dir)
    frames, _ = later_run([wav])
    assert later_run.n_frontend_calls == 0 and frames.shape[-1] == 32  # a later run reuses the entries
    renamed = CachedFrozenFrontend(hparams["frontend"], "another/model-id", cache_dir)
    renamed([wav])
    assert renamed.n_frontend_calls == 1  # a changed model id misses
    other_weights = SSLFrontend(write_tiny_wav2vec2(str(tmp_path / "seed1"), seed=1))
    reweighted = CachedFrozenFrontend(other_weights, hparams["frontend_id"], cache_dir)
    reweighted([wav])
    assert reweighted.n_frontend_calls == 1  # same id, other weights: misses
    copy = str(tmp_path / "edited.wav")
    shutil.copy(wav, copy)
    later_run([copy])
    sf.write(copy, np.zeros(8000), 16000)  # the audio changes
    later_run([copy])
    assert later_run.n_frontend_calls == 2


def test_batch_of_one_corpus_leaves_other_heads_without_gradient(data_root, tiny_model, tmp_path, train_module):
    hparams = load_hparams("multi_corpus_w2v2.yaml", {
        "data_folder": data_root, "train_corpora": ["cafe", "emodb"], "ssl_source": tiny_model,
        "output_folder": str(tmp_path / "run"), "feature_cache_dir": str(tmp_path / "cache")})
    paths = train_module.prepare_emotion_embeddings(**train_module.prep_options(hparams))
    labels = {c: sorted(t) for c, t in json.load(open(paths["labels"])).items()}
    datasets = train_module.dataio_prep(hparams, paths, labels)
    brain = train_module.build_brain(hparams, {"device": "cpu"}, labels)
    cafe_only = datasets["train"].filtered_sorted(key_test={"corpus": lambda corpus: corpus == "cafe"}, select_n=6)
    batch = next(iter(brain.make_dataloader(cafe_only, stage=None, ckpt_prefix=None, batch_size=6)))
    assert set(batch.corpus) == {"cafe"}
    loss = brain.compute_objectives(brain.compute_forward(batch, sb.Stage.TRAIN), batch, sb.Stage.TRAIN)
    loss.backward()
    heads = brain.modules.heads.heads
    assert heads["emodb"].w.weight.grad is None or not heads["emodb"].w.weight.grad.any()
    assert heads["cafe"].w.weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in brain.modules.emotion_model.parameters())


def test_multi_corpus_run_tables_and_figures(data_root, tiny_model, tmp_path):
    out = str(tmp_path / "multi")
    command = [sys.executable, os.path.join(RECIPE, "train.py"),
               os.path.join(RECIPE, "hparams", "multi_corpus_w2v2.yaml"),
               f"--data_folder={data_root}", f"--ssl_source={tiny_model}", "--train_corpora=[cafe, gemep]",
               f"--output_folder={out}", f"--feature_cache_dir={tmp_path / 'cache'}", "--number_of_epochs=1",
               "--batch_size=16", "--noprogressbar"]
    done = subprocess.run(command, cwd=ROOT, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.load(open(os.path.join(out, "test_results.json")))
    assert results["train_corpora"] == ["cafe", "gemep"] and set(results["per_corpus"]) == {"cafe", "gemep"}
    assert {(p["source"], p["head"]) for p in results["cross_corpus"]["pairs"]} == {
        ("cafe", "cafe"), ("cafe", "gemep"), ("gemep", "cafe"), ("gemep", "gemep")}
    assert all(set(p["heads"]) == {"cafe", "gemep"} for p in results["predictions"])
    assert len(results["predictions"]) == 26 + 31  # CaFE actors 11-12, GEMEP actors 8 and 10 (all 12 classes)
    assert results["label_emotions"]["gemep"]["pride"] == "pride"
    assert len(results["per_corpus"]["gemep"]["labels"]) == 12
    for corpus in ("cafe", "gemep"):  # predictions carry the corpus's own ids and wavs, as the split copies list them
        mine = [p for p in results["predictions"] if p["corpus"] == corpus]
        written = json.load(open(os.path.join(out, "splits", f"{corpus}.json")))
        assert sorted(p["wav"] for p in mine) == sorted(written["test"]) and all("/" not in p["id"] for p in mine)
    embeddings = np.load(os.path.join(out, "embeddings.npz"))
    assert embeddings["embedding"].shape == (57, 64)

    cross_corpus = load_recipe_module("cross_corpus")
    tables = str(tmp_path / "tables")
    cross_corpus.main(["--setting", f"Multi-corpus={out}", "--output_folder", tables])
    table_iii = open(os.path.join(tables, "table_iii.md")).read()
    assert "Cross-corpus (paper)" in table_iii and "50.8 ± 11.6" in table_iii
    assert "| Multi-corpus |" in open(os.path.join(tables, "table_ii.md")).read()
    with open(os.path.join(tables, "figure3_cafe_through_gemep.png"), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_finetuned_single_corpus_run_from_recipe_folder(data_root, tiny_model, tmp_path):
    out = str(tmp_path / "single_ft")
    command = [sys.executable, "train.py", "hparams/single_corpus_w2v2_ft.yaml", f"--data_folder={data_root}",
               "--corpus=emodb", "--eval_corpora=[emodb, cafe]", f"--ssl_source={tiny_model}",
               f"--output_folder={out}", "--number_of_epochs=1", "--batch_size=16", "--lr=0.01", "--noprogressbar"]
    done = subprocess.run(command, cwd=RECIPE, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.load(open(os.path.join(out, "test_results.json")))
    assert results["train_corpora"] == ["emodb"] and results["freeze_frontend"] is False
    assert results["labels"] == ["A", "E", "F", "L", "N", "T", "W"]  # EmoDB's own labels at the top level
    pairs = {(p["source"], p["head"]) for p in results["cross_corpus"]["pairs"]}
    assert pairs == {("cafe", "emodb"), ("emodb", "emodb")}
    checkpoint = [d for d in os.listdir(os.path.join(out, "save")) if d.startswith("CKPT")][0]
    tuned = torch.load(os.path.join(out, "save", checkpoint, "frontend.ckpt"), map_location="cpu")
    initial = SSLFrontend(tiny_model).state_dict()
    encoder = [k for k in initial if ".encoder.layers." in k]
    conv = [k for k in initial if ".feature_extractor." in k]
    assert any(not torch.equal(tuned[k], initial[k]) for k in encoder)  # the transformer was fine-tuned
    assert all(torch.equal(tuned[k], initial[k]) for k in conv)  # the feature encoder stayed frozen


def test_figure_two_selection_and_umap(tmp_path):
    plot_embeddings = load_recipe_module("plot_embeddings")
    rng = np.random.default_rng(0)
    corpus = np.array(["cafe", "emodb", "gemep"] * 12)
    emotion = np.array(["angry"] * 12 + ["sad"] * 12 + ["boredom"] * 12)
    emotion[24:] = np.where(corpus[24:] == "emodb", "boredom", "happy")  # boredom only in EmoDB: left out
    embedding = rng.normal(size=(36, 8)) + (emotion == "angry")[:, None] * 4
    correct = np.ones(36, dtype=bool)
    correct[:3] = False
    np.savez(tmp_path / "embeddings.npz", ids=np.arange(36).astype(str), corpus=corpus, label=emotion, emotion=emotion,
             correct=correct, embedding=embedding)
    keep = plot_embeddings.select_points(plot_embeddings.load_embeddings(str(tmp_path)))
    assert len(keep) == 36 - 3 - 4 and "boredom" not in set(emotion[keep])
    png = str(tmp_path / "figure2.png")
    counts = plot_embeddings.main(["--run", f"Multi-corpus={tmp_path}", "--output", png])
    assert counts == {"Multi-corpus": 29} and os.path.getsize(png) > 10000


def test_figure_two_colours_by_each_corpus_label(tmp_path):
    """Issue 14: EmoDB's anxiety and CaFE's joy keep their own colours; selection still merges them."""
    plot_embeddings = load_recipe_module("plot_embeddings")
    corpus = np.array(["emodb", "cafe", "ravdess"] * 8)
    emotion = np.array(["fear", "fear", "fear", "happy", "happy", "happy"] * 4)
    np.savez(tmp_path / "embeddings.npz", ids=np.arange(24).astype(str), corpus=corpus, label=emotion,
             emotion=emotion, correct=np.ones(24, dtype=bool),
             embedding=np.random.default_rng(0).normal(size=(24, 8)) + (emotion == "fear")[:, None] * 4)
    data = plot_embeddings.load_embeddings(str(tmp_path))
    assert len(plot_embeddings.select_points(data)) == 24  # anxiety counts as fear: shared by three corpora
    names = plot_embeddings.colour_names(data)
    assert {(c, n) for c, n in zip(corpus, names)} == {
        ("emodb", "anxiety"), ("cafe", "fear"), ("ravdess", "fear"),
        ("emodb", "happiness"), ("cafe", "joy"), ("ravdess", "happiness")}
    assert set(plot_embeddings.colour_names(data, "emotion")) == {"fear", "happy"}
    for colour_by in ("label", "emotion"):
        png = str(tmp_path / f"figure2_{colour_by}.png")
        assert plot_embeddings.main(["--run", f"Frozen={tmp_path}", "--output", png, "--colour_by", colour_by]) == {
            "Frozen": 24}
        assert os.path.getsize(png) > 10000


@pytest.mark.parametrize("freeze_feature_encoder", [True, False])
def test_fine_tuning_trains_the_conv_encoder_only_when_asked(tiny_model, tmp_path, freeze_feature_encoder):
    overrides = {"data_folder": str(tmp_path), "ssl_source": tiny_model, "ssl_save_folder": str(tmp_path / "ssl")}
    if not freeze_feature_encoder:
        overrides["freeze_feature_encoder"] = False  # the paper's full fine-tuning
    hparams = load_hparams("single_corpus_w2v2_ft.yaml", overrides)
    assert hparams["freeze_feature_encoder"] is freeze_feature_encoder  # default: frozen (ours)
    model = hparams["frontend"].wav2vec2.model
    conv = [p.requires_grad for p in model.feature_extractor.parameters()]
    transformer = [p.requires_grad for p in model.encoder.parameters()]
    assert conv and all(transformer)
    assert all(conv) is (not freeze_feature_encoder) and any(conv) is (not freeze_feature_encoder)


def test_grid_search_runs_the_section_iv_a_grid_and_picks_on_dev(tmp_path, capsys):
    import doctest

    grid_search = load_recipe_module("grid_search")
    assert doctest.testmod(grid_search, optionflags=doctest.ELLIPSIS).failed == 0
    runs = grid_search.grid_runs(["gemep", "ravdess"], "/data", str(tmp_path), train_overrides=["--number_of_epochs=2"])
    setups = list(dict.fromkeys(run["setup"] for run in runs))
    assert len(setups) == 2 * 3 * 3 * 2 and grid_search.PAPER_CHOICE in setups  # models x sizes x lrs x features
    assert all(run["command"][-1] == "--number_of_epochs=2" for run in runs)
    grid_search.main(["--data_folder", "/data", "--corpus", "urdu", "--output_folder", str(tmp_path / "gs"),
                      "--features", "mfb", "--sizes", "1x64", "--lrs", "0.01", "--dry_run"])
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and "--emotion_model_type=transformer" in printed[1]
    assert not (tmp_path / "gs").exists()  # a dry run writes nothing
    # planted finished runs: the setup with the best mean dev UAR is chosen, and only its test UAR is reported
    for setup, dev, test in (("mfb_gru_1x64_lr0.01", 0.4, 0.9), ("mfb_transformer_1x64_lr0.01", 0.6, 0.5)):
        folder = tmp_path / "gs" / setup / "urdu"
        folder.mkdir(parents=True)
        (folder / "train_log.txt").write_text(f"epoch: 1 - train loss: 1.0 - valid loss: 1.0, valid UAR: {dev}\n")
        write_test_results(str(folder / "test_results.json"), {"wa": test, "ua": test, "macro_f1": test, "n": 1,
                                                               "per_class_recall": {"a": test}, "labels": ["a"],
                                                               "confusion": [[1]]})
    runs = grid_search.grid_runs(["urdu"], "/data", str(tmp_path / "gs"), features=["mfb"], sizes=["1x64"],
                                 lrs=[0.01])
    report = grid_search.write_report(grid_search.rank_setups(runs), ["urdu"], str(tmp_path / "gs"), 2)
    assert "Chosen on dev: mfb_transformer_1x64_lr0.01; its test UAR (%): urdu 50.0" in report
    assert json.load(open(tmp_path / "gs" / "grid_search.json"))["chosen"] == "mfb_transformer_1x64_lr0.01"
    with pytest.raises(SystemExit):
        grid_search.main(["--data_folder", "/data", "--corpus", "urdu", "--output_folder", str(tmp_path),
                          "--sizes", "2by64", "--dry_run"])
    assert "cannot read size '2by64'" in capsys.readouterr().err
