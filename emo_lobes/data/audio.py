"""Audio reading: any WAV/FLAC sound file to a mono float tensor at the recipe's sample rate, corpus untouched."""

import functools

import numpy as np
import soundfile as sf
import torch
import torchaudio

from emo_lobes.errors import EmoLobesError


class AudioInfo:
    """What the header of a sound file says.

    Arguments
    ---------
    frames : int
        Samples per channel.
    sample_rate : int
        Sampling rate in Hz.
    channels : int
        Number of channels.
    subtype : str
        soundfile's subtype (``PCM_16``, ``PCM_24``, ``FLOAT``, ...).

    Example
    -------
    >>> AudioInfo(16000, 16000, 1, "PCM_16").duration
    1.0
    """

    def __init__(self, frames, sample_rate, channels, subtype):
        self.frames = int(frames)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.subtype = subtype

    @property
    def duration(self):
        """Duration in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path):
    """Read a sound file's header.

    Arguments
    ---------
    path : str
        A WAV, FLAC or other libsndfile-readable file.

    Returns
    -------
    AudioInfo
        Frames, sample rate, channels and subtype.

    Raises
    ------
    EmoLobesError
        When the file is missing or its header cannot be read (corrupt, not audio).

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, np.zeros((480, 2)), 48000)
    >>> info = audio_info(path)
    >>> (info.frames, info.sample_rate, info.channels)
    (480, 48000, 2)
    """
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises RuntimeError/LibsndfileError/OSError by version
        raise EmoLobesError(
            f"cannot read audio header of {path} ({str(err).splitlines()[0][:120]})",
            "replace or remove the file; data prep skips and lists such files in its report",
        ) from None
    return AudioInfo(info.frames, info.samplerate, info.channels, info.subtype)




def load_audio(path, sample_rate=16000, start=0, stop=None):
    """Read a sound file as a mono float32 tensor at ``sample_rate``.

    Multi-channel audio is averaged to mono and other rates are resampled here, at load time,
    so the corpus on disk is never rewritten. 8-, 16-, 24-bit integer and float WAV and FLAC are read by
    libsndfile (as SpeechBrain's ``read_audio`` does); ``torchaudio.load`` is not used.

    Arguments
    ---------
    path : str
        The sound file.
    sample_rate : int or None
        Target rate; ``None`` keeps the file's rate.
    start, stop : int
        Frame range to read, in the file's own rate (``stop=None``: to the end).

    Returns
    -------
    torch.Tensor
        Shape ``[samples]``, float32 in [-1, 1].

    Raises
    ------
    EmoLobesError
        When the file cannot be read or holds no samples.

    Example
    -------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "stereo48k.wav")
    >>> sf.write(path, np.random.uniform(-0.5, 0.5, (4800, 2)), 48000)
    >>> load_audio(path, 16000).shape
    torch.Size([1600])
    """
    try:
        data, file_rate = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as err:
        raise EmoLobesError(
            f"cannot read audio {path} ({str(err).splitlines()[0][:120]})",
            "replace or remove the file, or re-run data prep, which lists unreadable files in its report",
        ) from None
    if data.shape[0] == 0:
        raise EmoLobesError(f"audio file {path} holds no samples", "remove it or re-run data prep, which skips it")
    wav = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if sample_rate is not None and file_rate != sample_rate:
        wav = resampler(int(file_rate), int(sample_rate))(wav.unsqueeze(0)).squeeze(0)
    return wav


@functools.lru_cache(maxsize=16)
def resampler(orig_rate, new_rate):
    """A ``torchaudio.transforms.Resample`` for one rate pair, built once (its sinc kernel is the costly part).

    Arguments
    ---------
    orig_rate, new_rate : int
        Rates in Hz.

    Returns
    -------
    torchaudio.transforms.Resample
        The same filter as ``torchaudio.functional.resample`` with its defaults.

    Example
    -------
    >>> resampler(48000, 16000) is resampler(48000, 16000)
    True
    >>> resampler(48000, 16000)(torch.zeros(1, 4800)).shape
    torch.Size([1, 1600])
    """
    return torchaudio.transforms.Resample(orig_rate, new_rate)
