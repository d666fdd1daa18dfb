"""Tests of the data layer: corpus declarations, class selection, every split form, split files and the splits CLI."""
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from emo_lobes.data.declarations import check_corpus_folders, declare_corpora, load_corpus_split, read_corpus
from emo_lobes.data.selection import select_classes
from emo_lobes.data.splits import (
    check_class_coverage, n_folds_of_spec, read_split_file, split_from_spec, write_split_file,
)
from emo_lobes.data.synthetic import write_corpus
from emo_lobes.errors import EmoLobesError

EMOTIONS = ("neutral", "happy", "sad", "angry")


def acted(n_speakers=8, per_class=3):
    """Every speaker speaks every class (an acted corpus)."""
    return [{"id": f"s{s}_{e}{i}", "wav": f"s{s}/{e}{i}.wav", "speaker": f"s{s}", "emotion": e,
             "gender": ("female", "male")[s % 2]}
            for s in range(n_speakers) for e in EMOTIONS for i in range(per_class)]


def talk_show():
    """URDU-like: most speakers hold one class, angry has four speakers, one of them large."""
    plan = {"a1": {"angry": 40}, "a2": {"angry": 20}, "a3": {"angry": 10}, "a4": {"angry": 2, "neutral": 4},
            "n1": {"neutral": 60, "happy": 6}, "n2": {"neutral": 8}, "n3": {"neutral": 4},
            "h1": {"happy": 20}, "h2": {"happy": 10}, "h3": {"happy": 4}, "h4": {"happy": 2},
            "d1": {"sad": 30}, "d2": {"sad": 20}, "d3": {"sad": 4}, "d4": {"sad": 2}}
    return [{"id": f"{spk}_{cls}{i}", "wav": f"{cls}/{spk}_{i}.wav", "speaker": spk, "emotion": cls}
            for spk, counts in plan.items() for cls, n in counts.items() for i in range(n)]


def speakers_of(split, records, part):
    by_id = {r["id"]: r["speaker"] for r in records}
    return {by_id[u] for u in split[part]}


# ---- generated splits -----------------------------------------------------------------------------------------

def test_speaker_kfold_folds_partition_the_speakers_and_cover_every_class_in_dev_and_test():
    records = acted()
    folds = [split_from_spec(records, {"method": "speaker_kfold", "k": 4}, fold=f, seed=3) for f in range(1, 5)]
    tested = [s for fold in folds for s in fold["test_speakers"]]
    assert sorted(tested) == sorted({r["speaker"] for r in records})  # each speaker tested once
    for fold in folds:
        assert check_class_coverage(fold, records) == []
        assert not set(fold["dev_speakers"]) & set(fold["test_speakers"])
        assert fold["speaker_independent"] and fold["method"] == "speaker_kfold"
    again = split_from_spec(records, {"method": "speaker_kfold", "k": 4}, fold=2, seed=3)
    assert again["test"] == folds[1]["test"]  # deterministic


def test_speaker_kfold_refuses_in_one_line_when_a_class_has_fewer_speakers_than_folds():
    with pytest.raises(EmoLobesError) as err:
        split_from_spec(talk_show(), {"method": "speaker_kfold", "k": 5}, fold=1)
    message = str(err.value)
    assert "\n" not in message and "class 'angry' has 4 speakers, fewer than 5 folds" in message
    assert "method: holdout with folds: 5" in message


def test_holdout_folds_on_a_talk_show_corpus_keep_every_class_in_train_dev_and_test():
    records = talk_show()
    spec = {"method": "holdout", "n_test": 2, "folds": 5, "dev": {"speakers": 1}}
    assert n_folds_of_spec(records, spec) == 5
    tests = []
    for fold in range(1, 6):
        split = split_from_spec(records, spec, fold=fold, seed=0)
        assert check_class_coverage(split, records) == [], fold
        assert split["dev"] and split["speaker_independent"]
        tests.append(tuple(split["test_speakers"]))
    assert len(set(tests)) > 1  # the folds are different draws


def test_a_dev_draw_that_cannot_cover_a_class_is_refused_naming_the_class():
    records = [r for r in talk_show() if r["speaker"] not in ("a3", "a4")]  # angry: two speakers only
    spec = {"dev_speakers": [], "test_speakers": ["a2", "n2", "h2", "d2"], "dev": {"speakers": 1}}
    with pytest.raises(EmoLobesError) as err:
        split_from_spec(records, spec)
    assert "'angry'" in err.value.problem and "dev" in err.value.problem


def test_dev_rules_none_utterance_fraction_and_next_fold():
    records = acted()
    assert split_from_spec(records, {"method": "speaker_kfold", "k": 4, "dev": "none"})["dev"] == []
    flagged = split_from_spec(records, {"method": "speaker_kfold", "k": 4, "dev": {"utterance_fraction": 0.25}})
    assert flagged["speaker_dependent_dev"] and not flagged["speaker_independent"]
    assert speakers_of(flagged, records, "dev") <= speakers_of(flagged, records, "train")
    folds = [split_from_spec(records, {"method": "speaker_kfold", "k": 4}, fold=f) for f in (1, 2)]
    assert folds[0]["dev_speakers"] == folds[1]["test_speakers"]  # next_fold


def test_loso_session_and_loso_with_session_partner():
    records = [dict(r, session=f"Ses0{int(r['speaker'][1:]) // 2 + 1}") for r in acted(n_speakers=10)]
    fold = split_from_spec(records, {"method": "loso_session"}, fold=2)
    assert len(fold["test_speakers"]) == 2 and len(fold["dev_speakers"]) == 1
    loso = split_from_spec(records, {"method": "loso", "dev": "session_partner"}, fold=1)
    (test,), (dev,) = loso["test_speakers"], loso["dev_speakers"]
    sessions = {r["speaker"]: r["session"] for r in records}
    assert sessions[test] == sessions[dev] and test != dev


def test_random_kfold_for_corpora_without_speakers_is_flagged_not_speaker_independent():
    records = [dict(r, speaker=None) for r in acted()]
    split = split_from_spec(records, {"method": "random_kfold", "k": 4})
    assert split["speaker_independent"] is False
    with pytest.raises(EmoLobesError):
        split_from_spec(records, {"method": "speaker_kfold"})


def test_a_merged_override_that_mixes_forms_is_refused_and_method_null_replaces():
    records = acted()
    mixed = {"method": "speaker_kfold", "k": 5, "dev_speakers": ["s0"], "test_speakers": ["s1"]}
    with pytest.raises(EmoLobesError) as err:
        split_from_spec(records, mixed, corpus="urdu")
    assert "mixes method 'speaker_kfold' and dev_speakers/test_speakers" in err.value.problem
    assert "method: null" in err.value.fix
    split = split_from_spec(records, dict(mixed, method=None))
    assert split["test_speakers"] == ["s1"] and split["dev_speakers"] == ["s0"]
    with pytest.raises(EmoLobesError) as err:
        split_from_spec(records, {"method": "kfold"})
    assert "unknown method" in err.value.problem


# ---- given splits: files, EmoBox, SpeechBrain -----------------------------------------------------------------

def test_split_file_round_trip_by_wav_paths_and_ids(tmp_path):
    records = acted()
    split = split_from_spec(records, {"method": "speaker_kfold", "k": 4}, fold=1)
    path = write_split_file(split, records, str(tmp_path / "split.json"), "mine")
    lists, meta = read_split_file(path)
    assert meta["corpus"] == "mine" and lists["test"][0].endswith(".wav")
    again = split_from_spec(records, {"file": path})
    assert (again["train"], again["dev"], again["test"]) == (split["train"], split["dev"], split["test"])
    by_ids = tmp_path / "ids.json"
    by_ids.write_text(json.dumps({"train": split["train"], "test": split["test"]}))
    drawn = split_from_spec(records, {"file": str(by_ids)})  # no dev list: the default dev rule draws one
    assert drawn["test"] == split["test"] and drawn["dev"]
    empty_dev = tmp_path / "nodev.json"
    empty_dev.write_text(json.dumps({"train": split["train"], "dev": [], "test": split["test"]}))
    assert split_from_spec(records, {"file": str(empty_dev)})["dev"] == []


def test_split_file_entries_that_match_no_file_are_named_and_unlisted_utterances_left_out(tmp_path):
    records = acted()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"train": ["s0/neutral0.wav", "nope/a.wav", "nope/b.wav"], "test": ["s1/sad0.wav"]}))
    with pytest.raises(EmoLobesError) as err:
        split_from_spec(records, {"file": str(path)})
    assert "2 train entries match no file" in err.value.problem and "nope/a.wav" in err.value.problem
    path.write_text(json.dumps({"train": ["s0/neutral0.wav", "s0/happy0.wav"], "dev": [], "test": ["s1/sad0.wav"]}))
    split = split_from_spec(records, {"file": str(path)})
    assert split["n_left_out"] == len(records) - 3
    assert any("holds 0 'sad'" in line for line in split["warnings"])  # given splits are warned about, not refused


def test_speaker_overlap_is_refused_unless_allowed(tmp_path):
    records = acted()
    path = tmp_path / "overlap.json"
    path.write_text(json.dumps({"train": ["s0/neutral0.wav", "s1/neutral0.wav"], "dev": [],
                                "test": ["s0/sad0.wav"]}))
    with pytest.raises(EmoLobesError) as err:
        split_from_spec(records, {"file": str(path)})
    assert "speaker s0 in both train and test" in err.value.problem and "allow_speaker_overlap" in err.value.fix
    split = split_from_spec(records, {"file": str(path), "allow_speaker_overlap": True})
    assert split["allow_speaker_overlap"] and split["speaker_independent"] is False


def write_emobox_fold(folder, corpus, records, test_speakers, fold=1):
    """An EmoBox fold in its real format: fold_<k>/<corpus>_{train,test}_fold_<k>.jsonl with download paths."""
    os.makedirs(os.path.join(folder, f"fold_{fold}"), exist_ok=True)
    for part in ("train", "test"):
        rows = [r for r in records if (r["speaker"] in test_speakers) == (part == "test")]
        with open(os.path.join(folder, f"fold_{fold}", f"{corpus}_{part}_fold_{fold}.jsonl"), "w") as handle:
            for r in rows:
                handle.write(json.dumps({"key": f"{corpus}-{r['id']}", "dataset": corpus,
                                         "wav": f"downloads/{corpus}/Release/{r['wav']}", "type": "raw",
                                         "sample_rate": 16000, "task": "category", "length": 1.0,
                                         "emo": r["emotion"][0], "channel": 1}) + "\n")
    return folder


def test_emobox_fold_files_are_matched_by_path_ending_and_get_a_drawn_dev(tmp_path):
    records = acted()
    folder = write_emobox_fold(str(tmp_path / "emobox" / "data" / "mine"), "mine", records, {"s6", "s7"})
    split = split_from_spec(records, {"emobox": folder}, fold=1)
    assert speakers_of(split, records, "test") == {"s6", "s7"}
    assert split["dev"] and split["name"] == "emobox_fold_1"
    with pytest.raises(EmoLobesError) as err:
        split_from_spec(records, {"emobox": folder}, fold=2)
    assert "no fold_2/" in err.value.problem


def test_speechbrain_iemocap_manifests_give_their_partitions(tmp_path):
    records = acted()
    for part, speakers in (("train", {"s0", "s1", "s2", "s3", "s4", "s5"}), ("valid", {"s6"}), ("test", {"s7"})):
        manifest = {r["id"]: {"wav": f"/elsewhere/IEMOCAP/{r['wav']}", "length": 1.0, "emo": r["emotion"][:3]}
                    for r in records if r["speaker"] in speakers}
        (tmp_path / f"{part}.json").write_text(json.dumps(manifest))
    split = split_from_spec(records, {"speechbrain": str(tmp_path)})
    assert split["dev_speakers"] == ["s6"] and split["test_speakers"] == ["s7"]


# ---- declarations and class selection -------------------------------------------------------------------------

def test_declarations_default_every_parser_and_key_two_csv_corpora_apart(tmp_path):
    root = str(tmp_path)
    write_corpus("gemep", root)
    write_corpus("masc", root)
    decls = declare_corpora({"gemep": {"parser": "csv", "folder": "GEMEP"},
                             "masc": {"parser": "csv", "folder": "MASC"}}, root)
    check_corpus_folders(decls)
    records = {name: read_corpus(decl)[0] for name, decl in decls.items()}
    assert {r["corpus"] for r in records["gemep"]} == {"gemep"} and {r["corpus"] for r in records["masc"]} == {"masc"}
    assert not {r["speaker"] for r in records["gemep"]} & {r["speaker"] for r in records["masc"]}
    with pytest.raises(EmoLobesError) as err:
        declare_corpora({}, root, ["nosuch"])
    assert "neither declared" in err.value.problem
    with pytest.raises(EmoLobesError) as err:
        declare_corpora({"gemep": {"parser": "csv", "folders": "GEMEP"}}, root)
    assert "unknown keys folders" in err.value.problem
    with pytest.raises(EmoLobesError):
        check_corpus_folders(declare_corpora({}, root, ["ravdess", "emodb"]))


def test_single_corpus_runs_take_the_corpus_root_or_its_parent_and_a_split_file(tmp_path):
    root = str(tmp_path)
    folder = write_corpus("urdu", root)
    as_root = declare_corpora({}, folder, ["urdu"])["urdu"]
    as_parent = declare_corpora({}, root, ["urdu"])["urdu"]
    assert as_root.folder == as_parent.folder == os.path.abspath(folder)
    data = load_corpus_split(as_root, fold=1)
    path = data.write_split(str(tmp_path / "out"))
    assert path == str(tmp_path / "out" / "splits" / "urdu.json")
    with_file = declare_corpora({"urdu": {"split": {"method": "loso"}}}, folder, ["urdu"], split_file=path)["urdu"]
    again = load_corpus_split(with_file)
    assert again.split["test"] == data.split["test"] and again.split["method"] == "file"
    with pytest.raises(EmoLobesError):
        declare_corpora({}, root, ["urdu", "emodb"], split_file=path)


def test_a_class_list_the_corpus_cannot_give_is_an_error_and_merges_apply_first():
    records = [{"id": i, "label": lab, "emotion": emo} for i, (lab, emo) in
               enumerate([("exc", "excited"), ("hap", "happy"), ("sad", "sad"), ("xxx", "undecided")])]
    kept, labels = select_classes(records)
    assert labels == ["excited", "happy", "sad"]  # undecided dropped by default
    kept, labels = select_classes(records, ["happy", "sad"], {"excited": "happy"})
    assert Counter(r["emotion"] for r in kept) == {"happy": 2, "sad": 1}
    with pytest.raises(EmoLobesError) as err:
        select_classes(records, ["happy", "fear", "pride"], corpus="gemep")
    assert "'fear', 'pride'" in err.value.problem
    kept, labels = select_classes(records, ["happy", "fear", "sad"], missing="drop")
    assert labels == ["happy", "sad"]
    assert select_classes(records, ["exc", "sad"], label_key="label")[1] == ["exc", "sad"]


# ---- the command line -----------------------------------------------------------------------------------------

def test_splits_make_and_show_on_a_synthetic_corpus(tmp_path):
    folder = write_corpus("emodb", str(tmp_path))
    before = sorted((p, os.path.getsize(os.path.join(d, p))) for d, _, fs in os.walk(folder) for p in fs)
    out = tmp_path / "splits" / "emodb.json"
    made = subprocess.run([sys.executable, "-m", "emo_lobes.data.splits", "make", "--corpus", "emodb", "--data_folder",
                           folder, "--method", "speaker_kfold", "--k", "3", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    files = sorted(os.listdir(tmp_path / "splits"))
    assert files == ["emodb_fold1.json", "emodb_fold2.json", "emodb_fold3.json"]
    tested = [set(read_split_file(str(tmp_path / "splits" / f))[0]["test"]) for f in files]
    assert not tested[0] & tested[1] and not tested[1] & tested[2]
    shown = subprocess.run([sys.executable, "-m", "emo_lobes.data.splits", "show", str(tmp_path / "splits" / files[0]),
                            "--corpus", "emodb", "--data_folder", folder], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "| partition |" in shown.stdout and "test speakers (" in shown.stdout
    bad = subprocess.run([sys.executable, "-m", "emo_lobes.data.splits", "make", "--corpus", "emodb", "--data_folder",
                          folder, "--method", "speaker_kfold", "--k", "40", "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    after = sorted((p, os.path.getsize(os.path.join(d, p))) for d, _, fs in os.walk(folder) for p in fs)
    assert before == after  # the data folder is read-only


def test_a_split_file_made_on_every_class_serves_a_recipe_that_uses_fewer(tmp_path):
    folder = write_corpus("emodb", str(tmp_path))
    every = load_corpus_split(declare_corpora({"emodb": {"split": {"method": "speaker_kfold", "k": 3}}}, folder)["emodb"])
    path = every.write_split(str(tmp_path / "run"))
    decl = declare_corpora({"emodb": {"emotions": ["angry", "sad"]}}, folder, ["emodb"], split_file=path)["emodb"]
    fewer = load_corpus_split(decl)
    kept = {r["id"] for r in fewer.records}
    assert fewer.split["test"] == sorted(u for u in every.split["test"] if u in kept)
    assert fewer.split["n_not_selected"] == len(every.records) - len(fewer.records) > 0


def test_review_fixes_fold_ranges_readback_of_shared_speaker_splits_formless_split_and_bad_numbers(tmp_path):
    records = acted(n_speakers=4)
    with pytest.raises(EmoLobesError) as err:  # LOSO fold 5 of 4 speakers no longer wraps to speaker 1
        split_from_spec(records, {"method": "loso", "dev": "none"}, fold=5)
    assert "has 4 folds" in err.value.problem
    with pytest.raises(EmoLobesError) as err:  # a single split has one fold
        split_from_spec(records, {"dev_speakers": ["s0"], "test_speakers": ["s1"]}, fold=2)
    assert "is a single split" in err.value.problem
    shared = split_from_spec([dict(r, speaker=None) for r in records], {"method": "random_kfold", "k": 4})
    path = write_split_file(shared, [dict(r, speaker=None) for r in records], str(tmp_path / "random.json"), "c")
    again = split_from_spec(records, {"file": path})  # the file says it shares speakers: read back as it is
    assert again["test"] == shared["test"] and again["speaker_independent"] is False
    for bad in ({"method": "speaker_kfold", "k": "five"}, {"method": "holdout", "dev": {"speakers": None}}, "loso"):
        with pytest.raises(EmoLobesError):
            split_from_spec(records, bad)
    folder = write_corpus("emodb", str(tmp_path))
    declared = {"emodb": {"split": {"method": "speaker_kfold", "k": 3}}}
    decl = declare_corpora(declared, folder, ["emodb"], split={"dev": "none"})["emodb"]
    assert decl.split == {"method": "speaker_kfold", "k": 3, "dev": "none"}  # options only: merged into the split
    with pytest.raises(EmoLobesError):
        declare_corpora(declared, folder, ["emodb"], split="loso")


def test_a_split_file_naming_a_file_the_parser_skipped_leaves_it_out_with_a_warning(tmp_path, capsys):
    import numpy as np
    import soundfile as sf
    folder = write_corpus("emodb", str(tmp_path))
    data = load_corpus_split(declare_corpora({"emodb": {"split": {"method": "speaker_kfold", "k": 3}}}, folder)["emodb"])
    path = data.write_split(str(tmp_path / "run"))
    broken = next(r["wav"] for r in data.records if r["id"] in data.split["test"])
    sf.write(os.path.join(folder, broken), np.full(1600, np.nan), 16000, subtype="FLOAT")  # this copy only
    again = load_corpus_split(declare_corpora({}, folder, ["emodb"], split_file=path)["emodb"])
    assert again.split["n_unusable"] == 1 and len(again.split["test"]) == len(data.split["test"]) - 1
    assert "lists 1 files the corpus parser skipped as unusable" in capsys.readouterr().out


def test_split_file_entries_may_be_absolute_paths_inside_the_corpus_root(tmp_path):
    records = acted()
    root = str(tmp_path / "corpus")
    path = tmp_path / "abs.json"
    path.write_text(json.dumps({"train": [os.path.join(root, r["wav"]) for r in records if r["speaker"] != "s7"],
                                "dev": [], "test": [os.path.join(root, r["wav"]) for r in records if r["speaker"] == "s7"]}))
    split = split_from_spec(records, {"file": str(path)}, corpus_root=root)
    assert split["test_speakers"] == ["s7"] and split["n_left_out"] == 0
