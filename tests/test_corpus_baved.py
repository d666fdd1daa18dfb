"""Tests of the BAVED parser, its synthetic corpus, and the byte-identical audio report of ``summarize``."""
import hashlib
import json
import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from emo_lobes.data.corpora import baved, parse_corpus
from emo_lobes.data.corpora.__main__ import main
from emo_lobes.data.corpora.base import duplicate_audio_groups, find_audio_files
from emo_lobes.data.synthetic import baved as synthetic_baved
from emo_lobes.data.synthetic import write_corpus
from emo_lobes.errors import EmoLobesError

NAME = re.compile(r"^(\d+)-([mf])-(\d+)-([0-6])-([0-2])-(\d+)\.wav$")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The synthetic BAVED, written once through the registry."""
    return write_corpus("baved", str(tmp_path_factory.mktemp("synthetic")), seed=0)


@pytest.fixture
def copy(folder, tmp_path):
    """A writable copy of the synthetic BAVED, for damaging."""
    return shutil.copytree(folder, str(tmp_path / baved.FOLDER))


def planted_pair():
    """The relative paths of the planted duplicate: (source, copy)."""
    word, level = synthetic_baved.DUPLICATE["word"], synthetic_baved.DUPLICATE["level"]
    found = {}
    record_id = 0
    for current_word in synthetic_baved.WORDS:
        for speaker, gender, age in synthetic_baved.SPEAKERS:
            for current_level in baved.LABEL_MAP:
                if (current_word, current_level) == (word, level):
                    found[speaker] = f"{word}/{baved.file_name(speaker, gender, age, word, level, record_id)}"
                record_id += 1
    return found[synthetic_baved.DUPLICATE["source"]], found[synthetic_baved.DUPLICATE["copy"]]


def tree_digest(root):
    """One SHA-1 over every path, size and content below ``root`` (hidden files included)."""
    digest = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, root).encode("utf-8"))
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def test_synthetic_layout_is_the_release_layout(folder):
    wavs = find_audio_files(folder)
    assert len(wavs) == 54 and {path.split("/")[0] for path in wavs} == set(synthetic_baved.WORDS)
    for path in wavs:
        word_folder, name = path.split("/")
        match = NAME.match(name)
        assert match and match.group(4) == word_folder
        info = sf.info(os.path.join(folder, path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16") and info.duration < 2.0
    with open(os.path.join(folder, baved.SPEAKERS_FILE), encoding="utf-8") as f:
        info = json.load(f)
    assert {speaker for speaker, _, _ in synthetic_baved.SPEAKERS} < set(info)
    assert info["3"] == {"age": 21, "gender": "f"}
    assert duplicate_audio_groups(folder, wavs) == [list(planted_pair())]


def test_parse_drops_the_planted_duplicate(folder):
    parsed = parse_corpus("BAVED", folder)
    records = parsed.records
    summary = parsed.summary()
    source, duplicate = planted_pair()
    assert len(records) == 53 and summary["labels"] == {"0": 17, "1": 18, "2": 18}
    assert summary["emotions"] == {"high": 18, "low": 17, "neutral": 18}
    assert summary["speakers"] == {
        "baved_0": 9, "baved_17": 9, "baved_3": 9, "baved_46": 9, "baved_53": 8, "baved_9": 9,
    }
    assert summary["genders"] == {"female": 18, "male": 35} and summary["sample_rates"] == {"16000": 53}
    wavs = {record["wav"] for record in records}
    assert source in wavs and duplicate not in wavs
    assert wavs == set(find_audio_files(folder)) - {duplicate}
    for record in records:
        speaker, gender, _, word, level, _ = NAME.match(os.path.basename(record["wav"])).groups()
        assert record["id"] == os.path.splitext(os.path.basename(record["wav"]))[0]
        assert record["wav"] == f"{word}/{record['id']}.wav" and not os.path.isabs(record["wav"])
        assert (record["speaker"], record["gender"]) == (f"baved_{speaker}", baved.GENDERS[gender])
        assert (record["label"], record["emotion"]) == (level, baved.LABEL_MAP[level])
        assert (record["text_id"], record["text"]) == (word, baved.WORDS[word])
        assert (record["language"], record["corpus"], record["style"]) == ("ar", "baved", "acted")
        assert record["sample_rate"] == 16000 and record["channels"] == 1 and record["duration"] > 0
    assert len({record["id"] for record in records}) == 53
    assert len(parsed.problems) == 1
    line = parsed.problems[0]
    assert line.startswith(f"{source}, {duplicate}: byte-identical audio") and "baved_46, baved_53" in line
    assert line.endswith(f"kept {source}, dropped {duplicate}")


def test_drop_duplicates_false_keeps_both(folder):
    parsed = baved.parse(folder, drop_duplicates=False)
    source, duplicate = planted_pair()
    assert len(parsed) == 54 and parsed.summary()["labels"] == {"0": 18, "1": 18, "2": 18}
    assert {source, duplicate} <= {record["wav"] for record in parsed.records}
    assert len(parsed.problems) == 1 and parsed.problems[0].startswith(f"{source}, {duplicate}: byte-identical")
    assert "all kept" in parsed.problems[0]


def test_three_identical_files_are_one_line_and_two_drops(copy):
    source, duplicate = planted_pair()
    third = "6/99-f-30-6-0-500.wav"
    shutil.copyfile(os.path.join(copy, source), os.path.join(copy, third))
    parsed = baved.parse(copy)
    duplicates = [line for line in parsed.problems if "byte-identical" in line]
    assert len(duplicates) == 1 and duplicates[0].startswith(f"{source}, {duplicate}, {third}:")
    assert duplicates[0].endswith(f"kept {source}, dropped {duplicate}, {third}") and len(parsed) == 53


def test_misnamed_files_skipped_and_folder_mismatch_kept(copy):
    misnamed = ("0/notes.wav", "3/17-x-22-3-1-99.wav", "3/17-m-22-3-5-99.wav", "6/17-m-22-9-1-99.wav")
    for index, name in enumerate(misnamed):
        sf.write(os.path.join(copy, name), np.full(800 + index, 0.05), 16000)
    moved = sorted(path for path in find_audio_files(copy) if path.startswith("3/9-"))[0]
    target = f"6/{os.path.basename(moved)}"
    os.rename(os.path.join(copy, moved), os.path.join(copy, target))
    parsed = baved.parse(copy)
    assert len(parsed) == 53
    for name in misnamed:
        lines = [line for line in parsed.problems if line.startswith(f"{name}:")]
        assert len(lines) == 1 and "does not follow" in lines[0] and lines[0].endswith("skipped")
    record = next(record for record in parsed.records if record["wav"] == target)
    assert record["text_id"] == "3"
    assert f"{target}: file name says word 3 but its folder says 6; kept as word 3" in parsed.problems


def test_gender_disagreement_with_speakers_info(copy):
    path = os.path.join(copy, baved.SPEAKERS_FILE)
    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    info["3"]["gender"] = "m"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(info, f)
    parsed = baved.parse(copy)
    lines = [line for line in parsed.problems if line.startswith("speaker 3:")]
    assert len(lines) == 1 and "9 file name(s) say female" in lines[0] and "says male" in lines[0]
    assert {r["gender"] for r in parsed.records if r["speaker"] == "baved_3"} == {"female"}


def test_without_or_with_broken_speakers_info(copy):
    path = os.path.join(copy, baved.SPEAKERS_FILE)
    os.remove(path)
    assert len(baved.parse(copy)) == 53 and len(baved.parse(copy).problems) == 1
    with open(path, "w", encoding="utf-8") as f:
        f.write("{not json")
    problems = baved.parse(copy).problems
    assert len(problems) == 2 and problems[0].startswith(f"{baved.SPEAKERS_FILE}: cannot be read")


def test_missing_empty_or_foreign_folder_gives_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    foreign = tmp_path / "foreign"
    (foreign / "wav").mkdir(parents=True)
    sf.write(str(foreign / "wav" / "03a01Fa.wav"), np.zeros(160), 16000)
    for data_folder, words in ((tmp_path / "absent", "does not exist"), (tmp_path / "empty", "is empty"),
                               (foreign, "no BAVED recordings found")):
        with pytest.raises(EmoLobesError) as error:
            baved.parse(str(data_folder))
        message = str(error.value)
        assert words in message and "Fix:" in message and "\n" not in message


def test_data_folder_is_unchanged(folder, capsys):
    before = tree_digest(folder)
    baved.parse(folder)
    baved.parse(folder, drop_duplicates=False)
    assert main(["summarize", "--corpus", "baved", "--data_folder", folder, "--json"]) == 0
    capsys.readouterr()
    assert tree_digest(folder) == before


def test_summarize_reports_the_duplicate(folder, capsys):
    source, duplicate = planted_pair()
    assert main(["summarize", "--corpus", "baved", "--data_folder", folder, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["duplicates"] == [[source, duplicate]] and summary["n_utterances"] == 53
    assert any(line.startswith(f"{source}, {duplicate}:") for line in summary["problems"])
    assert main(["summarize", "--corpus", "baved", "--data_folder", folder]) == 0
    table = capsys.readouterr().out
    assert "byte-identical audio: 1 groups (2 files)" in table and f"  {source} = {duplicate}" in table


def test_summarize_reports_duplicates_of_any_corpus(tmp_path, capsys):
    for name in ("Angry/SM1_F1_A01.wav", "Angry/SF2_F1_A02.wav", "Sad/SM1_F1_S01.wav"):
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        sf.write(str(tmp_path / name), np.full(4410, 0.1 if name.startswith("Angry") else 0.2), 44100)
    assert main(["summarize", "--corpus", "urdu", "--data_folder", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["duplicates"] == [["Angry/SF2_F1_A02.wav", "Angry/SM1_F1_A01.wav"]]
    assert summary["n_utterances"] == 3
