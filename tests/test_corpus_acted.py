"""Tests of the EmoDB, RAVDESS, CaFE, EMOVO and SAVEE parsers against their synthetic corpora and edge layouts."""
import filecmp
import os
import shutil
import unicodedata

import numpy as np
import pytest
import soundfile as sf

from emo_lobes.data.corpora import parse_corpus
from emo_lobes.data.corpora.base import REQUIRED_FIELDS
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.labels import CANONICAL_EMOTIONS
from emo_lobes.data.synthetic import write_corpus
from emo_lobes.data.synthetic import emodb as emodb_writer
from emo_lobes.data.synthetic import ravdess as ravdess_writer

CORPORA = ("emodb", "ravdess", "cafe", "emovo", "savee")


class _OnDemand(dict):
    """A dict that computes a missing value once, with ``make(key)``."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        self[key] = value = self.make(key)
        return value


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Each synthetic corpus written (through the registry) the first time a test asks for it."""
    root = str(tmp_path_factory.mktemp("acted"))
    return _OnDemand(lambda name: write_corpus(name, root, seed=0))


@pytest.fixture(scope="module")
def parsed(folders):
    """Each synthetic corpus parsed with default options, once."""
    return _OnDemand(lambda name: parse_corpus(name, folders[name]))


def _check_schema(corpus, root, language):
    """Every record has the required fields, a unique id, an existing wav and a canonical emotion."""
    ids = [rec["id"] for rec in corpus.records]
    assert len(ids) == len(set(ids))
    for rec in corpus.records:
        assert set(REQUIRED_FIELDS) <= set(rec)
        assert os.path.isfile(os.path.join(root, rec["wav"]))
        assert rec["language"] == language and rec["corpus"] == corpus.corpus and rec["style"] == "acted"
        assert rec["emotion"] in CANONICAL_EMOTIONS and rec["duration"] >= 1.0
        assert rec["speaker"].startswith(f"{corpus.corpus}_")


def _copy(src_root, rel_paths, dst_root, rename=None):
    """Copy some files of a corpus, keeping (or renaming, via ``rename[rel]``) their relative paths."""
    for rel in rel_paths:
        target = os.path.join(dst_root, (rename or {}).get(rel, rel))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(src_root, rel), target)


def test_emodb_synthetic_has_ten_speakers_seven_letters_at_16k(parsed, folders):
    corpus = parsed["emodb"]
    _check_schema(corpus, folders["emodb"], "de")
    summary = corpus.summary()
    assert len(corpus) == 140 and corpus.problems == []
    assert summary["n_speakers"] == 10 and summary["labels"] == {letter: 20 for letter in "AEFLNTW"}
    assert summary["sample_rates"] == {"16000": 140} and summary["channels"] == {"1": 140}
    rec = next(r for r in corpus.records if r["id"] == "03a01Wb")
    assert (rec["wav"], rec["emotion"], rec["text_id"]) == ("wav/03a01Wb.wav", "angry", "a01")


def test_emodb_genders_follow_the_official_speaker_list(parsed):
    official = {"male": {"03", "10", "11", "12", "15"}, "female": {"08", "09", "13", "14", "16"}}
    genders = {rec["speaker"]: rec["gender"] for rec in parsed["emodb"].records}
    assert genders == {f"emodb_{code}": gender for gender, codes in official.items() for code in codes}


def test_ravdess_keeps_speech_only_by_default_and_songs_on_request(parsed, folders):
    speech = parsed["ravdess"]
    _check_schema(speech, folders["ravdess"], "en")
    assert len(speech) == 120 and speech.problems == []
    assert all(rec["id"].split("-")[1] == "01" for rec in speech.records)
    with_song = parse_corpus("ravdess", folders["ravdess"], include_song=True)
    songs = [rec for rec in with_song.records if rec["id"].split("-")[1] == "02"]
    assert len(with_song) == 126 and len(songs) == 6
    assert all(rec["wav"].startswith("Audio_Song_Actors_01-24/Actor_") for rec in songs)


def test_ravdess_fields_rates_channels_and_genders(parsed):
    records = parsed["ravdess"].records
    summary = parsed["ravdess"].summary()
    assert summary["sample_rates"] == {"48000": 120} and summary["channels"] == {"1": 113, "2": 7}
    assert set(summary["labels"]) == {f"{n:02d}" for n in range(1, 9)}
    assert {rec["intensity"] for rec in records if rec["label"] == "01"} == {"normal"}
    assert {rec["intensity"] for rec in records if rec["label"] == "05"} == {"normal", "strong"}
    for rec in records:
        actor = int(rec["id"].split("-")[-1])
        assert rec["speaker"] == f"ravdess_{actor:02d}"
        assert rec["gender"] == ("male" if actor % 2 else "female")
        statements = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
        assert rec["text"] == statements[rec["text_id"]]


def test_ravdess_accepts_the_folder_that_holds_actor_folders(folders):
    inner = parse_corpus("ravdess", os.path.join(folders["ravdess"], "Audio_Speech_Actors_01-24"))
    assert len(inner) == 120 and all(rec["wav"].startswith("Actor_") for rec in inner.records)


def test_ravdess_reports_other_modalities_and_misfiled_actors(folders, tmp_path):
    src = "Audio_Speech_Actors_01-24/Actor_01/03-01-03-01-02-01-01.wav"
    renames = {
        "audio-video": "Audio_Speech_Actors_01-24/Actor_01/01-01-03-01-02-01-01.wav",
        "misfiled": "Actor_02/03-01-03-02-02-01-04.wav",
    }
    for rel in [src, *renames.values()]:
        _copy(folders["ravdess"], [src], str(tmp_path), rename={src: rel})
    corpus = parse_corpus("ravdess", str(tmp_path))
    assert [rec["id"] for rec in corpus.records] == ["03-01-03-01-02-01-01"]
    assert len(corpus.problems) == 2
    assert any(renames["audio-video"] in p and "audio-only" in p for p in corpus.problems)
    assert any(renames["misfiled"] in p and "actor 04 filed under Actor_02" in p for p in corpus.problems)


def test_cafe_synthetic_labels_intensities_and_genders(parsed, folders):
    corpus = parsed["cafe"]
    _check_schema(corpus, folders["cafe"], "fr")
    summary = corpus.summary()
    assert len(corpus) == 156 and corpus.problems == [] and summary["n_speakers"] == 12
    assert summary["labels"] == {
        "Colère": 24, "Dégoût": 24, "Joie": 24, "Neutre": 12, "Peur": 24, "Surprise": 24, "Tristesse": 24,
    }
    assert summary["sample_rates"] == {"48000": 156}
    for rec in corpus.records:
        folder = rec["wav"].split("/")[1] if rec["label"] != "Neutre" else None
        assert rec["intensity"] == {"Faible": "weak", "Fort": "strong", None: None}[folder]
        assert rec["gender"] == ("male" if int(rec["speaker"][-2:]) % 2 else "female")
    emotions = {rec["emotion"] for rec in corpus.records}
    assert emotions == {"angry", "disgust", "happy", "neutral", "fear", "surprise", "sad"}


def test_cafe_matches_nfd_unaccented_and_upper_case_folders_and_aiff_at_any_rate(folders, tmp_path):
    src = folders["cafe"]
    nfd = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731
    renames = {
        "Colère/Fort/01-C-2-3.wav": f"{nfd('Colère')}/Fort/01-C-2-3.wav",
        "Dégoût/Faible/01-D-1-3.wav": "Degout/faible/01-D-1-3.wav",
        "Neutre/01-N-1.wav": "NEUTRE/01-N-1.wav",
        "Joie/Faible/01-J-1-4.wav": "Joie/Faible/01-J-2-4.wav",  # intensity code disagrees with its folder
    }
    _copy(src, list(renames), str(tmp_path), rename=renames)
    os.makedirs(tmp_path / "Tristesse" / "Fort")  # the 192 kHz release is AIFF
    sf.write(str(tmp_path / "Tristesse" / "Fort" / "05-T-2-6.aiff"), np.zeros(19200), 192000)
    corpus = parse_corpus("cafe", str(tmp_path))
    assert sorted((rec["label"], rec["intensity"], rec["sample_rate"]) for rec in corpus.records) == [
        ("Colère", "strong", 48000), ("Dégoût", "weak", 48000), ("Neutre", None, 48000),
        ("Tristesse", "strong", 192000),
    ]
    assert all(os.path.isfile(os.path.join(tmp_path, rec["wav"])) for rec in corpus.records)
    assert len(corpus.problems) == 1 and "01-J-2-4.wav" in corpus.problems[0]


def test_emovo_synthetic_is_48k_stereo_with_six_speakers(parsed, folders):
    corpus = parsed["emovo"]
    _check_schema(corpus, folders["emovo"], "it")
    summary = corpus.summary()
    assert len(corpus) == 126 and corpus.problems == []
    assert summary["sample_rates"] == {"48000": 126} and summary["channels"] == {"2": 126}
    assert set(summary["labels"]) == {"dis", "gio", "neu", "pau", "rab", "sor", "tri"}
    genders = {rec["speaker"]: rec["gender"] for rec in corpus.records}
    assert genders == {f"emovo_{g}{n}": ("female" if g == "f" else "male") for g in "fm" for n in (1, 2, 3)}


def test_emovo_accepts_upper_case_speaker_folders(folders, tmp_path):
    misfiled = f"m1/{sorted(os.listdir(os.path.join(folders['emovo'], 'm1')))[0]}"
    renames = {"f1/dis-f1-b1.wav": "F1/dis-f1-b1.wav", misfiled: misfiled.replace("m1/", "f2/", 1)}
    _copy(folders["emovo"], list(renames), str(tmp_path), rename=renames)
    corpus = parse_corpus("emovo", str(tmp_path))
    assert [(rec["id"], rec["speaker"], rec["wav"]) for rec in corpus.records] == [
        ("dis-f1-b1", "emovo_f1", "F1/dis-f1-b1.wav"),
    ]
    assert len(corpus.problems) == 1 and renames[misfiled] in corpus.problems[0]


def test_savee_audiodata_layout(parsed, folders):
    corpus = parsed["savee"]
    _check_schema(corpus, folders["savee"], "en")
    summary = corpus.summary()
    assert len(corpus) == 128 and corpus.problems == [] and summary["genders"] == {"male": 128}
    assert summary["speakers"] == {f"savee_{s}": 32 for s in ("DC", "JE", "JK", "KL")}
    assert summary["sample_rates"] == {"44100": 128} and summary["labels"]["n"] == 32
    assert {rec["id"] for rec in corpus.records} >= {"DC_a01", "KL_sa04", "JE_n08"}


def test_savee_flat_layout_in_all_folder_or_root(folders, tmp_path):
    renames = {
        "AudioData/DC/a01.wav": "ALL/DC_a01.wav", "AudioData/JK/sa03.wav": "ALL/JK_sa03.wav",
        "AudioData/KL/su02.wav": "KL_su02.wav", "AudioData/JE/h01.wav": "ALL/XY_h01.wav",
    }
    _copy(folders["savee"], list(renames), str(tmp_path), rename=renames)
    corpus = parse_corpus("savee", str(tmp_path))
    assert [(rec["id"], rec["speaker"], rec["emotion"]) for rec in corpus.records] == [
        ("DC_a01", "savee_DC", "angry"), ("JK_sa03", "savee_JK", "sad"), ("KL_su02", "savee_KL", "surprise"),
    ]
    assert len(corpus.problems) == 1 and "XY_h01.wav" in corpus.problems[0]


#: Per corpus: a correctly named path that the synthetic corpus does not have (to hold a corrupt file).
CORRUPT_PATHS = {
    "emodb": "wav/16b10Nz.wav",
    "ravdess": "Audio_Speech_Actors_01-24/Actor_24/03-01-03-01-01-01-24.wav",
    "cafe": "Peur/Fort/12-P-2-1.wav",
    "emovo": "m3/tri-m3-d2.wav",
    "savee": "AudioData/KL/n30.wav",
}


@pytest.mark.parametrize("name", CORPORA)
def test_corrupt_and_misnamed_files_are_skipped_and_reported(name, parsed, folders, tmp_path):
    kept = [rec["wav"] for rec in parsed[name].records[:3]]
    misnamed = f"{os.path.dirname(kept[0])}/take 2.wav"
    _copy(folders[name], kept, str(tmp_path))
    shutil.copyfile(os.path.join(folders[name], kept[0]), os.path.join(tmp_path, misnamed))
    os.makedirs(os.path.dirname(os.path.join(tmp_path, CORRUPT_PATHS[name])), exist_ok=True)
    with open(os.path.join(tmp_path, CORRUPT_PATHS[name]), "w") as corrupt:
        corrupt.write("not a wav file")
    corpus = parse_corpus(name, str(tmp_path))
    assert sorted(rec["wav"] for rec in corpus.records) == sorted(kept)
    assert len(corpus.problems) == 2
    assert any(CORRUPT_PATHS[name] in p and "unreadable" in p for p in corpus.problems)
    assert any(misnamed in p for p in corpus.problems)


@pytest.mark.parametrize("name", CORPORA)
def test_wrong_layout_raises_one_line_naming_the_expected_layout(name, folders, tmp_path):
    iemocap_wav = tmp_path / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
    os.makedirs(iemocap_wav.parent)
    sf.write(str(iemocap_wav), np.zeros(1600), 16000)
    other = folders[CORPORA[(CORPORA.index(name) + 1) % len(CORPORA)]]
    for folder in (str(tmp_path), other):
        with pytest.raises(EmoLobesError) as info:
            parse_corpus(name, folder)
        assert "\n" not in str(info.value) and "Fix: point --data_folder at" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmoLobesError, match="is empty"):
        parse_corpus(name, str(empty))


def test_writers_are_deterministic_and_a_speaker_subset_reproduces_the_full_corpus(folders, tmp_path):
    subset = emodb_writer.write(str(tmp_path / "a"), seed=0, speakers=["03"])
    names = sorted(os.listdir(os.path.join(subset, "wav")))
    assert len(names) == 14
    full = os.path.join(folders["emodb"], "wav")
    match, mismatch, errors = filecmp.cmpfiles(os.path.join(subset, "wav"), full, names, shallow=False)
    assert len(match) == 14 and not mismatch and not errors
    other_seed = emodb_writer.write(str(tmp_path / "b"), seed=1, speakers=["03"])
    assert sorted(os.listdir(os.path.join(other_seed, "wav"))) == names
    first, other = os.path.join(subset, "wav", names[0]), os.path.join(other_seed, "wav", names[0])
    assert not filecmp.cmp(first, other, shallow=False)
    stereo = ravdess_writer.write(str(tmp_path / "r"), seed=0, speakers=["05"])
    for rel in (f["path"] for f in ravdess_writer.plan(["05"])):
        assert filecmp.cmp(os.path.join(stereo, rel), os.path.join(folders["ravdess"], rel), shallow=False)
    before = os.path.getmtime(os.path.join(subset, "wav", names[0]))
    assert emodb_writer.write(subset, seed=0, speakers=["03"]) == subset
    assert os.path.getmtime(os.path.join(subset, "wav", names[0])) == before
