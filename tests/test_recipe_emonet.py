"""Tests of the EmoNet recipe: data prep, round-robin order, and short end-to-end runs of scratch, transfer and
multi-domain training on synthetic corpora (tiny model), keyed by corpus name, on given split files and without dev."""
import doctest
import glob
import json
import os
import sys

import numpy as np
import pytest
import torch
from speechbrain.dataio.batch import PaddedBatch

from emo_lobes.features import feature_cache as features_cache
from emo_lobes.errors import EmoLobesError
from emo_lobes.training.round_robin import MultiCorpusDataset, RoundRobinBatchSampler
from emo_lobes.data.corpora import parse_corpus
from emo_lobes.data.manifest import load_manifest
from emo_lobes.data.splits import read_split_file
from emo_lobes.data.synthetic import write_corpus
from run_checks import run_train_in_process
from split_checks import run_on_split_file, tested_wavs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.benchmarks._common import load_recipe_module, load_recipe_modules  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "EmoNet")
TINY = ["--stem_channels=4", "--stack_channels=[8, 8, 16]", "--attention_size=8", "--head_hidden_size=8",
        "--batch_size=16", "--eval_batch_size=32", "--default_split={k: 4}", "--noprogressbar"]
#: The split of the prep tests: 4 speaker folds, one dev speaker.
SPLIT = {"method": "speaker_kfold", "k": 4, "dev": {"speakers": 1}}


def _load(name):
    return load_recipe_module("EmoNet", name)


prepare, train = load_recipe_modules("EmoNet", "prepare", "train")


def run_train(hparams_name, *args):
    """Run EmoNet's train.py in this process."""
    run_train_in_process(RECIPE, hparams_name, *args)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("emonet_synthetic"))
    return dict({name: write_corpus(name, root) for name in ("urdu", "emodb", "gemep", "masc")}, root=root)


def declaration(name, folder, **split):
    return prepare.emonet_declarations({}, folder, [name], dict(SPLIT, **split))[name]


@pytest.fixture(scope="module")
def scratch_run(corpora, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("emonet_scratch"))
    run_train("scratch.yaml", f"--data_folder={corpora['urdu']}", f"--output_folder={out}", "--max_epochs=2",
              "--patience=1", *TINY)
    return out


def _snapshot(folder):
    return {path: os.path.getmtime(path) for path in glob.glob(os.path.join(folder, "**"), recursive=True)}


def test_recipe_doctests():
    for module in (prepare, train, _load("egemaps_svm"), _load("mcnemar_table"), _load("corpus_table"),
                   _load("make_table3"), _load("plot_figure7"), _load("run_grid")):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_prepare_is_speaker_independent_and_skips_or_rebuilds(corpora, tmp_path):
    before = _snapshot(corpora["urdu"])
    urdu = declaration("urdu", corpora["urdu"])
    paths = prepare.prepare_emonet(urdu, str(tmp_path), fold=3)
    split = json.load(open(paths["split"]))
    parts = {part: [dict(v, id=k) for k, v in json.load(open(paths[part])).items()] for part in ("train", "valid", "test")}
    speakers = {part: {r["speaker"] for r in records} for part, records in parts.items()}
    assert not (speakers["train"] & speakers["valid"] or speakers["train"] & speakers["test"]
                or speakers["valid"] & speakers["test"])  # speaker-independent
    assert split["name"] == "fold_3" and len(split["dev_speakers"]) == 1 and split["speaker_independent"]
    assert json.load(open(paths["labels"])) == ["angry", "happy", "neutral", "sad"]
    # the split file of the prep lists exactly the test manifest's wavs, relative to the corpus root
    lists, meta = read_split_file(paths["split_urdu"])
    assert sorted(lists["test"]) == sorted(r["rel_wav"] for r in parts["test"]) and meta["corpus"] == "urdu"
    stamp = os.path.getmtime(paths["train"])
    prepare.prepare_emonet(urdu, str(tmp_path), fold=3)
    assert os.path.getmtime(paths["train"]) == stamp  # same options: skipped
    prepare.prepare_emonet(urdu, str(tmp_path), fold=2)
    assert json.load(open(paths["split"]))["name"] == "fold_2"  # new fold: rebuilt
    prepare.prepare_emonet(declaration("urdu", corpora["urdu"], k=3), str(tmp_path), fold=2)
    assert json.load(open(paths["split"]))["n"] != split["n"]  # new declaration: rebuilt
    assert _snapshot(corpora["urdu"]) == before  # nothing written under the data folder
    with pytest.raises(EmoLobesError, match="inside the data folder"):
        prepare.prepare_emonet(urdu, os.path.join(corpora["urdu"], "prep"))


def test_paper_class_sets_and_declared_names(tmp_path):
    decls = prepare.emonet_declarations({"calls": {"parser": "csv", "folder": "Calls", "emotions": ["angry", "sad"]}},
                                        str(tmp_path), ["iemocap", "calls"], SPLIT)
    assert decls["iemocap"].emotions == ["angry", "happy", "neutral", "sad"]  # Table 1: IEMOCAP (4 classes)
    assert decls["iemocap"].merge == {"excited": "happy"} and decls["calls"].emotions == ["angry", "sad"]
    assert decls["calls"].split == SPLIT and decls["calls"].options["corpus_name"] == "calls"


def test_round_robin_takes_one_batch_of_each_corpus_in_turn(corpora, tmp_path):
    hparams = {"sample_rate": 16000, "train_chunk_duration": 5.0, "eval_max_duration": 30.0, "batch_size": 40,
               "eval_batch_size": 8, "num_workers": 0, "seed": 0}
    datasets = []
    for index, name in enumerate(("urdu", "emodb")):
        paths = prepare.prepare_emonet(declaration(name, corpora[name]), str(tmp_path / name))
        corpus, _ = train.corpus_datasets(hparams, paths, {name: corpora[name]}, index)
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
    # the split is recorded and copied: every tested wav is in the copy's test list, which --split_file reads
    assert results["split"]["urdu"]["speaker_independent"] and results["selection"] == "best dev UAR"
    assert tested_wavs(scratch_run) == set(read_split_file(os.path.join(scratch_run, "splits", "urdu.json"))[0]["test"])
    assert {p["corpus"] for p in results["predictions"]} == {"urdu"}


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
    run_train("multidomain.yaml", "--corpus=[urdu, emodb]", f"--data_folder={corpora['root']}",
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
    egemaps_svm.main(["--corpus", "urdu", "--data_folder", corpora["urdu"], "--output_folder", out, "--k", "4"])
    results = json.load(open(os.path.join(out, "test_results.json")))
    assert results["c"] in egemaps_svm.C_GRID and len(results["dev_ua_by_c"]) == 10
    assert results["dev_ua"] == max(results["dev_ua_by_c"].values())
    assert results["labels"] == ["angry", "happy", "neutral", "sad"] and results["n"] == len(results["predictions"])
    assert "test UAR" in capsys.readouterr().out
    assert tested_wavs(out) == set(read_split_file(os.path.join(out, "prep", "splits", "urdu.json"))[0]["test"])
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
    folders = f"--data_folder={corpora['root']}"
    out4 = str(tmp_path / "arousal")
    run_train("aggregated.yaml", "--target=arousal", "--corpus=[urdu, emodb]", folders, f"--output_folder={out4}",
              "--max_epochs=1", *TINY)
    results = json.load(open(os.path.join(out4, "test_results.json")))
    assert results["labels"] == ["high", "low"] and results["corpus"] == "arousal"
    assert set(results["split"]) == {"urdu", "emodb"} and sorted(os.listdir(os.path.join(out4, "splits"))) == [
        "emodb.json", "urdu.json"]
    for corpus in ("urdu", "emodb"):  # pooled predictions keep their corpus and their wav under its root
        split_test = set(read_split_file(os.path.join(out4, "splits", f"{corpus}.json"))[0]["test"])
        assert tested_wavs(out4, corpus) and tested_wavs(out4, corpus) <= split_test
    out5 = str(tmp_path / "a_plus_v")
    run_train("arousal_valence.yaml", "--corpus=[urdu, emodb]", folders, f"--output_folder={out5}",
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


def _oracle_run(folder, reference, **extra):
    """Write a run in ``folder`` that predicts every test utterance of ``reference`` right."""
    from emo_lobes.evaluation.metrics import classification_metrics, write_test_results

    perfect = [dict(p, pred=p["true"]) for p in reference["predictions"]]
    metrics = classification_metrics([p["true"] for p in perfect], [p["pred"] for p in perfect],
                                     labels=reference["labels"])
    os.makedirs(folder, exist_ok=True)
    write_test_results(os.path.join(folder, "test_results.json"), metrics, perfect, extra=extra)
    return metrics


def test_table3_reports_both_evaluation_points_and_the_svm(scratch_run, tmp_path, capsys):
    make_table3 = _load("make_table3")
    scratch = json.load(open(os.path.join(scratch_run, "test_results.json")))
    _oracle_run(tmp_path / "svm", scratch, dev_ua=0.5)
    output = tmp_path / "table3.md"
    make_table3.main(["--scratch", f"urdu={scratch_run}", "--scratch", f"emodb={scratch_run}",
                      "--egemaps", f"urdu={tmp_path / 'svm'}", "--output", str(output)])
    text = output.read_text()
    row = [cell.strip() for cell in [line for line in text.splitlines() if line.startswith("| urdu")][0].split("|")]
    best, final = scratch["best"], scratch["final"]
    assert row[2:9] == ["25.0", f"{100 * best['dev']['ua']:.1f}", f"{100 * best['test']['ua']:.1f}",
                        f"{100 * final['dev']['ua']:.1f}", f"{100 * final['test']['ua']:.1f}", "50.0", "100.0"]
    assert f"{100 * best['test']['ua']:.1f}" == f"{100 * scratch['ua']:.1f}"  # the top level is the best-dev point
    assert "| EMO-DB " in text and "(paper" in text  # emodb matches EmoSet's EMO-DB row, printed labelled
    with pytest.raises(SystemExit):
        make_table3.main(["--scratch", f"urdu={scratch_run}", "--egemaps", f"emodb={tmp_path / 'svm'}"])
    assert "has no scratch run" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # an SVM result is not a scratch run
        make_table3.main(["--scratch", f"urdu={tmp_path / 'svm'}"])
    assert "without best/final" in capsys.readouterr().err


def test_figure7_colours_gains_and_marks_mcnemar(scratch_run, tmp_path):
    plot_figure7 = _load("plot_figure7")
    scratch = json.load(open(os.path.join(scratch_run, "test_results.json")))
    metrics = _oracle_run(tmp_path / "oracle", scratch, best={"dev": {"ua": 1.0}})
    output = tmp_path / "figure7b.png"
    plot_figure7.main(["--figure", "b", "--reference", f"urdu={scratch_run}",
                       "--system", f"all:urdu={tmp_path / 'oracle'}", "--system", f"same:urdu={scratch_run}",
                       "--output", str(output)])
    assert open(output, "rb").read(4) == b"\x89PNG"
    row = [line for line in (tmp_path / "figure7b.md").read_text().splitlines() if line.startswith("| urdu")][0]
    cells = [cell.strip() for cell in row.split("|")[2:-1]]
    errors = sum(p["true"] != p["pred"] for p in scratch["predictions"])
    gain = 100 * (metrics["ua"] - scratch["ua"])
    mark = "+" if errors >= 6 else ""  # 6 discordant pairs reach p < 0.05
    assert cells[1] == f"100.0{mark} ({gain:+.1f})"
    assert cells[2] == f"{100 * scratch['best']['dev']['ua']:.1f} (+0.0)" and cells[3].endswith("(+0.0)")
    with pytest.raises(SystemExit):  # a system without its reference
        plot_figure7.main(["--reference", f"emodb={scratch_run}", "--system", f"all:urdu={scratch_run}",
                           "--output", str(tmp_path / "x.png")])


def test_grid_runs_every_system_on_the_scratch_split_and_assembles_the_tables(scratch_run, tmp_path, capsys):
    import shutil

    run_grid = _load("run_grid")
    grid = str(tmp_path / "grid")
    runs = run_grid.grid_runs(["urdu", "iemocap", "emodb"], "/data", grid, train_overrides=["--max_epochs=3"])
    names = [run["name"] for run in runs]
    # iemocap is the paper's only source among these corpora (Section 7.2.1): adapters and head to each other corpus
    assert [n for n in names if n.startswith("transfer_head/")] == ["transfer_head/iemocap_to_urdu",
                                                                    "transfer_head/iemocap_to_emodb"]
    assert len(names) == 3 + 3 + 4 + 1 + 3 * (1 + 3) and names.index("multidomain") > names.index("scratch/emodb")
    for run in runs:
        command = " ".join(run["command"])
        if "train.py" in command:
            assert command.endswith("--max_epochs=3") or "multidomain" in command
        if run["name"].startswith(("transfer", "multidomain", "aggregated", "arousal")):  # the scratch runs' splits
            declared = json.loads(next(a for a in run["command"] if a.startswith("--corpora="))[len("--corpora="):])
            assert {c: d["split"]["file"] for c, d in declared.items()} == {
                c: os.path.abspath(run_grid.split_file(grid, c)) for c in ("urdu", "iemocap", "emodb")}
    valence_to_urdu = next(run for run in runs if run["name"] == "transfer_adapters/valence_to_urdu")
    assert "--pretrained_folder=" + os.path.join(grid, "aggregated_valence") in valence_to_urdu["command"]
    assert [run["name"] for run in runs if run.get("optional")] == ["egemaps/urdu", "egemaps/iemocap", "egemaps/emodb"]
    run_grid.main(["--data_folder", "/data", "--corpus", "urdu", "emodb", "--output_folder", grid, "--dry_run"])
    assert capsys.readouterr().out.count("train.py") == 2 + 4 + 1 + 3 * 3
    assert not os.path.exists(grid)  # a dry run writes nothing

    # the finished runs of a grid, here copies of one scratch run (and an oracle) in the grid's layout
    scratch = json.load(open(os.path.join(scratch_run, "test_results.json")))
    for name in ("scratch/urdu", "transfer_head/emodb_to_urdu"):
        shutil.copytree(scratch_run, os.path.join(grid, name), ignore=shutil.ignore_patterns("save", "model"))
    for name in ("multidomain/urdu", "transfer_adapters/arousal_to_urdu", "transfer_adapters/emodb_to_urdu"):
        _oracle_run(os.path.join(grid, name), scratch, best=scratch["best"])
    _oracle_run(os.path.join(grid, "egemaps", "urdu"), scratch, dev_ua=0.5)
    written = run_grid.assemble(grid, ["urdu", "emodb"], sources=["emodb"])  # emodb's runs unfinished
    assert sorted(os.path.basename(p) for p in written) == [
        "figure7a.md", "figure7a.png", "figure7b.md", "figure7b.png", "table3.md", "table4.md"]
    # a rerun in that folder with other arguments would take these runs as its own: refused in one line
    from emo_lobes.training.run_lock import claim_driver_folder, release_output_folder

    data = str(tmp_path / "data")
    os.makedirs(data)
    claim_driver_folder(grid, data, "grid", {"corpus": ["urdu", "emodb"], "fold": 1})
    with pytest.raises(EmoLobesError, match="was run with other arguments"):
        claim_driver_folder(grid, data, "grid", {"corpus": ["urdu", "emodb", "ravdess"], "fold": 1})
    release_output_folder(grid)
    def row(name, corpus="urdu"):
        line = [line for line in open(os.path.join(grid, name)) if line.startswith(f"| {corpus} ")][0]
        return [cell.strip() for cell in line.split("|")[1:-1]]

    errors = sum(p["true"] != p["pred"] for p in scratch["predictions"])
    oracle = "100.0" + ("+" if errors >= 6 else "")  # 6 discordant pairs reach p < 0.05
    assert row("table4.md") == ["urdu", "25.0", f"{100 * scratch['ua']:.1f}", oracle, oracle]  # all, arousal
    assert row("table3.md")[-2:] == ["50.0", "100.0"]  # the planted eGeMAPS run
    assert row("figure7a.md")[2].startswith(oracle)  # adapters from emodb, test, against head tuning from emodb


def test_two_csv_corpora_keep_their_own_prep_phases_checkpoints_and_results(corpora, tmp_path):
    """GEMEP and MASC, both read by the csv parser, in one multi-domain run: everything is keyed by their names."""
    out = tmp_path / "gemep_masc"
    run_train("multidomain.yaml", "--corpus=[gemep, masc]", f"--data_folder={corpora['root']}",
              "--corpora={gemep: {parser: csv, folder: GEMEP}, "
              "masc: {parser: csv, folder: MASC, split: {method: speaker_kfold, k: 4, dev: none}}}",
              f"--output_folder={out}", "--rounds_per_level=1", "--rounds_per_epoch=3", "--max_epochs=1",
              "--no_dev_epochs_per_level=1", *TINY)
    pooled = json.load(open(out / "test_results.json"))
    assert set(pooled["corpora"]) == set(pooled["split"]) == {"gemep", "masc"}
    for name in ("gemep", "masc"):
        assert (out / "prep" / name / "train.json").is_file() and (out / "save" / f"finetune_{name}").is_dir()
        results = json.load(open(out / name / "test_results.json"))
        assert results["corpus"] == name and set(results["split"]) == {name}
        # every prediction is an utterance of this corpus's own test manifest and split file, none of the other's
        manifest = load_manifest(str(out / "prep" / name / "test.json"))
        assert {p["corpus"] for p in results["predictions"]} == {name} and manifest
        assert {p["id"] for p in results["predictions"]} == set(manifest)
        assert all(manifest[p["id"]]["corpus"] == name and manifest[p["id"]]["rel_wav"] == p["wav"]
                   and os.path.isfile(os.path.join(corpora[name], p["wav"])) for p in results["predictions"])
        split_test = set(read_split_file(str(out / "splits" / f"{name}.json"))[0]["test"])
        assert tested_wavs(out / name) == split_test == tested_wavs(out, corpus=name)
    experiment = json.load(open(out / "experiment.json"))
    assert [(d["name"], d["phase"]) for d in experiment["domains"]] == [("gemep", "finetune_gemep"),
                                                                        ("masc", "finetune_masc")]
    # MASC has no dev set: its fine-tuning ran the fixed epochs and tested the last one
    masc = json.load(open(out / "masc" / "test_results.json"))
    assert masc["selection"] == "last epoch (no dev set)" and masc["final"]["dev"] is None
    assert masc["best_epoch"] == masc["final"]["test"]["epoch"] == 1 and pooled["split"]["masc"]["n"]["dev"] == 0
    log = (out / "train_log.txt").read_text()
    assert "phase: finetune_gemep, epoch: 1" in log and "phase: finetune_masc, epoch: 1" in log


def test_scratch_on_a_split_file_tests_exactly_its_test_list(corpora, tmp_path):
    """A hand-written split file (wav paths, no dev list entries: no dev set) decides what is tested."""
    records = parse_corpus("urdu", corpora["urdu"]).records
    test_speakers = sorted({r["speaker"] for r in records})[:2]
    split = {"corpus": "urdu", "name": "by_hand",
             "train": [r["wav"] for r in records if r["speaker"] not in test_speakers], "dev": [],
             "test": [r["wav"] for r in records if r["speaker"] in test_speakers]}
    split_file = tmp_path / "urdu_by_hand.json"
    split_file.write_text(json.dumps(split))
    out = tmp_path / "on_split_file"
    tested = run_on_split_file("recipes/EmoNet/train.py", "recipes/EmoNet/hparams/scratch.yaml", split_file, out,
                               [f"--data_folder={corpora['urdu']}", "--no_dev_epochs_per_level=2", "--lr_levels=[0.01]",
                                *TINY])
    assert tested == set(split["test"])
    results = json.load(open(out / "test_results.json"))
    assert results["split"]["urdu"]["name"] == "by_hand" and results["split"]["urdu"]["method"] == "file"
    assert results["selection"] == "last epoch (no dev set)" and results["best_epoch"] == 2
    # the run's copy of its split reads back as the same split
    copy = read_split_file(str(out / "splits" / "urdu.json"))[0]
    assert set(copy["test"]) == set(split["test"]) and set(copy["train"]) == set(split["train"]) and copy["dev"] == []


def test_precise_bn_of_a_round_robin_phase_gives_each_corpus_batch_norm_its_own_statistics():
    # The round-robin multi-domain phase trains one batch norm set per corpus at lr 0.1 too: its running statistics
    # must be recomputed like a single-corpus phase's, each corpus's from that corpus's training items only.
    from types import SimpleNamespace

    class PerCorpusNorm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norms = torch.nn.ModuleList([torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)])

        def forward(self, batch):
            return self.norms[int(batch.domain[0])](batch.x.data)

    torch.manual_seed(0)
    corpora = [[{"domain": 0, "x": torch.randn(2) * 3 + 5} for _ in range(7)],
               [{"domain": 1, "x": torch.randn(2) - 4} for _ in range(4)]]
    passes = []
    rounds = RoundRobinBatchSampler([7, 4], batch_size=2, rounds=5, seed=0, rank=0, world_size=1)
    model = PerCorpusNorm()
    brain = SimpleNamespace(hparams=SimpleNamespace(precise_bn=True, seed=0, batch_size=2, rounds_per_level=5),
                            bn_train_set=MultiCorpusDataset(corpora, set_pass=passes.append),
                            bn_loader_kwargs={"batch_sampler": rounds}, modules=SimpleNamespace(model=model),
                            compute_forward=lambda batch, stage: model(batch))
    train.EmoNetBrain.precise_bn(brain, epoch=2)
    for corpus, norm in enumerate(model.norms):  # the mean of the corpus's own batch means, not the default 0
        means = [torch.stack([corpora[c][i]["x"] for c, i, _ in keys]).mean(0) for keys in rounds.whole_pass(2)
                 if keys[0][0] == corpus]
        assert len(means) == len(corpora[corpus]) // 2
        assert torch.allclose(norm.running_mean, torch.stack(means).mean(0), atol=1e-5)
        assert norm.momentum == 0.1 and model.training
    # the pass of the epoch's last round: round 9 is pass 3 of corpus 0 (3 batches a pass), 4 of corpus 1 (2)
    assert set(passes) == {3, 4}
    state = torch.get_rng_state()
    train.EmoNetBrain.precise_bn(brain, epoch=2)
    assert torch.equal(state, torch.get_rng_state())  # no global draw: dropout masks are as without the pass
    # every item once, and the same batches on every process (all get the same statistics)
    batches = rounds.whole_pass(2)
    for corpus, items in enumerate(corpora):
        assert sorted(key[1] for keys in batches for key in keys if key[0] == corpus) == list(range(len(items)))
    shards = [RoundRobinBatchSampler([7, 4], 2, rounds=5, seed=0, rank=k, world_size=2).whole_pass(2) for k in (0, 1)]
    assert shards[0] == shards[1]


def test_batch_norm_fixes_are_on_by_default_and_run_before_dev_scoring():
    # EmoNet's dev-loss blow-up came from stale running batch-norm statistics (lr 0.1, a few steps per epoch) and
    # from padding counted in the batch statistics: every EmoNet hparams file must keep both fixes on, and the
    # epoch's dev scoring and checkpoint must come after the precise-BN pass.
    import inspect
    import yaml

    for path in glob.glob(os.path.join(RECIPE, "hparams", "*.yaml")):
        text = "\n".join(line for line in open(path, encoding="utf-8") if not line.lstrip().startswith("!"))
        keys = {line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()}
        assert {"precise_bn", "masked_batch_norm"} <= keys, path
        assert yaml.safe_load("\n".join(l for l in text.splitlines() if l.startswith(("precise_bn:",
                                        "masked_batch_norm:")))) == {"precise_bn": True, "masked_batch_norm": True}
    source = inspect.getsource(train.EmoNetBrain._fit_valid)
    assert source.index("self.precise_bn(epoch)") < source.index("super()._fit_valid")
