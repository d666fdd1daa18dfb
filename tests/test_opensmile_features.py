"""Tests of the on-disk feature cache: openSMILE functionals (IS09, eGeMAPS) and Kaldi MFCC frames."""
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from emo_lobes.errors import EmoLobesError
from emo_lobes.features.feature_cache import (
    FeatureCache, feature_size, first_mfcc_frames, functionals, functionals_cache, kaldi_mfcc, mfcc_cache,
)


def _tone(path, seconds, rate=16000, channels=1, freq=220.0):
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.2 * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
    sf.write(path, np.stack([signal] * channels, axis=1) if channels > 1 else signal, rate)
    return str(path)


@pytest.fixture()
def wavs(tmp_path):
    data = tmp_path / "corpus"
    data.mkdir()
    return [_tone(data / "a.wav", 1.5), _tone(data / "b.wav", 0.8, rate=44100, channels=2, freq=330.0)]


def test_is09_has_384_functionals_and_egemaps_88(wavs, tmp_path):
    is09 = functionals(wavs, "IS09", cache_dir=str(tmp_path / "cache"))
    egemaps = functionals(wavs, "eGeMAPSv02", cache_dir=str(tmp_path / "cache"))
    assert is09.shape == (2, 384) and egemaps.shape == (2, 88)
    assert is09.dtype == np.float32 and np.isfinite(is09).all()
    assert not np.allclose(is09[0], is09[1])  # two different signals, two different vectors
    assert feature_size("IS09") == 384 and feature_size("mfcc", n_mfcc=13) == 13


def test_second_call_reads_the_cache_without_recomputing(wavs, tmp_path):
    cache_dir = str(tmp_path / "cache")
    first_cache = functionals_cache("IS09", cache_dir)
    first = np.stack(first_cache.get_many(wavs))
    entries = [first_cache.entry_path(w) for w in wavs]
    mtimes = [os.stat(e).st_mtime_ns for e in entries]
    second_cache = functionals_cache("IS09", cache_dir)
    second = np.stack(second_cache.get_many(wavs))
    assert (first_cache.n_computed, first_cache.n_loaded) == (2, 0)
    assert (second_cache.n_computed, second_cache.n_loaded) == (0, 2)
    assert np.array_equal(first, second)
    assert [os.stat(e).st_mtime_ns for e in entries] == mtimes  # entries not rewritten
    assert all(not p.startswith(os.path.dirname(wavs[0])) for p in entries)  # nothing under the data folder


def test_a_changed_file_or_another_feature_set_is_computed_afresh(wavs, tmp_path):
    cache_dir = str(tmp_path / "cache")
    functionals_cache("IS09", cache_dir).get(wavs[0])
    _tone(wavs[0], 1.5, freq=440.0)  # rewritten: new size and mtime
    cache = functionals_cache("IS09", cache_dir)
    cache.get(wavs[0])
    assert cache.n_computed == 1
    other = functionals_cache("eGeMAPSv02", cache_dir)
    other.get(wavs[1])
    assert other.n_computed == 1 and other.folder != cache.folder


def test_damaged_entry_is_recomputed(wavs, tmp_path):
    cache = FeatureCache(str(tmp_path / "cache"), "frames", lambda path: np.arange(3))
    cache.get(wavs[0])
    with open(cache.entry_path(wavs[0]), "wb") as handle:
        handle.write(b"garbage")
    assert np.array_equal(cache.get(wavs[0]), np.arange(3)) and cache.n_computed == 2


def test_missing_audio_is_a_one_line_error(tmp_path):
    with pytest.raises(EmoLobesError, match="does not exist"):
        functionals([str(tmp_path / "gone.wav")], "IS09", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(EmoLobesError, match="unknown openSMILE feature set"):
        functionals_cache("IS99")


def test_mfcc_first_frames_are_those_of_the_whole_file(wavs, tmp_path):
    frames = first_mfcc_frames(wavs[0])
    assert frames.shape == (120, 13)
    full = kaldi_mfcc(torch.from_numpy(sf.read(wavs[0], dtype="float32")[0]))
    assert full.shape[0] > 120
    assert np.allclose(frames, full[:120].numpy(), atol=1e-3)  # only the needed audio is read, same frames
    short = _tone(tmp_path / "short.wav", 0.3)
    assert first_mfcc_frames(short).shape == (28, 13)  # 0.3 s: fewer frames, padded later in the batch
    assert first_mfcc_frames(wavs[1]).shape == (80 - 2, 13)  # 0.8 s stereo 44.1 kHz, read as 16 kHz mono


def test_mfcc_cache_round_trip(wavs, tmp_path):
    cache = mfcc_cache(str(tmp_path / "cache"))
    first = cache.get(wavs[0])
    again = mfcc_cache(str(tmp_path / "cache"))
    assert np.array_equal(again.get(wavs[0]), first) and again.n_computed == 0
