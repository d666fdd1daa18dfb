"""Tests of the synthetic voice: determinism, lengths, speed, emotion profiles and learnable-but-overlapping classes."""
import os
import time

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emo_lobes.data.labels import CANONICAL_EMOTIONS
from emo_lobes.data.synthetic.common import (
    GENERATOR_VERSION, begin, corpus_is_current, finish, read_stamp, speaker_voices, write_wav,
)
from emo_lobes.data.synthetic.voice import PROFILE_FIELDS, SpeakerVoice, emotion_profile, synthesize


def test_same_rng_state_gives_identical_samples_and_different_states_differ():
    voice = SpeakerVoice.random(np.random.default_rng(5), "male")
    first = synthesize("happy", voice, np.random.default_rng(11))
    second = synthesize("happy", voice, np.random.default_rng(11))
    third = synthesize("happy", voice, np.random.default_rng(12))
    assert np.array_equal(first, second)
    assert not (len(first) == len(third) and np.array_equal(first, third))


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000])
def test_requested_duration_and_rate_give_that_many_finite_samples(sample_rate):
    voice = SpeakerVoice.random(np.random.default_rng(0), "female")
    audio = synthesize("sad", voice, np.random.default_rng(1), sample_rate=sample_rate, duration=1.5)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == int(round(1.5 * sample_rate))
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert np.sqrt(np.mean(audio**2)) > 0.005  # not silence


def test_default_duration_is_drawn_between_1_2_and_3_5_seconds_and_varies():
    rng = np.random.default_rng(3)
    voices = speaker_voices(rng, ["male", "female"])
    durations = [len(synthesize(e, v, rng)) / 16000 for e in ("angry", "sad", "neutral") for v in voices * 3]
    assert min(durations) >= 1.2 and max(durations) <= 3.5
    assert len(set(durations)) > 5


def test_two_second_utterance_takes_well_under_50_ms():
    voice = SpeakerVoice.random(np.random.default_rng(0), "female")
    rng = np.random.default_rng(0)
    synthesize("angry", voice, rng, duration=2.0)
    start = time.perf_counter()
    for _ in range(10):
        synthesize("angry", voice, rng, duration=2.0)
    assert (time.perf_counter() - start) / 10 < 0.05


def test_speaker_voices_follow_gender_ranges_and_are_distinct():
    voices = speaker_voices(np.random.default_rng(0), ["male"] * 20 + ["female"] * 20)
    males, females = voices[:20], voices[20:]
    assert all(90 <= v.f0_hz <= 140 and v.formant_scale <= 1.0 for v in males)
    assert all(170 <= v.f0_hz <= 250 and v.formant_scale > 1.0 for v in females)
    assert all(3.5 <= v.rate <= 5.5 for v in voices)
    assert len(set(voices)) == 40
    with pytest.raises(ValueError):
        SpeakerVoice.random(np.random.default_rng(0), "unknown")


def test_profiles_follow_the_ser_literature_and_intensity_scales_them():
    angry, sad, neutral = emotion_profile("angry"), emotion_profile("sad"), emotion_profile("neutral")
    assert angry["f0_level"] > neutral["f0_level"] > sad["f0_level"]
    assert angry["f0_range"] > neutral["f0_range"] > sad["f0_range"]
    assert angry["tempo"] > neutral["tempo"] > sad["tempo"]
    assert angry["energy_db"] > neutral["energy_db"] > sad["energy_db"]
    assert angry["tilt"] < neutral["tilt"] < sad["tilt"]
    assert emotion_profile("boredom")["f0_range"] < neutral["f0_range"]
    strong, weak = emotion_profile("angry", 1.5), emotion_profile("angry", 0.5)
    assert strong["energy_db"] > angry["energy_db"] > weak["energy_db"] > neutral["energy_db"]
    assert strong["f0_level"] > angry["f0_level"] > weak["f0_level"] > neutral["f0_level"]


def test_every_emotion_word_gets_a_distinct_reproducible_profile():
    words = list(CANONICAL_EMOTIONS) + ["pride", "relief", "amusement", "despair", "worry", "irritation",
                                        "interest", "pleasure", "zorgy", "blargy"]
    profiles = [tuple(emotion_profile(w)[f] for f in PROFILE_FIELDS) for w in words]
    assert len(set(profiles)) == len(words)
    assert emotion_profile("Anger") == emotion_profile("angry")  # corpus spellings map to canonical names
    assert emotion_profile("zorgy") == emotion_profile(" ZORGY ")
    # The unknown-word profile is a fixed function of the word (no salted hash): pin one value.
    assert round(emotion_profile("zorgy")["f0_level"], 6) == 1.016492
    assert emotion_profile("despair")["f0_level"] > 1.0 and emotion_profile("worry")["f0_level"] > 1.0


def _features(audio, sample_rate=16000):
    """Utterance-level prosodic features: log energy, ZCR, spectral centroid, autocorrelation F0, duration."""
    frame, hop = 400, 160
    frames = np.lib.stride_tricks.sliding_window_view(audio, frame)[::hop].astype(np.float64)
    energy = np.log(np.mean(frames**2, axis=1) + 1e-10)
    active = energy > energy.max() - 4.0
    zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1))
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    centroid = (spectrum * freqs).sum(axis=1) / (spectrum.sum(axis=1) + 1e-10)
    lags = np.arange(sample_rate // 400, sample_rate // 60)
    centred = frames[active] - frames[active].mean(axis=1, keepdims=True)
    autocorr = np.fft.irfft(np.abs(np.fft.rfft(centred, n=2 * frame, axis=1)) ** 2, axis=1)
    f0 = sample_rate / lags[np.argmax(autocorr[:, lags], axis=1)]
    log_f0 = np.log(f0)
    return [energy[active].mean(), energy[active].std(), active.mean(), zcr[active].mean(),
            centroid[active].mean(), log_f0.mean(), log_f0.std(), len(audio) / sample_rate]


def test_emotions_are_learnable_across_speakers_but_overlap():
    rng = np.random.default_rng(2024)
    emotions = ["neutral", "happy", "sad", "angry"]
    voices = speaker_voices(rng, ["male", "female"] * 4)
    features, labels, speakers = [], [], []
    for speaker_index, voice in enumerate(voices):
        for label, emotion in enumerate(emotions):
            for _ in range(8):
                features.append(_features(synthesize(emotion, voice, rng)))
                labels.append(label)
                speakers.append(speaker_index)
    features, labels, speakers = np.array(features), np.array(labels), np.array(speakers)
    test = speakers >= 6  # two held-out speakers, one of each gender
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(features[~test], labels[~test])
    accuracy = classifier.score(features[test], labels[test])
    assert 0.45 < accuracy < 0.99, accuracy


def test_write_wav_writes_mono_and_slightly_different_stereo(tmp_path):
    audio = synthesize("calm", SpeakerVoice.random(np.random.default_rng(0), "male"), np.random.default_rng(1),
                       sample_rate=22050, duration=0.5)
    mono = write_wav(tmp_path / "deep" / "m.wav", audio, 22050)
    stereo = write_wav(tmp_path / "s.flac", audio, 22050, channels=2, subtype="PCM_24")
    read_mono, rate = sf.read(mono, dtype="float32")
    read_stereo, _ = sf.read(stereo, dtype="float32")
    assert rate == 22050 and read_mono.shape == audio.shape
    assert np.abs(read_mono - audio).max() < 1e-3
    assert read_stereo.shape == (len(audio), 2) and sf.info(stereo).subtype == "PCM_24"
    assert 0 < np.abs(read_stereo[:, 0] - read_stereo[:, 1]).max() < 0.5


def test_corpus_folder_is_written_atomically_and_replaced_when_out_of_date(tmp_path):
    folder = str(tmp_path / "EmoDB")
    tmp = begin(folder)
    write_wav(os.path.join(tmp, "wav", "a.wav"), np.zeros(160), 16000)
    assert not os.path.exists(folder)  # nothing visible until finish
    assert finish(tmp, folder, {"name": "emodb", "seed": 0, "files": 1}) == os.path.abspath(folder)
    assert corpus_is_current(folder, "emodb", 0)
    assert not corpus_is_current(folder, "emodb", 1)
    assert not corpus_is_current(folder, "emodb", 0, version=GENERATOR_VERSION + 1)
    assert read_stamp(folder)["files"] == 1
    tmp = begin(folder)
    write_wav(os.path.join(tmp, "wav", "b.wav"), np.zeros(160), 16000)
    finish(tmp, folder, {"name": "emodb", "seed": 1})
    assert os.listdir(os.path.join(folder, "wav")) == ["b.wav"]
    assert corpus_is_current(folder, "emodb", 1)
    assert sorted(os.listdir(tmp_path)) == ["EmoDB"]  # no temporary or old folder left behind
    with pytest.raises(ValueError):
        finish(begin(folder), folder, {"seed": 1})
