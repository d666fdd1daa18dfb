"""Tests of the IEMOCAP parser (label grammar, id rules, layout checks) and of the synthetic IEMOCAP writer."""
import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from emo_lobes.data.corpora import iemocap, parse_corpus
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.synthetic import iemocap as synthetic_iemocap
from emo_lobes.data.synthetic.common import read_stamp

# The invented excerpt of /work/shared/formats/iemocap_emoevaluation.md, byte for byte (TAB-separated fields).
FORMAT_NOTE_EXCERPT = (
    "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n"
    "\n"
    "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
    "C-E2:\tNeutral;\t()\n"
    "C-E3:\tNeutral;\t()\n"
    "C-E4:\tNeutral;\t()\n"
    "C-F1:\tNeutral;\t(curious)\n"
    "A-E3:\tval 3; act 2; dom  2;\t()\n"
    "A-E4:\tval 2; act 3; dom  3;\t(calm)\n"
    "A-F1:\tval 3; act 2; dom  1;\t()\n"
    "\n"
    "[10.0100 - 11.3925]\tSes01F_impro01_M001\txxx\t[2.0000, 3.0000, 3.5000]\n"
    "C-E1:\tFrustration; Anger;\t()\n"
    "C-E3:\tNeutral;\t()\n"
    "C-E4:\tExcited;\t()\n"
    "A-E1:\tval 2; act 3; dom  4;\t()\n"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The synthetic IEMOCAP_full_release, written once for the module, and its stamp."""
    folder = synthetic_iemocap.write(str(tmp_path_factory.mktemp("synthetic") / "IEMOCAP_full_release"), seed=0)
    return folder, read_stamp(folder)


@pytest.fixture(scope="module")
def parsed(corpus):
    return iemocap.parse(corpus[0])


def _write_tiny(root, wavs, label_text, dialog="Ses01F_impro01"):
    """A one-dialog Session1 with the given wav contents (array or bytes) and label file text."""
    wav_folder = os.path.join(root, "Session1", "sentences", "wav", dialog)
    label_folder = os.path.join(root, "Session1", "dialog", "EmoEvaluation")
    os.makedirs(wav_folder)
    os.makedirs(label_folder)
    for utterance_id, content in wavs.items():
        path = os.path.join(wav_folder, f"{utterance_id}.wav")
        if isinstance(content, bytes):
            with open(path, "wb") as handle:
                handle.write(content)
        else:
            sf.write(path, content, 16000, subtype="PCM_16")
    with open(os.path.join(label_folder, f"{dialog}.txt"), "w", encoding="utf-8") as handle:
        handle.write(label_text)
    return str(root)


def _snapshot(folder):
    """Every path under ``folder`` with its size and modification time."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.stat(path)
            state[os.path.relpath(path, folder)] = (info.st_size, info.st_mtime_ns)
    return state


# ----- label-file grammar -----------------------------------------------------------------------------------

def test_format_note_excerpt_blocks():
    problems = []
    blocks = iemocap.parse_emo_evaluation(FORMAT_NOTE_EXCERPT, "Ses01F_impro01.txt", problems)
    assert problems == []
    assert [b["id"] for b in blocks] == ["Ses01F_impro01_F000", "Ses01F_impro01_M001"]
    first, second = blocks
    assert (first["start"], first["end"], first["code"], first["vad"]) == (6.2901, 8.2357, "neu", [2.5, 2.5, 2.5])
    assert first["annotations"] == {"C-E2": ["Neutral"], "C-E3": ["Neutral"], "C-E4": ["Neutral"]}
    assert first["self_annotations"] == {"C-F1": ["Neutral"]}
    assert first["dim_annotations"] == {"A-E3": [3.0, 2.0, 2.0], "A-E4": [2.0, 3.0, 3.0], "A-F1": [3.0, 2.0, 1.0]}
    assert first["line"] == 3 and second["line"] == 12
    assert second["code"] == "xxx" and second["vad"] == [2.0, 3.0, 3.5]
    assert second["annotations"] == {"C-E1": ["Frustration", "Anger"], "C-E3": ["Neutral"], "C-E4": ["Excited"]}
    assert second["self_annotations"] == {} and second["dim_annotations"] == {"A-E1": [2.0, 3.0, 4.0]}
    assert iemocap.majority_code(second["annotations"]) == "xxx"
    assert iemocap.majority_code(first["annotations"]) == "neu"


def test_malformed_lines_are_reported_with_file_and_line_and_skipped():
    text = (
        "% header\r\n\r\n"
        "C-E1:\tAnger;\t()\r\n"  # 3: outside a block
        "\r\n"
        "[1.0 - oops]\tSes01F_impro01_F000\tang\r\n"  # 5: bad first line: block skipped with its lines
        "C-E1:\tAnger;\t()\r\n"
        "\r\n"
        "[2.0 - 3.0]\tSes01F_impro01_M000\toth\t[2.0, 3.0, 3.0]\r\n"
        "C-E1:\tOther:bored;\t()\r\n"
        "C-E2:  Sarcasm ;  Other - puzzled ;(free text; here)\r\n"  # spaces, unknown word kept
        "C-E3:\t;\t()\r\n"  # 11: no category
        "A-E1:\tval ; act 3; dom  2;\t()\r\n"  # 12: a number missing
        "garbage line\r\n"  # 13
    )
    problems = []
    blocks = iemocap.parse_emo_evaluation(text, "Ses01F_impro01.txt", problems)
    assert [b["id"] for b in blocks] == ["Ses01F_impro01_M000"]
    assert blocks[0]["annotations"] == {"C-E1": ["Other"], "C-E2": ["Sarcasm", "Other"]}
    assert blocks[0]["dim_annotations"] == {}
    assert [p.split(":")[1] for p in problems] == ["3", "5", "11", "12", "13"]
    assert all(p.startswith("Ses01F_impro01.txt:") for p in problems)


def test_block_without_vad_is_kept():
    blocks = iemocap.parse_emo_evaluation("[1.5 - 2.5]\tSes02M_script01_1_F003\tsad\nC-E1:\tSadness;\t()\n")
    assert blocks[0]["vad"] is None and blocks[0]["code"] == "sad"


def test_category_words_and_votes():
    assert iemocap.CATEGORY_WORDS == (
        "Neutral", "Happiness", "Sadness", "Anger", "Excited", "Frustration", "Fear", "Surprise", "Disgust", "Other")
    assert [iemocap.category_code(w) for w in iemocap.CATEGORY_WORDS] == [
        "neu", "hap", "sad", "ang", "exc", "fru", "fea", "sur", "dis", "oth"]
    assert iemocap.CODE_TO_EMOTION["exc"] == "excited" and iemocap.CODE_TO_EMOTION["xxx"] == "undecided"
    assert iemocap.CODE_TO_EMOTION["hap"] == "happy" and iemocap.CODE_TO_EMOTION["fru"] == "frustration"
    # an annotator naming a category twice counts once; 2 of 4 is no majority
    votes = iemocap.code_votes({"a": ["Anger", "Anger"], "b": ["Anger"], "c": ["Sadness"], "d": ["Neutral"]})
    assert votes == {"ang": 2, "sad": 1, "neu": 1}
    assert iemocap.majority_code({"a": ["Anger"], "b": ["Anger"], "c": ["Sadness"], "d": ["Neutral"]}) == "xxx"
    assert iemocap.majority_code({"a": ["Anger"], "b": ["Anger"], "c": ["Anger", "Sadness"], "d": ["Neutral"]}) == "ang"


# ----- id rules -----------------------------------------------------------------------------------------------

def test_speaker_session_and_improvisation_rules():
    assert iemocap.speaker_of("Ses01F_impro01_M003") == "Ses01M"
    assert iemocap.gender_of("Ses01F_impro01_M003") == "male"
    assert iemocap.speaker_of("Ses04M_impro05a_F012") == "Ses04F"
    assert iemocap.session_of("Ses04M_impro05a_F012") == 4 and iemocap.session_of("Ses05F_script02_2") == 5
    assert iemocap.dialog_of("Ses04M_impro05a_F012") == "Ses04M_impro05a"
    assert iemocap.dialog_of("Ses02F_script01_3_M020") == "Ses02F_script01_3"
    assert iemocap.is_improvised("Ses04M_impro05a") and iemocap.is_improvised("Ses04M_impro05a_F012")
    assert not iemocap.is_improvised("Ses02F_script01_3_M020") and not iemocap.is_improvised("Ses02F_script01_3")
    for bad in ("03a01Fa", "Ses01F_impro01", "Ses01X_impro01_M003"):
        with pytest.raises(EmoLobesError):
            iemocap.speaker_of(bad)


# ----- the synthetic corpus -----------------------------------------------------------------------------------

def test_synthetic_corpus_parses_with_the_written_counts(corpus, parsed):
    folder, stamp = corpus
    records = parsed.records
    assert len(records) == stamp["n_utterances"] and 300 <= len(records) <= 400
    summary = parsed.summary()
    assert summary["labels"] == stamp["labels"]
    assert sorted(summary["speakers"]) == stamp["speakers"] and summary["n_speakers"] == 10
    assert sum(r["improvised"] for r in records) == stamp["n_improvised"] < len(records)
    for record in records:
        assert record["gender"] == ("female" if record["speaker"].endswith("F") else "male")
        assert record["emotion"] == iemocap.CODE_TO_EMOTION[record["label"]]
        assert (record["corpus"], record["language"], record["style"]) == ("iemocap", "en", "acted")
        assert (record["sample_rate"], record["channels"]) == (16000, 1)
        assert record["session"] == int(record["speaker"][3:5])
        assert record["wav"] == (f"Session{record['session']}/sentences/wav/{record['text_id']}/{record['id']}.wav")
        assert os.path.isfile(os.path.join(folder, record["wav"]))
        assert record["improvised"] == ("impro" in record["text_id"])
        assert abs((record["end"] - record["start"]) - record["duration"]) < 1e-3
        assert 1.0 <= record["duration"] <= 3.0
        assert all(key.startswith("C-E") for key in record["annotations"])
        assert 3 <= len(record["annotations"]) <= 4
        # the consensus code written in the file is the evaluators' majority
        assert iemocap.majority_code(record["annotations"]) == record["label"]
        # the first line's [V, A, D] is the mean of the external evaluators' A- lines
        external = [v for k, v in record["dim_annotations"].items() if k.startswith("A-E")]
        assert np.allclose(record["vad"], np.mean(external, axis=0), atol=1e-4)
    assert {"Ses01F_impro05a", "Ses01M_script01_1"} <= {r["text_id"] for r in records}
    assert any(len(words) == 2 for r in records for words in r["annotations"].values())


def test_synthetic_corpus_serves_four_class_loso(parsed):
    by_speaker = {}
    for record in parsed.records:
        by_speaker.setdefault(record["speaker"], []).append(record["label"])
    for speaker, labels in by_speaker.items():
        assert {"neu", "hap", "sad", "ang"} <= set(labels), speaker
    genders = {r["speaker"]: r["gender"] for r in parsed.records}
    assert sorted(genders.values()).count("female") == 5
    other = [r for r in parsed.records if r["label"] not in ("neu", "hap", "sad", "ang")]
    assert 0.25 <= len(other) / len(parsed) <= 0.6
    assert {"xxx", "exc", "fru"} <= {r["label"] for r in other}


def test_synthetic_corpus_problems_name_the_missing_audio_and_label(corpus, parsed):
    _, stamp = corpus
    (no_audio,), (no_label,) = stamp["missing_audio"], stamp["missing_labels"]
    assert parsed.problems == [
        f"label blocks without audio: 1, skipped ({no_audio})",
        f"audio files without a label block: 1, skipped ({no_label})",
    ]
    ids = {r["id"] for r in parsed.records}
    assert no_audio not in ids and no_label not in ids


def test_self_evaluations_kept_apart_unless_asked(corpus, parsed):
    with_self = iemocap.parse(corpus[0], include_self_evaluations=True)
    evaluated = [r for r in parsed.records if r["self_annotations"]]
    assert 0 < len(evaluated) < len(parsed)
    by_id = {r["id"]: r for r in with_self.records}
    for record in evaluated:
        (annotator,) = record["self_annotations"]
        assert annotator == f"C-{record['id'].rsplit('_', 1)[1][0]}1"  # the speaking actor's own judgement
        assert by_id[record["id"]]["annotations"] == {**record["annotations"], **record["self_annotations"]}
        assert annotator not in record["annotations"]


def test_session_selection_and_registry(corpus, parsed):
    only = parse_corpus("iemocap", corpus[0], sessions=[2, 4])
    assert {r["session"] for r in only.records} == {2, 4}
    assert len(only) == sum(1 for r in parsed.records if r["session"] in (2, 4))
    for bad in ([6], [], ["x"]):
        with pytest.raises(EmoLobesError, match="sessions"):
            iemocap.parse(corpus[0], sessions=bad)


def test_parsing_leaves_the_data_folder_unchanged(corpus):
    before = _snapshot(corpus[0])
    iemocap.parse(corpus[0], include_self_evaluations=True)
    assert _snapshot(corpus[0]) == before


def test_writer_is_deterministic_and_skips_a_current_folder(corpus, tmp_path):
    folder, stamp = corpus
    before = _snapshot(folder)
    assert synthetic_iemocap.write(folder, seed=0) == folder
    assert _snapshot(folder) == before
    again = synthetic_iemocap.write(str(tmp_path / "IEMOCAP_full_release"), seed=0)
    assert read_stamp(again) == stamp
    label_file = "Session2/dialog/EmoEvaluation/Ses02F_impro05a.txt"
    with open(os.path.join(folder, label_file)) as one, open(os.path.join(again, label_file)) as two:
        assert one.read() == two.read()
    wav = "Session5/sentences/wav/Ses05M_script01_1/Ses05M_script01_1_F001.wav"
    assert np.array_equal(sf.read(os.path.join(folder, wav))[0], sf.read(os.path.join(again, wav))[0])


# ----- wrong folders and bad files ---------------------------------------------------------------------------

def test_wrong_folders_raise_one_line_errors(tmp_path, corpus):
    with pytest.raises(EmoLobesError, match="does not exist"):
        iemocap.parse(str(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmoLobesError, match="is empty"):
        iemocap.parse(str(empty))
    emodb = tmp_path / "EmoDB"
    (emodb / "wav").mkdir(parents=True)
    sf.write(str(emodb / "wav" / "03a01Fa.wav"), np.zeros(160), 16000)
    with pytest.raises(EmoLobesError, match="no IEMOCAP Session1") as err:
        iemocap.parse(str(emodb))
    assert "IEMOCAP_full_release" in str(err.value) and "\n" not in str(err.value)
    # pointing at the folder above IEMOCAP_full_release: the fix names the right one
    with pytest.raises(EmoLobesError) as err:
        iemocap.parse(os.path.dirname(corpus[0]))
    assert err.value.fix == f"pass --data_folder={corpus[0]}"


def test_corrupt_audio_stray_files_and_missing_sessions(tmp_path):
    label_text = (
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        "[1.0 - 2.0]\tSes01F_impro01_F000\tang\t[1.5, 4.0, 4.0]\nC-E1:\tAnger;\t()\nC-E2:\tAnger;\t()\n\n"
        "[2.5 - 3.0]\tSes01F_impro01_M000\tsad\t[2.0, 2.0, 2.0]\nC-E1:\tSadness;\t()\n\n"
        "[3.5 - 4.0]\tSes01F_impro01_M001\tneu\t[3.0, 2.0, 2.0]\nC-E1:\tNeutral;\t()\n"
    )
    root = _write_tiny(tmp_path / "IEMOCAP_full_release", {
        "Ses01F_impro01_F000": np.zeros(16000),
        "Ses01F_impro01_M000": b"RIFF, but no audio at all",
        "Ses01F_impro01_M001": np.zeros(0),
    }, label_text)
    wav_folder = os.path.join(root, "Session1", "sentences", "wav", "Ses01F_impro01")
    for stray in ("._Ses01F_impro01_F000.wav", "Ses01F_impro01.pk", "notes.txt"):
        with open(os.path.join(wav_folder, stray), "wb") as handle:
            handle.write(b"\x00\x05\x16\x07")
    evaluation = os.path.join(root, "Session1", "dialog", "EmoEvaluation")
    os.makedirs(os.path.join(evaluation, "Categorical"))
    shutil.copy(os.path.join(evaluation, "Ses01F_impro01.txt"), os.path.join(evaluation, "Categorical"))
    for other_file in ("README.txt", "Ses01F_impro01_e2_cat.txt"):
        with open(os.path.join(evaluation, other_file), "w") as handle:
            handle.write("[9.0 - 9.5]\tSes01F_impro01_F009\tneu\nSes01F_impro01_F000 :Neutral state; ()\n")
    parsed = iemocap.parse(root, sessions=(1, 3))
    assert [r["id"] for r in parsed.records] == ["Ses01F_impro01_F000"]
    assert parsed.records[0]["duration"] == 1.0 and parsed.records[0]["label"] == "ang"
    assert parsed.problems[0] == "Session3/ missing, session skipped"
    assert any(p.startswith("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M000.wav: unreadable audio")
               for p in parsed.problems)
    assert any(p.startswith("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav: audio holds no")
               for p in parsed.problems)
    assert len(parsed.problems) == 3
    with pytest.raises(EmoLobesError, match="none of the requested IEMOCAP sessions"):
        iemocap.parse(root, sessions=[2])


def test_summary_is_json_serialisable(parsed):
    summary = json.loads(json.dumps(parsed.summary()))
    assert summary["n_utterances"] == len(parsed) and summary["sample_rates"] == {"16000": len(parsed)}
