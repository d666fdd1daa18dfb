"""MLEE recipe: prep of one LOSO fold, then every method end to end on synthetic IEMOCAP (tiny model, 2 epochs).

The chain is dominant (hard, soft) -> MLEE -> MLEE pre-training -> MLEE pre-training fusion; the tests check
files and metrics appear, frozen encoders stay bit-identical and two-step runs refuse wrong sources.
"""
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from emo_lobes.errors import EmoLobesError
from emo_lobes.lobes.existence import TARGET_CODES
from emo_lobes.evaluation.metrics import RESULT_KEYS
from emo_lobes.data.declarations import load_corpus_split
from emo_lobes.data.splits import read_split_file
from emo_lobes.data.synthetic import write_corpus
from split_checks import tested_wavs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(ROOT, "recipes", "MLEE")
SEED = "1986"
# Tiny model and data settings: 100 frequency bins (0-1 kHz), 2-channel convolutions, no speed copies.
TINY = ["--speed_factors=[]", "--num_workers=0", "--cnn_channels=[2,2,2]", "--lstm_size=4",
        "--attention_size=4", "--dense_size=4", "--max_frequency=1000"]
# One intra-op thread: the test machine's 2 cores are shared, and oversubscribed threads slow tiny ops ~20x.
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def load_script(name, path):
    """Import a recipe script as a module (its __main__ block does not run).

    train.py imports its sibling as ``prepare``; that entry is taken out of ``sys.modules`` and ``sys.path``
    is restored afterwards, so other recipes' tests importing their own ``prepare`` are not affected.
    """
    saved_path, saved_prepare = list(sys.path), sys.modules.pop("prepare", None)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved_path
        sys.modules.pop("prepare", None)
        if saved_prepare is not None:
            sys.modules["prepare"] = saved_prepare
    return module


prepare = load_script("mlee_prepare", os.path.join(RECIPE, "prepare.py"))
train = load_script("mlee_train", os.path.join(RECIPE, "train.py"))
make_table = load_script("mlee_make_table", os.path.join(RECIPE, "make_table.py"))


def run(command, cwd=ROOT):
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)


def run_together(commands):
    """Run independent ``{name: (command, cwd)}`` at once; ``{name: CompletedProcess}``."""
    started = {name: subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for name, (command, cwd) in commands.items()}
    done = {}
    for name, process in started.items():
        out, err = process.communicate()
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return done


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus("iemocap", str(tmp_path_factory.mktemp("mlee_data")), seed=0)


@pytest.fixture(scope="module")
def chain(corpus, tmp_path_factory):
    """Run the five methods (fold 1, training set ``all``) in the layout of the fold runner."""
    results = tmp_path_factory.mktemp("mlee_results")
    folder = {s: os.path.join(results, s, "all", SEED) for s in
              ("dominant_hard", "dominant_soft", "mlee", "mlee_pretrain_soft", "mlee_fusion_hard")}
    split_file, split_test = custom_split_file(corpus, str(results / "custom_split.json"))
    one_epoch = [f"--data_folder={corpus}", "--training_set=all", *TINY, "--number_of_epochs=1"]
    common = one_epoch[:-1] + ["--number_of_epochs=2"]
    runner = [sys.executable, "tools/cross_validate.py", "recipes/MLEE/train.py"]
    # step 1, independent runs at once. dominant_hard from inside the recipe folder, as the README shows;
    # mlee through the fold runner, which appends fold_1 and writes cv_results.json
    procs = run_together({
        "dominant_hard": ([sys.executable, "train.py", "hparams/dominant_hard.yaml", *common,
                           f"--output_folder={folder['dominant_hard']}/fold_1"], RECIPE),
        "dominant_soft": ([sys.executable, "recipes/MLEE/train.py", "recipes/MLEE/hparams/dominant_soft.yaml",
                           *one_epoch, f"--output_folder={folder['dominant_soft']}/fold_1"], ROOT),
        "mlee": (runner + ["recipes/MLEE/hparams/mlee.yaml", "--folds", "1", "--output_folder", folder["mlee"],
                           *common], ROOT),
        # other splits (outside the table's folders): a split file; no dev set
        "split_file": ([sys.executable, "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee.yaml", *one_epoch,
                        f"--split_file={split_file}", f"--output_folder={results / 'other' / 'split_file'}"], ROOT),
        "no_dev": ([sys.executable, "recipes/MLEE/train.py", "recipes/MLEE/hparams/dominant_hard.yaml", *common,
                    "--corpora={iemocap: {split: {dev: none}}}", f"--output_folder={results / 'other' / 'no_dev'}"],
                   ROOT),
    })
    # step 2, the two-step methods on the pre-trained folders (a fold runner's folder, and fold folders)
    procs.update(run_together({
        "mlee_pretrain_soft": (runner + [
            "recipes/MLEE/hparams/mlee_pretrain.yaml", "--folds", "1", "--output_folder",
            folder["mlee_pretrain_soft"], *one_epoch, "--label_type=soft",
            f"--pretrained_mlee_folder={folder['mlee']}"], ROOT),
        "mlee_fusion_hard": ([
            sys.executable, "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee_fusion.yaml", *one_epoch,
            f"--output_folder={folder['mlee_fusion_hard']}/fold_1",
            f"--pretrained_mlee_folder={folder['mlee']}/fold_1",
            f"--pretrained_dominant_folder={folder['dominant_hard']}/fold_1"], ROOT),
    }))
    return results, folder, procs, split_test


def custom_split_file(corpus, path):
    """A split file unlike any LOSO fold: test Ses03M and Ses04F (their improvised dominant utterances), dev Ses02F.

    Returns ``(path, set of test wavs)``.
    """
    records = load_corpus_split(declaration(corpus), 1, record_filter=prepare.improvised_only).records
    test_speakers, dev_speakers = {"Ses03M", "Ses04F"}, {"Ses02F"}
    lists = {"train": [r["wav"] for r in records if r["speaker"] not in test_speakers | dev_speakers],
             "dev": [r["wav"] for r in records if r["speaker"] in dev_speakers],
             "test": [r["wav"] for r in records if r["speaker"] in test_speakers and r["label"] in TARGET_CODES]}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(lists, handle)
    return path, set(lists["test"])


def test_a_split_file_decides_exactly_what_is_tested(chain):
    results, _, procs, split_test = chain
    assert procs["split_file"].returncode == 0, procs["split_file"].stderr[-3000:]
    out = os.path.join(results, "other", "split_file")
    assert tested_wavs(out) == tested_wavs(out, "iemocap") == split_test
    info = json.load(open(os.path.join(out, "test_results.json")))["split"]["iemocap"]
    assert info["method"] == "file" and info["test_speakers"] == ["Ses03M", "Ses04F"]
    assert info["dev_speakers"] == ["Ses02F"] and info["speaker_independent"]
    copied = read_split_file(os.path.join(out, "splits", "iemocap.json"))[0]
    assert set(copied["test"]) == split_test  # the run's copy of its split reads back as the file


def test_without_dev_set_the_last_epoch_is_tested(chain):
    results, _, procs, _ = chain
    assert procs["no_dev"].returncode == 0, procs["no_dev"].stderr[-3000:]
    out = os.path.join(results, "other", "no_dev")
    test_results = json.load(open(os.path.join(out, "test_results.json")))
    assert test_results["tested_checkpoint"] == "last_epoch" and test_results["split"]["iemocap"]["n"]["dev"] == 0
    log = open(os.path.join(out, "train_log.txt")).read()
    assert "epoch: 2," in log and "valid" not in log and "epoch loaded: 2" in log
    assert json.load(open(os.path.join(out, "experiment.json")))["dev_speakers"] == []
    assert len([d for d in os.listdir(os.path.join(out, "save")) if d.startswith("CKPT")]) == 1


def declaration(corpus, **changes):
    """The recipe's IEMOCAP declaration over ``corpus`` (``changes`` merged into it)."""
    return prepare.mlee_declaration({"iemocap": changes} if changes else {}, corpus)


def test_prepare_writes_one_fold_with_speed_copies_and_dominant_dev_test(corpus, tmp_path, capsys):
    before = sorted(os.walk(corpus))
    split = prepare.prepare_mlee(declaration(corpus), str(tmp_path), fold=1, speed_factors=[0.9, 1.1],
                                 output_folder=str(tmp_path / "run"))
    assert split["test_speakers"] == ["Ses01F"] and split["dev_speakers"] == ["Ses01M"]
    assert len(split["train_speakers"]) == 8
    printed = capsys.readouterr().out
    assert "dominant (paper)" in printed and "58.2" in printed and "| train " in printed
    manifests = {n: json.load(open(tmp_path / f"{n}.json")) for n in ("train_all", "train_dominant", "dev", "test")}
    originals = {k: v for k, v in manifests["train_all"].items() if v["speed"] == 1.0}
    assert len(manifests["train_all"]) == 3 * len(originals)  # 0.9 and 1.1 copies added
    assert len(originals) == len(split["train"])  # every improvised utterance of the training speakers
    copy = manifests["train_all"][next(iter(originals)) + "_sp0.9"]
    assert copy["speed"] == 0.9 and copy["existence"] == next(iter(originals.values()))["existence"]
    assert all(e["hard_index"] >= 0 for e in manifests["train_dominant"].values())
    assert any(e["hard_index"] < 0 for e in manifests["train_all"].values())
    for part, speakers in (("dev", split["dev_speakers"]), ("test", split["test_speakers"])):
        assert manifests[part] and all(e["hard_index"] >= 0 and e["speed"] == 1.0 for e in manifests[part].values())
        assert {e["speaker"] for e in manifests[part].values()} == set(speakers)
    assert not {e["speaker"] for e in manifests["train_all"].values()} & {"Ses01F", "Ses01M"}
    assert all(e["wav"].startswith("{data_root}/Session") for e in manifests["test"].values())
    assert all(e["corpus"] == "iemocap" and e["wav"] == "{data_root}/" + e["rel_wav"]
               for e in manifests["test"].values())
    # the split, in split-file form, in prep/splits/ and the run's splits/; its info says how it was made
    copied = read_split_file(str(tmp_path / "run" / "splits" / "iemocap.json"))[0]
    assert {manifests["test"][u]["rel_wav"] for u in manifests["test"]} <= set(copied["test"])
    assert split["info"]["method"] == "loso" and split["info"]["speaker_independent"]
    assert sorted(os.walk(corpus)) == before  # the data folder is never written to
    # self-evaluations, when asked for, can only add existent emotions
    prepare.prepare_mlee(declaration(corpus, options={"include_self_evaluations": True}), str(tmp_path / "self"),
                         fold=1, speed_factors=[])
    with_self = json.load(open(tmp_path / "self" / "train_all.json"))
    gained = [u for u, e in with_self.items() if e["existence"] != originals[u]["existence"]]
    assert gained and all(min(b - a for a, b in zip(originals[u]["existence"], with_self[u]["existence"])) >= 0
                          for u in gained)


def test_prepare_rejects_a_fold_that_does_not_exist(corpus, tmp_path):
    with pytest.raises(EmoLobesError, match="fold 11 asked for, but the split of iemocap has 10 folds"):
        prepare.prepare_mlee(declaration(corpus), str(tmp_path), fold=11)


def test_speed_copies_are_resampled_and_methods_keep_their_training_utterances(corpus, tmp_path):
    prepare.prepare_mlee(declaration(corpus), str(tmp_path), fold=2, speed_factors=[0.9])
    sizes = {}
    for method, label_type in (("dominant", "hard"), ("dominant", "soft"), ("mlee", "hard")):
        with open(os.path.join(RECIPE, "hparams", "mlee.yaml"), encoding="utf-8") as fin:
            hparams = load_hyperpyyaml(fin, {"data_folder": corpus, "output_folder": str(tmp_path / "out"),
                                             "method": method, "label_type": label_type, "training_set": "all"})
        hparams["prep_folder"] = str(tmp_path)
        datasets = train.dataio_prep(hparams, corpus)
        sizes[(method, label_type)] = len(datasets["train"])
        target = datasets["train"][0]["target"]
        if method == "mlee" or label_type == "hard":
            assert set(target.tolist()) <= {0.0, 1.0}
        else:
            assert abs(float(target.sum()) - 1.0) < 1e-6
    assert sizes[("dominant", "hard")] < sizes[("dominant", "soft")] < sizes[("mlee", "hard")]
    train_set = datasets["train"]
    sig = {i: train_set[train_set.data_ids.index(i)]["sig"] for i in ("Ses02F_impro01_F000", "Ses02F_impro01_F000_sp0.9")}
    ratio = len(sig["Ses02F_impro01_F000_sp0.9"]) / len(sig["Ses02F_impro01_F000"])
    assert abs(ratio - 1 / 0.9) < 0.01


@pytest.mark.parametrize("setting", ["dominant_hard", "dominant_soft", "mlee", "mlee_pretrain_soft",
                                     "mlee_fusion_hard"])
def test_every_method_trains_tests_and_writes_its_outputs(chain, setting):
    _, folder, procs, _ = chain
    assert procs[setting].returncode == 0, procs[setting].stderr[-3000:]
    out = os.path.join(folder[setting], "fold_1")
    results = json.load(open(os.path.join(out, "test_results.json")))
    assert all(key in results for key in RESULT_KEYS) and results["labels"] == list(TARGET_CODES)
    assert 0.0 <= results["wa"] <= 1.0 and 0.0 <= results["ua"] <= 1.0
    assert len(results["confusion"]) == 4 and sum(map(sum, results["confusion"])) == results["n"]
    test_manifest = json.load(open(os.path.join(out, "prep", "test.json")))
    test_ids = set(test_manifest)
    assert {p["id"] for p in results["predictions"]} == test_ids
    assert tested_wavs(out, "iemocap") == {e["rel_wav"] for e in test_manifest.values()}
    assert results["split"]["iemocap"]["test_speakers"] == ["Ses01F"] and results["corpus"] == "iemocap"
    assert results["training_set"] == "all" and results["fold"] == 1
    info = json.load(open(os.path.join(out, "experiment.json")))
    assert info["finished"] and info["test_speakers"] == ["Ses01F"]
    attention = torch.load(os.path.join(out, "attention.pt"))
    branches = {"mlee_fusion_hard": {"mlee", "dominant"}, "mlee_pretrain_soft": {"mlee"}, "mlee": {"mlee"}}
    assert set(attention["branches"]) == branches.get(setting, {"dominant"})
    for weights in attention["branches"].values():
        assert set(weights) == test_ids
        assert all(abs(float(w.sum()) - 1.0) < 1e-4 for w in weights.values())
    assert attention["frame_shift_s"] == pytest.approx(0.16)
    log = open(os.path.join(out, "train_log.txt")).read()
    epochs = 2 if setting in ("dominant_hard", "mlee") else 1
    assert f"epoch: {epochs}," in log and f"epoch: {epochs + 1}," not in log and "test loss" in log


def test_results_carry_method_and_label_type(chain):
    _, folder, _, _ = chain
    labels = {s: json.load(open(os.path.join(folder[s], "fold_1", "test_results.json")))["label_type"]
              for s in folder}
    assert labels == {"dominant_hard": "hard", "dominant_soft": "soft", "mlee": "-", "mlee_pretrain_soft": "soft",
                      "mlee_fusion_hard": "hard"}


def _best_checkpoint_file(run_folder, name):
    saves = [os.path.join(run_folder, "save", d) for d in os.listdir(os.path.join(run_folder, "save"))
             if d.startswith("CKPT")]
    assert 1 <= len(saves) <= 2  # the best-dev checkpoint (and SpeechBrain's most recent one, when it differs)

    def dev_loss(save):
        with open(os.path.join(save, "CKPT.yaml"), encoding="utf-8") as handle:
            return float(yaml.safe_load(handle)["loss"])
    return os.path.join(min(saves, key=dev_loss), f"{name}.ckpt")


def test_frozen_encoders_are_bit_identical_after_fine_tuning(chain):
    _, folder, _, _ = chain
    fusion = os.path.join(folder["mlee_fusion_hard"], "fold_1")
    pretrain = os.path.join(folder["mlee_pretrain_soft"], "fold_1")
    for tuned, source, branch in ((fusion, folder["mlee"], "mlee"), (pretrain, folder["mlee"], "mlee"),
                                  (fusion, folder["dominant_hard"], "dominant")):
        source = os.path.join(source, "fold_1")
        before = torch.load(_best_checkpoint_file(source, f"{branch}_encoder"))
        after = torch.load(_best_checkpoint_file(tuned, f"{branch}_encoder"))
        assert before.keys() == after.keys() and any("running_mean" in k for k in after)
        for key in before:
            assert torch.equal(before[key], after[key]), f"{branch} {key} changed"
        stats_before = torch.load(_best_checkpoint_file(source, f"{branch}_normalizer"))
        stats_after = torch.load(_best_checkpoint_file(tuned, f"{branch}_normalizer"))
        assert torch.equal(stats_before["glob_mean"], stats_after["glob_mean"])
        assert stats_before["count"] == stats_after["count"]
    # the fusion classifier reads both encoders' outputs side by side (2 x 2 x lstm_size)
    classifier = torch.load(_best_checkpoint_file(fusion, "classifier"))
    assert classifier["hidden.w.weight"].shape == (4, 16)


def test_two_step_runs_refuse_missing_or_wrong_sources(chain, corpus, tmp_path):
    _, folder, _, _ = chain
    hparams = {"fold": 1, "pretrained_mlee_folder": os.path.join(folder["dominant_hard"], "fold_1")}
    with pytest.raises(EmoLobesError, match="is a 'dominant' experiment, not a 'mlee' one"):
        train.load_pretrained_branch(hparams, "mlee")
    with pytest.raises(EmoLobesError, match="was trained on fold 1, this run is fold 2"):
        train.load_pretrained_branch({"fold": 2, "pretrained_mlee_folder": folder["mlee"] + "/fold_1"}, "mlee")
    with pytest.raises(EmoLobesError, match="pretrained_dominant_folder is not set"):
        train.load_pretrained_branch({"fold": 1, "pretrained_dominant_folder": None}, "dominant")
    proc = run([sys.executable, "recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee_pretrain.yaml",
                f"--data_folder={corpus}", f"--output_folder={tmp_path}/out", *TINY,
                f"--pretrained_mlee_folder={tmp_path}/nothing_here"])
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("error: pretrained_mlee_folder=")
    assert "Traceback" not in proc.stderr


def test_table_and_attention_plot_from_the_chain(chain, tmp_path):
    results, folder, _, _ = chain
    table = make_table.make_table(str(results), SEED)
    mlee_row = next(line for line in table.splitlines() if line.startswith("| MLEE only -"))
    cells = [c.strip() for c in mlee_row.split("|")[1:-1]]
    cv = json.load(open(os.path.join(folder["mlee"], "cv_results.json")))
    assert cells[5] == f"{100 * cv['aggregate']['wa']['mean']:.1f} ± 0.0" and cells[6] == "64.4"
    assert cells[1] == "–" and cells[2] == "66.3" and cells[-1] == "0 / 1"
    png = tmp_path / "figure3.png"
    proc = run([sys.executable, "tools/plot_attention.py", os.path.join(folder["dominant_hard"], "fold_1"),
                os.path.join(folder["mlee"], "fold_1"), os.path.join(folder["mlee_fusion_hard"], "fold_1"),
                "--output", str(png)])
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_doctests_of_the_recipe_scripts_and_tools_pass():
    import doctest

    plot_attention = load_script("mlee_plot_attention", os.path.join(ROOT, "tools", "plot_attention.py"))
    for module in (prepare, make_table, plot_attention):
        outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__


def test_benchmark_entry_profiles_training_batches(corpus, one_torch_thread):
    benchmark = load_script("mlee_benchmark_entry", os.path.join(ROOT, "tools", "benchmarks", "mlee.py"))
    # the entry writes its corpus under the workdir; the module's corpus is reused (same seed, same folder)
    stats = benchmark.run(os.path.dirname(corpus), quick=True)
    assert stats["batches"] == 3 and stats["utterances"] == 48 and stats["utterances_per_s"] > 0
    assert 0.0 <= stats["outside_model_share"] <= 1.0 and stats["feature_s"] > 0
    assert benchmark.TARGETS == {"outside_model_share": ("<=", 0.20)}


def _initialised(hparams_name, tmp_path, **overrides):
    """Load one MLEE hparams file (tiny model) and draw its method's initial weights; ``(hparams, seed)``."""
    from emo_lobes.training.hparams_check import load_hparams_checked

    (tmp_path / "data").mkdir(exist_ok=True)
    values = {"data_folder": str(tmp_path / "data"), "output_folder": str(tmp_path / hparams_name / str(len(overrides))),
              "speed_factors": [], "cnn_channels": [2, 2, 2], "lstm_size": 4, "attention_size": 4,
              "dense_size": 4, "max_frequency": 1000, **overrides}
    hparams = load_hparams_checked(os.path.join(RECIPE, "hparams", hparams_name), values)
    return hparams, train.initialise_modules(hparams)


def test_each_method_starts_from_its_own_weights_and_a_rerun_is_reproducible(tmp_path):
    mlee, mlee_seed = _initialised("mlee.yaml", tmp_path)
    dominant, dominant_seed = _initialised("dominant_hard.yaml", tmp_path)
    soft, soft_seed = _initialised("dominant_soft.yaml", tmp_path)
    pretrain, pretrain_seed = _initialised("mlee_pretrain.yaml", tmp_path)
    assert len({mlee_seed, dominant_seed, soft_seed, pretrain_seed}) == 4
    # the two fusion branches (MLEE, dominant) are trained from different initial weights
    for key, value in mlee["mlee_encoder"].state_dict().items():
        if value.is_floating_point() and value.unique().numel() > 1:  # drawn at random (not batch norm 1s, 0s)
            assert not torch.equal(value, dominant["dominant_encoder"].state_dict()[key]), key
    # the two-step classifier starts fresh, not from MLEE only's initial classifier
    assert not torch.equal(mlee["classifier"].hidden.w.weight, pretrain["classifier"].hidden.w.weight)
    # the same seed and method give the same weights again; another run seed other weights
    again, again_seed = _initialised("mlee.yaml", tmp_path, fold=2)
    assert again_seed == mlee_seed
    for key, value in mlee["mlee_encoder"].state_dict().items():
        assert torch.equal(value, again["mlee_encoder"].state_dict()[key]), key
    other, other_seed = _initialised("mlee.yaml", tmp_path, seed=7)
    assert other_seed != mlee_seed
    assert not torch.equal(other["classifier"].hidden.w.weight, mlee["classifier"].hidden.w.weight)


def test_runs_record_their_data_settings_and_initial_seed(chain):
    _, folder, _, _ = chain
    with open(os.path.join(folder["mlee"], "fold_1", "experiment.json"), encoding="utf-8") as handle:
        mlee = json.load(handle)
    with open(os.path.join(folder["mlee_fusion_hard"], "fold_1", "experiment.json"), encoding="utf-8") as handle:
        fusion = json.load(handle)
    assert mlee["init_seed"] == train.init_seed(int(SEED), "mlee")
    assert set(mlee["data"]) == set(train.DATA_KEYS) and mlee["data"]["dev_rule"] == "session_partner"
    branch_seeds = {b: fusion["pretrained"][b]["init_seed"] for b in ("mlee", "dominant")}
    assert branch_seeds["mlee"] != branch_seeds["dominant"] != fusion["init_seed"]


@pytest.mark.parametrize("key, value", [("dev_rule", "none"), ("seed", 7), ("training_set", "dominant"),
                                        ("include_self_evaluations", True), ("speed_factors", [0.9, 1.1])])
def test_two_step_runs_refuse_a_branch_trained_on_other_data(chain, key, value):
    _, folder, _, _ = chain
    source = os.path.join(folder["mlee"], "fold_1")
    with open(os.path.join(source, "experiment.json"), encoding="utf-8") as handle:
        data = dict(json.load(handle)["data"])
    recorded = data[key]
    data[key] = value
    hparams = {"fold": 1, "pretrained_mlee_folder": source, "data": data}
    with pytest.raises(EmoLobesError) as error:
        train.load_pretrained_branch(hparams, "mlee")
    message = str(error.value)
    assert "\n" not in message
    assert f"{key}={json.dumps(recorded)}" in message and f"{key}={json.dumps(value)}" in message


@pytest.mark.parametrize("content, expected", [
    ({"recipe": "EmoNet", "fold": 1}, "is not an MLEE run's folder: its experiment.json was not written by the MLEE"),
    ({"recipe": "MLEE", "fold": 1}, "is not an MLEE run's folder: its experiment.json records no method"),
    ("{not json", "experiment.json cannot be read"),
])
def test_a_wrong_pretrained_folder_says_what_it_is_missing(tmp_path, content, expected):
    with open(tmp_path / "experiment.json", "w", encoding="utf-8") as handle:
        handle.write(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(EmoLobesError, match=expected) as error:
        train.load_pretrained_branch({"fold": 1, "pretrained_mlee_folder": str(tmp_path)}, "mlee")
    assert "None" not in str(error.value)
