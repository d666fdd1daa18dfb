"""Tests of the CREMA-D, TESS, URDU and generic CSV parsers on their synthetic layouts and on damaged copies."""
import csv
import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from emo_lobes.data.corpora import cremad, csv_corpus, parse_corpus, tess, urdu
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.labels import CANONICAL_EMOTIONS
from emo_lobes.data.synthetic import write_corpus


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    """Every synthetic corpus of this file, written once through the registry."""
    root = str(tmp_path_factory.mktemp("synthetic"))
    for name in ("cremad", "tess", "urdu", "spont", "gemep", "masc"):
        write_corpus(name, root, seed=0)
    return root


@pytest.fixture(scope="module")
def parsed(synthetic_root):
    """Parsed synthetic corpora by name."""
    folders = {"cremad": "CREMA-D", "tess": "TESS", "urdu": "URDU"}
    result = {name: parse_corpus(name, os.path.join(synthetic_root, folder)) for name, folder in folders.items()}
    for name in ("spont", "gemep", "masc"):
        result[name] = parse_corpus("csv", os.path.join(synthetic_root, name.upper()))
    return result


def write_tone(path, sample_rate=16000, seconds=0.2):
    """A short tone at ``path`` (parent folders created)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220 * t), sample_rate)


def check_schema(records, corpus):
    """Every record has the required fields, a unique id and an existing relative wav."""
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    for record in records:
        assert set(record) >= {
            "id", "wav", "duration", "sample_rate", "channels", "speaker", "gender", "language", "corpus", "label",
            "emotion",
        }
        assert record["corpus"] == corpus and not os.path.isabs(record["wav"])
        assert record["gender"] in ("male", "female", "unknown") and record["duration"] > 0


# ---------------------------------------------------------------- CREMA-D


def test_cremad_synthetic_layout(parsed, synthetic_root):
    corpus = parsed["cremad"]
    check_schema(corpus.records, "cremad")
    summary = corpus.summary()
    assert summary["n_utterances"] == 144 and summary["n_speakers"] == 8
    assert summary["labels"] == {code: 24 for code in cremad.LABEL_MAP}
    assert summary["sample_rates"] == {"16000": 144} and summary["problems"] == []
    with open(os.path.join(synthetic_root, "CREMA-D", cremad.DEMOGRAPHICS_FILE), newline="") as handle:
        sex = {f"cremad_{row['ActorID']}": row["Sex"].lower() for row in csv.DictReader(handle)}
    for record in corpus.records:
        assert re.fullmatch(r"cremad_10\d\d", record["speaker"])
        assert record["gender"] == sex[record["speaker"]]
        assert record["emotion"] == cremad.LABEL_MAP[record["label"]] and record["language"] == "en"
        assert record["wav"].startswith("AudioWAV/") and record["text_id"] in cremad.SENTENCES
        expected = ("LO", "MD", "HI") if record["text_id"] == "IEO" and record["label"] != "NEU" else ("XX",)
        assert record["intensity"] in expected


def test_cremad_audiowav_folder_and_missing_demographics(synthetic_root, tmp_path):
    audio = os.path.join(synthetic_root, "CREMA-D", "AudioWAV")
    from_audio = cremad.parse(audio)
    assert len(from_audio) == 144 and {r["gender"] for r in from_audio.records} == {"male", "female"}
    assert not from_audio.records[0]["wav"].startswith("AudioWAV")
    copy = tmp_path / "AudioWAV"
    copy.mkdir()
    for name in sorted(os.listdir(audio))[:5]:
        shutil.copy(os.path.join(audio, name), copy / name)
    without = cremad.parse(str(copy))
    assert {r["gender"] for r in without.records} == {"unknown"}
    assert any("VideoDemographics.csv" in p for p in without.problems)


def test_cremad_misnamed_files_and_actor_not_in_demographics(tmp_path):
    for name in ("1001_DFA_ANG_XX", "1040_ITH_SAD_X", "1002_IEO_HAP_HI", "1001_DFA_ANG", "1001_ZZZ_ANG_XX", "notes"):
        write_tone(str(tmp_path / "AudioWAV" / f"{name}.wav"))
    demographics = "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
    (tmp_path / "VideoDemographics.csv").write_text(demographics)
    corpus = cremad.parse(str(tmp_path))
    by_id = {r["id"]: r for r in corpus.records}
    assert sorted(by_id) == ["1001_DFA_ANG_XX", "1002_IEO_HAP_HI", "1040_ITH_SAD_X"]
    assert by_id["1040_ITH_SAD_X"]["intensity"] == "XX" and by_id["1001_DFA_ANG_XX"]["gender"] == "male"
    assert by_id["1002_IEO_HAP_HI"]["gender"] == "unknown"
    assert sum("skipped" in p for p in corpus.problems) == 3
    assert sum("not in VideoDemographics.csv" in p for p in corpus.problems) == 2


def test_cremad_wrong_layout_and_empty_folder(synthetic_root, tmp_path):
    with pytest.raises(EmoLobesError, match="no CREMA-D clips.*AudioWAV/<actor"):
        cremad.parse(os.path.join(synthetic_root, "TESS"))
    with pytest.raises(EmoLobesError, match="empty"):
        cremad.parse(str(tmp_path))


# ---------------------------------------------------------------- TESS


def test_tess_synthetic_layout(parsed, synthetic_root):
    corpus = parsed["tess"]
    check_schema(corpus.records, "tess")
    summary = corpus.summary()
    assert summary["speakers"] == {"tess_OAF": 70, "tess_YAF": 70} and summary["genders"] == {"female": 140}
    assert summary["labels"] == {code: 20 for code in tess.LABEL_MAP}
    assert summary["emotions"]["surprise"] == 20 and summary["sample_rates"] == {"24414": 140}
    assert {"OAF_Fear", "OAF_Pleasant_surprise", "YAF_pleasant_surprised", "YAF_fear"} <= set(
        os.listdir(os.path.join(synthetic_root, "TESS"))
    )
    assert summary["problems"] == []


def test_tess_case_variants_and_mismatches(tmp_path):
    names = [
        "oaf_FEAR/OAF_dog_fear.wav", "YAF_Pleasant_Surprise/YAF_dog_PS.wav", "OAF_neutral/OA_bite_neutral.wav",
        "YAF_angry/YAF_home_sad.wav", "YAF_sad/readme.wav", "YAF_sad/YAF_home_calm.wav",
    ]
    for name in names:
        write_tone(str(tmp_path / name), tess.SAMPLE_RATE)
    corpus = tess.parse(str(tmp_path))
    by_id = {r["id"]: (r["speaker"], r["label"], r["emotion"], r["text_id"]) for r in corpus.records}
    assert by_id == {
        "OAF_dog_fear": ("tess_OAF", "fear", "fear", "dog"),
        "YAF_dog_PS": ("tess_YAF", "ps", "surprise", "dog"),
        "OA_bite_neutral": ("tess_OAF", "neutral", "neutral", "bite"),
        "YAF_home_sad": ("tess_YAF", "sad", "sad", "home"),
    }
    assert sum("skipped" in p for p in corpus.problems) == 2
    assert any("YAF_home_sad" in p and "folder says 'angry'" in p for p in corpus.problems)


def test_tess_wrong_layout(synthetic_root):
    with pytest.raises(EmoLobesError, match="no TESS clips.*OAF\\|YAF"):
        tess.parse(os.path.join(synthetic_root, "URDU"))


# ---------------------------------------------------------------- URDU


def test_urdu_synthetic_layout(parsed):
    corpus = parsed["urdu"]
    check_schema(corpus.records, "urdu")
    summary = corpus.summary()
    assert summary["n_utterances"] == 112 and summary["n_speakers"] == 8
    assert summary["labels"] == {"A": 28, "H": 28, "N": 28, "S": 28}
    assert summary["sample_rates"] == {"44100": 112} and summary["problems"] == []
    for record in corpus.records:
        code = re.fullmatch(r"urdu_S([MF])(\d+)", record["speaker"])
        assert code and record["gender"] == urdu.GENDERS[code.group(1)]
        assert re.fullmatch(r"S[MF]\d+_F[1-9]\d*_[AHNS]0[1-9]\d*", record["id"])
        assert record["wav"].split("/")[0] == {v: k for k, v in urdu.FOLDERS.items()}[record["label"]]
        assert record["language"] == "ur" and record["style"] == "spontaneous"
    assert {"urdu_SM1", "urdu_SF1"} <= set(summary["speakers"])


def test_urdu_release_naming(tmp_path):
    names = ["Angry/SM1_F1_A01.wav", "Angry/SF1_F10_A010.wav", "Sad/SM6_F4_S0100.wav", "Angry/SM2_F1_H023.wav",
             "Happy/SM2_F1.wav", "Neutral/S1_F1_N01.wav"]
    for name in names:
        write_tone(str(tmp_path / name), urdu.SAMPLE_RATE)
    corpus = urdu.parse(str(tmp_path))
    by_id = {r["id"]: (r["speaker"], r["gender"], r["label"], r["emotion"]) for r in corpus.records}
    assert by_id == {
        "SM1_F1_A01": ("urdu_SM1", "male", "A", "angry"),
        "SF1_F10_A010": ("urdu_SF1", "female", "A", "angry"),
        "SM6_F4_S0100": ("urdu_SM6", "male", "S", "sad"),
        "SM2_F1_H023": ("urdu_SM2", "male", "H", "happy"),
    }
    assert sum("skipped" in p for p in corpus.problems) == 2
    assert any("SM2_F1_H023" in p and "folder says 'A'" in p for p in corpus.problems)
    assert urdu.file_name("F", 3, 2, "N", 41) == "SF3_F2_N041.wav"


def test_urdu_wrong_layout(synthetic_root):
    with pytest.raises(EmoLobesError, match="no URDU clips.*Angry\\|Happy"):
        urdu.parse(os.path.join(synthetic_root, "CREMA-D"))


# ---------------------------------------------------------------- generic CSV: synthetic corpora


def test_csv_spont(parsed):
    corpus = parsed["spont"]
    check_schema(corpus.records, "spont")
    summary = corpus.summary()
    assert summary["n_utterances"] == 160 and summary["n_speakers"] == 12
    assert set(summary["labels"]) == {"neutral", "angry", "happy", "sad"}
    assert max(summary["labels"], key=summary["labels"].get) == "neutral"
    assert summary["sample_rates"] == {"8000": 160} and summary["problems"] == []
    records = corpus.records
    assert all(r["speaker"].startswith("spont_c") and r["language"] == "es" for r in records)
    assert {r["style"] for r in records} == {"spontaneous"} and set(summary["genders"]) == {"male", "female"}
    assert all(len(r["annotations"]) == 3 for r in records)
    all_disagree = [r for r in records if all(len(v) == 1 for v in r["annotations"].values())
                    and len({v[0] for v in r["annotations"].values()}) == 3]
    assert all_disagree
    assert any(len(v) == 2 for r in records for v in r["annotations"].values())
    assert {"mm", "eh", "ok"} & {r["text"] for r in records}
    assert any(r["duration"] > 7.5 for r in records) and any(r["duration"] < 1.0 for r in records)
    assert len({r["session"] for r in records}) > 12


def test_csv_gemep_codes(parsed):
    corpus = parsed["gemep"]
    check_schema(corpus.records, "gemep")
    summary = corpus.summary()
    assert set(summary["labels"]) == {
        "amu", "pri", "joy", "int", "ang", "fea", "des", "ple", "rel", "anx", "irr", "sad",
    }
    assert set(summary["speakers"]) == {f"gemep_{n:02d}" for n in range(1, 11)}
    emotion_of = {r["label"]: r["emotion"] for r in corpus.records}
    mapped = (emotion_of["ang"], emotion_of["joy"], emotion_of["anx"], emotion_of["fea"])
    assert mapped == ("angry", "happy", "worry", "fear")
    assert len(set(emotion_of.values())) == 12 and {"angry", "sad", "fear", "happy"} <= set(CANONICAL_EMOTIONS)
    assert {r["language"] for r in corpus.records} == {"fr"} and {r["text_id"] for r in corpus.records} == {"s1", "s2"}


def test_csv_masc_colliding_stems(parsed):
    corpus = parsed["masc"]
    check_schema(corpus.records, "masc")
    summary = corpus.summary()
    assert summary["emotions"] == {"angry": 32, "fear": 32, "happy": 32, "neutral": 32, "sad": 32}
    assert summary["labels"]["elation"] == 32 and summary["genders"] == {"female": 80, "male": 80}
    assert summary["speakers"]["masc_01"] == 20 and summary["n_speakers"] == 8
    first = corpus.records[0]
    assert first["id"] == first["wav"][: -len(".wav")].replace("/", "_") and first["language"] == "zh"
    assert "今天天气很好" in {r["text"] for r in corpus.records}


# ---------------------------------------------------------------- generic CSV: options and bad input


def small_corpus(root, csv_text, files=("a.wav", "b.wav", "sub/c.wav"), csv_name="metadata.csv"):
    """A few tones plus a CSV under ``root``; returns ``root`` as str."""
    for name in files:
        write_tone(os.path.join(str(root), name))
    (root / csv_name).write_text(csv_text, encoding="utf-8")
    return str(root)


def test_csv_parse_annotations():
    assert csv_corpus.parse_annotations("neutral|neutral;angry|angry") == {
        "a1": ["neutral"], "a2": ["neutral", "angry"], "a3": ["angry"],
    }
    assert csv_corpus.parse_annotations(" sad ; happy |") == {"a1": ["sad", "happy"]}
    assert csv_corpus.parse_annotations("") == {}


def test_csv_unknown_labels_error_and_drop(tmp_path):
    root = small_corpus(tmp_path, "path,label,speaker\na.wav,angry,s1\nb.wav,bored,s2\nsub/c.wav,Anger,s1\n")
    with pytest.raises(EmoLobesError, match="label 'bored' in row 3 .*unknown_labels='drop'"):
        csv_corpus.parse(root, allowed_labels=["angry", "neutral"])
    kept = csv_corpus.parse(root, allowed_labels=["angry", "neutral"], unknown_labels="drop")
    assert [r["label"] for r in kept.records] == ["angry", "Anger"]
    assert any("'bored'" in p and "1 row(s) dropped" in p for p in kept.problems)
    with pytest.raises(EmoLobesError, match="unknown_labels"):
        csv_corpus.parse(root, unknown_labels="ignore")


def test_csv_missing_columns_and_missing_csv(tmp_path):
    root = small_corpus(tmp_path, "file,emotion\na.wav,angry\n")
    with pytest.raises(EmoLobesError, match="lacks column\\(s\\) path, label"):
        csv_corpus.parse(root)
    (tmp_path / "semi.csv").write_text("path;label\na.wav;angry\n")
    with pytest.raises(EmoLobesError, match="use commas"):
        csv_corpus.parse(root, csv_file="semi.csv")
    with pytest.raises(EmoLobesError, match="metadata CSV nothere.csv not found"):
        csv_corpus.parse(root, csv_file="nothere.csv")


def test_csv_missing_duplicated_and_outside_files(tmp_path):
    text = (
        "path,label,speaker\na.wav,angry,s1\nmissing.wav,sad,s1\na.wav,sad,s2\n../x.wav,sad,s2\nb.wav,,s2\n"
        "sub/c.wav,sad,s3\n"
    )
    corpus = csv_corpus.parse(small_corpus(tmp_path, text))
    assert [r["wav"] for r in corpus.records] == ["a.wav", "sub/c.wav"]
    assert sum("skipped" in p for p in corpus.problems) == 4
    assert any("row 3: missing.wav does not exist" in p for p in corpus.problems)
    assert any("row 4: a.wav is listed again (first in row 2)" in p for p in corpus.problems)
    assert any("row 5" in p and "outside" in p for p in corpus.problems)
    assert any("row 6: b.wav has no label" in p for p in corpus.problems)


def test_csv_no_speaker_column_language_and_defaults(tmp_path):
    root = small_corpus(tmp_path / "My Calls", "path,label,gender\na.wav,neutral,M\nb.wav,sad,woman\nsub/c.wav,xyz,?\n")
    corpus = csv_corpus.parse(root)
    assert corpus.corpus == "my_calls" and {r["speaker"] for r in corpus.records} == {"my_calls_unknown"}
    assert [r["gender"] for r in corpus.records] == ["male", "female", "unknown"]
    assert [r["emotion"] for r in corpus.records] == ["neutral", "sad", "xyz"]
    assert sum("no speaker column" in p for p in corpus.problems) == 1
    assert any("gender '?'" in p for p in corpus.problems)
    assert {r["language"] for r in corpus.records} == {"unknown"} and any("language" in p for p in corpus.problems)
    named = csv_corpus.parse(root, corpus_name="calls", language="es", csv_file=os.path.join(root, "metadata.csv"))
    assert named.corpus == "calls" and {r["language"] for r in named.records} == {"es"}
    assert {r["speaker"] for r in named.records} == {"calls_unknown"}


def test_csv_bad_style_and_nothing_usable(tmp_path):
    root = small_corpus(tmp_path, "path,label,style\na.wav,angry,improv\n")
    with pytest.raises(EmoLobesError, match="style 'improv' in row 2"):
        csv_corpus.parse(root)
    (tmp_path / "none.csv").write_text("path,label\nmissing.wav,angry\n")
    with pytest.raises(EmoLobesError, match="no usable rows.*missing.wav does not exist"):
        csv_corpus.parse(root, csv_file="none.csv")
    with pytest.raises(EmoLobesError, match="does not exist"):
        parse_corpus("csv", str(tmp_path / "no_such_folder"))


def test_synthetic_writers_keep_a_current_corpus(synthetic_root):
    folder = os.path.join(synthetic_root, "MASC")
    before = {name: os.stat(os.path.join(folder, "wav", "01", "anger", name)).st_mtime_ns
              for name in os.listdir(os.path.join(folder, "wav", "01", "anger"))}
    assert write_corpus("masc", synthetic_root, seed=0) == folder
    after = {name: os.stat(os.path.join(folder, "wav", "01", "anger", name)).st_mtime_ns for name in before}
    assert before == after and len(before) == 4
