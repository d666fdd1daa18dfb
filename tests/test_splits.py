"""Tests of speaker-independent splits: no leakage, determinism, IEMOCAP-like LOSO, fixed-split errors."""
import pytest

from emo_lobes.errors import EmoLobesError
from emo_lobes.data.splits import (
    check_no_leakage, fixed_speaker_split, hold_out_speakers, leave_one_session_out, leave_one_speaker_out,
    random_kfold, select, speaker_group_kfold, split_summary,
)

EMOTIONS = ("neutral", "happy", "sad", "angry")


def iemocap_like(n_per_speaker=8):
    """10 speakers, 5 sessions of one female and one male speaker, 4 emotions each."""
    records = []
    for session in range(1, 6):
        for gender in ("F", "M"):
            speaker = f"Ses0{session}{gender}"
            for index in range(n_per_speaker):
                records.append({"id": f"{speaker}_{index:03d}", "speaker": speaker, "session": f"Ses0{session}",
                                "gender": "female" if gender == "F" else "male",
                                "emotion": EMOTIONS[index % 4], "duration": 1.0 + index})
    return records


def all_partitions_cover(split, records):
    ids = split["train"] + split["dev"] + split["test"]
    return sorted(ids) == sorted(r["id"] for r in records)


def speaker_lists(folds):
    return [(f["train_speakers"], f["dev_speakers"], f["test_speakers"]) for f in folds]


def test_loso_on_iemocap_gives_ten_folds_8_1_1_with_session_partner_as_dev():
    records = iemocap_like()
    folds = leave_one_speaker_out(records, dev_rule="session_partner")
    assert len(folds) == 10
    for fold in folds:
        (test,), (dev,) = fold["test_speakers"], fold["dev_speakers"]
        assert len(fold["train_speakers"]) == 8
        assert dev[:5] == test[:5] and dev != test  # the other speaker of the same session
        assert fold["name"] == f"speaker_{test}"
        assert fold["test"] == sorted(r["id"] for r in records if r["speaker"] == test)
        assert all_partitions_cover(fold, records)
        check_no_leakage(fold, records)
    assert sorted(f["test_speakers"][0] for f in folds) == sorted({r["speaker"] for r in records})


def test_loso_next_rule_rotates_dev_and_depends_on_seed():
    records = iemocap_like(2)
    folds = leave_one_speaker_out(records, dev_rule="next", seed=0)
    devs = [f["dev_speakers"][0] for f in folds]
    assert sorted(devs) == sorted(f["test_speakers"][0] for f in folds)  # every speaker is dev once
    assert all(f["dev_speakers"] != f["test_speakers"] for f in folds)
    assert speaker_lists(folds) == speaker_lists(leave_one_speaker_out(records, dev_rule="next", seed=0))
    assert speaker_lists(folds) != speaker_lists(leave_one_speaker_out(records, dev_rule="next", seed=1))
    for fold in folds:
        check_no_leakage(fold, records)


def test_loso_session_partner_falls_back_to_next_without_sessions():
    records = [{k: v for k, v in r.items() if k != "session"} for r in iemocap_like(2)]
    partner = leave_one_speaker_out(records, dev_rule="session_partner", seed=4)
    assert speaker_lists(partner) == speaker_lists(leave_one_speaker_out(records, dev_rule="next", seed=4))


def test_loso_without_dev_and_too_few_speakers():
    records = iemocap_like(2)
    folds = leave_one_speaker_out(records, dev_rule="none")
    assert all(f["dev"] == [] and len(f["train_speakers"]) == 9 for f in folds)
    two = [r for r in records if r["session"] == "Ses01"]
    with pytest.raises(EmoLobesError, match="at least 3 speakers"):
        leave_one_speaker_out(two)
    with pytest.raises(EmoLobesError, match="unknown dev_rule"):
        leave_one_speaker_out(records, dev_rule="previous")


@pytest.mark.parametrize("dev, n_dev", [("next_session_speaker", 1), ("next_session", 2), ("speaker_fraction", 1),
                                        ("none", 0)])
def test_leave_one_session_out_dev_rules(dev, n_dev):
    records = iemocap_like(2)
    folds = leave_one_session_out(records, dev=dev, seed=0)
    assert [f["name"] for f in folds] == [f"session_Ses0{s}" for s in range(1, 6)]
    for number, fold in enumerate(folds, start=1):
        assert fold["test_speakers"] == [f"Ses0{number}F", f"Ses0{number}M"]
        assert len(fold["dev_speakers"]) == n_dev
        assert len(fold["train_speakers"]) == 8 - n_dev
        if dev.startswith("next_session"):
            assert all(s.startswith(f"Ses0{number % 5 + 1}") for s in fold["dev_speakers"])
        assert all_partitions_cover(fold, records)
        check_no_leakage(fold, records)
    assert speaker_lists(folds) == speaker_lists(leave_one_session_out(records, dev=dev, seed=0))


def test_leave_one_session_out_refuses_speakers_in_two_sessions():
    records = iemocap_like(2)
    records[0] = dict(records[0], session="Ses02")
    with pytest.raises(EmoLobesError, match="speaker Ses01F appears in sessions"):
        leave_one_session_out(records)


def test_speaker_group_kfold_is_speaker_disjoint_deterministic_and_seeded():
    records = iemocap_like(4)
    folds = speaker_group_kfold(records, k=5, n_dev_speakers=1, seed=0)
    assert len(folds) == 5
    tested = sorted(s for f in folds for s in f["test_speakers"])
    assert tested == sorted({r["speaker"] for r in records})  # every speaker tested exactly once
    for fold in folds:
        assert len(fold["dev_speakers"]) == 1 and set(fold["dev_speakers"]).isdisjoint(fold["test_speakers"])
        assert all_partitions_cover(fold, records)
        check_no_leakage(fold, records)
    assert speaker_lists(folds) == speaker_lists(speaker_group_kfold(records, k=5, n_dev_speakers=1, seed=0))
    assert speaker_lists(folds) != speaker_lists(speaker_group_kfold(records, k=5, n_dev_speakers=1, seed=1))


def test_speaker_group_kfold_dev_fraction_and_no_emotion():
    records = [{k: v for k, v in r.items() if k != "emotion"} for r in iemocap_like(2)]
    folds = speaker_group_kfold(records, k=2, dev_fraction=0.25, seed=3)
    for fold in folds:
        assert len(fold["test_speakers"]) == 5
        assert len(fold["dev_speakers"]) == 1  # round(0.25 * 5)
        check_no_leakage(fold, records)
    no_dev = speaker_group_kfold(records, k=2, dev_fraction=0, seed=3)
    assert all(f["dev"] == [] for f in no_dev)
    with pytest.raises(EmoLobesError, match="11 folds over 10 speakers"):
        speaker_group_kfold(records, k=11)


def test_random_kfold_partitions_utterances_and_is_seeded():
    records = [{"id": f"u{i:02d}", "emotion": EMOTIONS[i % 4]} for i in range(40)]
    folds = random_kfold(records, k=4, dev_fraction=0.1, seed=0)
    assert sorted(u for f in folds for u in f["test"]) == sorted(r["id"] for r in records)
    for fold in folds:
        assert (len(fold["train"]), len(fold["dev"]), len(fold["test"])) == (27, 3, 10)
        assert fold["speaker_independent"] is False and fold["test_speakers"] == []
        assert all_partitions_cover(fold, records)
        check_no_leakage(fold, records)
        test_emotions = [records[int(u[1:])]["emotion"] for u in fold["test"]]
        assert all(test_emotions.count(e) == 10 // 4 or test_emotions.count(e) == 10 // 4 + 1 for e in EMOTIONS)
    assert folds == random_kfold(records, k=4, dev_fraction=0.1, seed=0)
    assert folds != random_kfold(records, k=4, dev_fraction=0.1, seed=1)


def test_fixed_split_cafe_style_and_its_errors():
    records = [{"id": f"cafe_{a:02d}_{i}", "speaker": f"cafe_{a:02d}"} for a in range(1, 13) for i in range(3)]
    split = fixed_speaker_split(records, ["cafe_09", "cafe_10"], ["cafe_11", "cafe_12"], name="cafe_paper")
    assert split["train_speakers"] == [f"cafe_{a:02d}" for a in range(1, 9)]
    assert split["test"] == [f"cafe_{a}_{i}" for a in (11, 12) for i in range(3)]
    check_no_leakage(split, records)

    with pytest.raises(EmoLobesError, match="absent from the records: 13, cafe_99") as err:
        fixed_speaker_split(records, ["cafe_99"], ["13"])
    assert "cafe_01" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(EmoLobesError, match="in both dev and test"):
        fixed_speaker_split(records, ["cafe_01"], ["cafe_01", "cafe_02"])
    everyone = [f"cafe_{a:02d}" for a in range(2, 13)]
    with pytest.raises(EmoLobesError, match="split 'all' leaves the train partition empty. Fix: "):
        fixed_speaker_split(records, ["cafe_01"], everyone, name="all")
    with pytest.raises(EmoLobesError, match="leaves the dev partition empty"):
        fixed_speaker_split(records, [], ["cafe_01"])


def test_hold_out_speakers_balances_gender_and_is_seeded():
    records = iemocap_like(2)
    genders = {r["speaker"]: r["gender"] for r in records}
    seen = set()
    for seed in range(6):
        split = hold_out_speakers(records, n_test=2, n_dev=2, seed=seed)
        assert sorted(genders[s] for s in split["test_speakers"]) == ["female", "male"]
        assert sorted(genders[s] for s in split["dev_speakers"]) == ["female", "male"]
        assert len(split["train_speakers"]) == 6
        check_no_leakage(split, records)
        assert split == hold_out_speakers(records, n_test=2, n_dev=2, seed=seed)
        seen.add(tuple(split["test_speakers"]))
    assert len(seen) > 1
    one = hold_out_speakers(records, n_test=1, n_dev=0, seed=0, balance_gender=False)
    assert len(one["test_speakers"]) == 1 and one["dev"] == []
    with pytest.raises(EmoLobesError, match="cannot hold out"):
        hold_out_speakers(records, n_test=5, n_dev=5)


def test_check_no_leakage_catches_shared_utterances_and_wrong_speaker_lists():
    records = iemocap_like(2)
    split = fixed_speaker_split(records, ["Ses01M"], ["Ses01F"])
    with pytest.raises(EmoLobesError, match="utterance Ses01F_000 in both"):
        check_no_leakage(dict(split, dev=split["dev"] + ["Ses01F_000"]), records)
    with pytest.raises(EmoLobesError, match="lists test speakers"):
        check_no_leakage(dict(split, test_speakers=["Ses02F"]), records)
    with pytest.raises(EmoLobesError, match="unknown utterance"):
        check_no_leakage(dict(split, test=split["test"] + ["nope"]), records)


def test_records_without_speaker_are_refused():
    with pytest.raises(EmoLobesError, match="has no speaker.*random_kfold"):
        leave_one_speaker_out([{"id": "a"}, {"id": "b", "speaker": "s"}])


def test_select_and_split_summary():
    records = iemocap_like(2)
    split = fixed_speaker_split(records, ["Ses01M"], ["Ses01F"])
    assert [r["id"] for r in select(records, split["test"])] == ["Ses01F_000", "Ses01F_001"]
    with pytest.raises(EmoLobesError, match="not in the records"):
        select(records, ["missing"])
    summary = split_summary(split, records)
    assert summary["test"] == {"n_utterances": 2, "n_speakers": 1, "duration_s": 3.0,
                               "emotions": {"happy": 1, "neutral": 1}}
    assert summary["train"]["n_utterances"] == 16 and summary["train"]["n_speakers"] == 8
