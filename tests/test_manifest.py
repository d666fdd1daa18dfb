"""Tests of manifests: atomic writes, SpeechBrain replacements, duplicate ids, option-aware prep skipping."""
import json
import os

import pytest
import speechbrain as sb

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.manifest import (
    PREP_OPTIONS_FILE, assert_not_inside, check_output_folder_writable, load_manifest, prep_is_current,
    save_prep_options, write_json_atomic, write_manifest, write_problems_report,
)


def make_records():
    return [
        {"id": "Ses01F_a", "wav": "Session1/a.wav", "duration": 2.5, "speaker": "Ses01F", "emotion": "angry",
         "annotations": {"e1": ["Anger"]}, "text": "well {laughter} fine"},
        {"id": "Ses01M_b", "wav": "Session1/b.wav", "duration": 1.0, "speaker": "Ses01M", "emotion": "sad",
         "annotations": {"e1": ["Sadness"]}, "text": "no"},
    ]


def test_manifest_loads_through_speechbrain_with_data_root_replaced(tmp_path):
    path = write_manifest(make_records(), str(tmp_path / "train.json"))
    raw = json.load(open(path))
    assert list(raw) == ["Ses01F_a", "Ses01M_b"]
    assert raw["Ses01F_a"]["wav"] == "{data_root}/Session1/a.wav"
    assert "id" not in raw["Ses01F_a"]

    dataset = sb.dataio.dataset.DynamicItemDataset.from_json(path, replacements={"data_root": "/corpora/iemocap"})
    dataset.set_output_keys(["id", "wav", "duration", "text", "annotations"])
    first = dataset[0]
    assert first["wav"] == "/corpora/iemocap/Session1/a.wav"
    assert first["duration"] == 2.5
    assert first["text"] == "well {laughter} fine"  # literal braces survive SpeechBrain's format_map
    assert first["annotations"] == {"e1": ["Anger"]}

    loaded = load_manifest(path, data_root="/other")
    assert loaded["Ses01M_b"]["wav"] == "/other/Session1/b.wav"
    assert load_manifest(path)["Ses01M_b"]["wav"] == "{data_root}/Session1/b.wav"


def test_manifest_fields_select_and_missing_field_is_an_error(tmp_path):
    path = write_manifest(make_records(), str(tmp_path / "m.json"), fields=["emotion", "duration"])
    assert json.load(open(path))["Ses01M_b"] == {"wav": "{data_root}/Session1/b.wav", "rel_wav": "Session1/b.wav",
                                                 "emotion": "sad", "duration": 1.0}
    with pytest.raises(EmoLobesError, match="has no field 'session'"):
        write_manifest(make_records(), str(tmp_path / "n.json"), fields=["session"])


def test_duplicate_ids_and_empty_records_raise_one_line(tmp_path):
    records = make_records() + [dict(make_records()[0])]
    with pytest.raises(EmoLobesError, match="duplicate utterance ids.*Ses01F_a") as err:
        write_manifest(records, str(tmp_path / "dup.json"))
    assert "\n" not in str(err.value) and "Fix:" in str(err.value)
    with pytest.raises(EmoLobesError, match="no records to write.*Fix:"):
        write_manifest([], str(tmp_path / "empty.json"))
    assert os.listdir(tmp_path) == []


def test_write_is_atomic_and_keeps_old_file_when_serialisation_fails(tmp_path):
    path = str(tmp_path / "train.json")
    write_manifest(make_records(), path)
    before = open(path).read()
    bad = make_records()
    bad[0]["duration"] = object()  # not serialisable: the write fails half-way
    with pytest.raises(TypeError):
        write_manifest(bad, path)
    assert open(path).read() == before
    assert sorted(os.listdir(tmp_path)) == ["train.json"]  # no temporary file left


def test_unwritable_output_folder_is_one_line_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = str(blocker / "manifests")
    with pytest.raises(EmoLobesError) as err:
        write_manifest(make_records(), os.path.join(target, "train.json"))
    assert target in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(EmoLobesError, match="cannot create output folder"):
        check_output_folder_writable(target)
    assert check_output_folder_writable(str(tmp_path / "a" / "b")) == str(tmp_path / "a" / "b")


def test_assert_not_inside_catches_subfolders_and_symlinks(tmp_path):
    data = tmp_path / "data"
    (data / "wav").mkdir(parents=True)
    assert_not_inside(str(tmp_path / "exp"), str(data))
    assert_not_inside(str(tmp_path / "data_other"), str(data))  # a shared prefix is not inside
    for inside in (data, data / "wav" / "out"):
        with pytest.raises(EmoLobesError, match="inside the data folder"):
            assert_not_inside(str(inside), str(data))
    link = tmp_path / "link"
    link.symlink_to(data)
    with pytest.raises(EmoLobesError, match="inside the data folder"):
        assert_not_inside(str(link / "out"), str(data))


def run_prep(folder, options, calls):
    """A prepare function following the documented pattern; ``calls`` counts real builds."""
    outputs = ["train.json", "test.json"]
    if prep_is_current(folder, options, outputs):
        return
    calls.append(dict(options))
    records = make_records()
    write_manifest(records[:1], os.path.join(folder, "train.json"))
    write_manifest(records[1:], os.path.join(folder, "test.json"))
    save_prep_options(folder, options)


def test_prep_skips_on_same_options_and_rebuilds_on_change_or_missing_output(tmp_path):
    folder, calls = str(tmp_path / "prep"), []
    run_prep(folder, {"seed": 1, "folds": (1, 2)}, calls)
    run_prep(folder, {"folds": [1, 2], "seed": 1}, calls)  # same options, other order / tuple vs list
    assert len(calls) == 1
    run_prep(folder, {"seed": 2, "folds": (1, 2)}, calls)  # changed option
    assert len(calls) == 2
    assert json.load(open(os.path.join(folder, PREP_OPTIONS_FILE))) == {"folds": [1, 2], "seed": 2}
    os.remove(os.path.join(folder, "test.json"))  # missing output
    run_prep(folder, {"seed": 2, "folds": (1, 2)}, calls)
    assert len(calls) == 3
    open(os.path.join(folder, PREP_OPTIONS_FILE), "w").write("{broken")  # corrupt options file
    run_prep(folder, {"seed": 2, "folds": (1, 2)}, calls)
    assert len(calls) == 4
    run_prep(folder, {"seed": 2, "folds": (1, 2)}, calls)
    assert len(calls) == 4


def test_prep_without_saved_options_is_not_current(tmp_path):
    write_manifest(make_records(), str(tmp_path / "train.json"))
    assert not prep_is_current(str(tmp_path), {}, ["train.json"])


def test_problems_report_has_count_header_and_one_line_each(tmp_path):
    path = write_problems_report(["a.wav: corrupt", "b.wav: empty\nsecond line"], str(tmp_path / "problems.txt"))
    assert open(path).read().splitlines() == [
        "# 2 problems (files skipped or inconsistent)", "a.wav: corrupt", "b.wav: empty second line"]
    empty = write_problems_report([], str(tmp_path / "none.txt"))
    assert open(empty).read() == "# 0 problems (files skipped or inconsistent)\n"


def test_write_json_atomic_replaces_existing_file(tmp_path):
    path = str(tmp_path / "x.json")
    write_json_atomic({"a": 1}, path)
    write_json_atomic({"a": 2}, path)
    assert json.load(open(path)) == {"a": 2}
    assert os.listdir(tmp_path) == ["x.json"]
