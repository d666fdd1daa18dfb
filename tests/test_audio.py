"""Audio reading: every common WAV flavour, FLAC, stereo and other rates load as mono 16 kHz; bad files fail in one line."""
import hashlib
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from emo_lobes.data.audio import audio_info, load_audio
from emo_lobes.errors import EmoLobesError


def tone(rate, seconds=0.5, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.5 * np.sin(2 * np.pi * 220 * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_subtypes_load_as_float_mono(tmp_path, subtype):
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, tone(16000), 16000, subtype=subtype)
    wav = load_audio(path, 16000)
    assert wav.dtype == torch.float32 and wav.shape == (8000,)
    assert 0.45 < wav.abs().max() < 0.55


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_rates_are_resampled_at_load(tmp_path, rate):
    path = tmp_path / "x.wav"
    sf.write(path, tone(rate), rate)
    assert load_audio(path, 16000).shape == (8000,)
    assert load_audio(path, None).shape == (rate // 2,)


def test_stereo_is_averaged_to_mono_and_file_untouched(tmp_path):
    path = tmp_path / "stereo.wav"
    data = np.stack([tone(48000), -0.5 * tone(48000)], axis=1)
    sf.write(path, data, 48000)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    wav = load_audio(path, 48000)
    assert wav.shape == (24000,)
    np.testing.assert_allclose(wav.numpy(), 0.25 * tone(48000), atol=1e-4)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert audio_info(path).channels == 2


def test_flac(tmp_path):
    path = tmp_path / "x.flac"
    sf.write(path, tone(16000), 16000, format="FLAC")
    assert load_audio(path).shape == (8000,)


def test_empty_wav_is_one_line_error(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0), 16000)
    with pytest.raises(EmoLobesError) as err:
        load_audio(path)
    assert "no samples" in str(err.value) and "\n" not in str(err.value)


def test_corrupt_header_is_one_line_error(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00garbage" * 3)
    for reader in (audio_info, load_audio):
        with pytest.raises(EmoLobesError) as err:
            reader(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(EmoLobesError):
        load_audio(tmp_path / "nope.wav")


def test_nan_and_truncated_files_are_problems_of_their_own_and_skipped(tmp_path, capsys):
    from emo_lobes.data.corpora import parse_corpus
    from emo_lobes.data.manifest import write_problems_report
    root = tmp_path / "URDU"
    os.makedirs(root / "Angry")
    os.makedirs(root / "Sad")
    sf.write(str(root / "Angry" / "SM1_F1_A01.wav"), np.full(4410, 0.1), 44100)
    partly_nan = np.full(4410, 0.1)
    partly_nan[100:200] = np.nan
    sf.write(str(root / "Angry" / "SM1_F2_A02.wav"), partly_nan, 44100, subtype="FLOAT")
    sf.write(str(root / "Sad" / "SM1_F1_S01.wav"), np.full(4410, 0.1), 44100)
    with open(root / "Sad" / "SM1_F1_S01.wav", "r+b") as handle:
        handle.truncate(3000)  # its header still claims 8820 bytes of samples
    parsed = parse_corpus("urdu", str(root))
    assert [r["id"] for r in parsed.records] == ["SM1_F1_A01"]
    assert any("SM1_F2_A02.wav: 100 non-finite samples (NaN/inf), skipped" in p for p in parsed.problems)
    assert any("SM1_F1_S01.wav: truncated" in p for p in parsed.problems)
    write_problems_report(parsed.problems, str(tmp_path / "problems.txt"))
    assert "[prep] 2 problems (2 files skipped), see" in capsys.readouterr().out
    with pytest.raises(EmoLobesError) as err:
        load_audio(str(root / "Angry" / "SM1_F2_A02.wav"))
    assert "100 non-finite samples" in err.value.problem
