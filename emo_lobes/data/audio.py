"""Audio reading: any WAV/FLAC sound file to a mono float tensor at the recipe's sample rate, corpus untouched."""

import functools
import os

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




#: Sample formats that can hold NaN or infinity (integer PCM cannot).
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


def audio_defect(path, info=None):
    """What makes a readable sound file unusable, or ``None``: non-finite samples, or a truncated WAV.

    A float file is read whole (only float samples can be NaN or infinite); a WAV whose ``data`` chunk claims more
    bytes than the file holds (a copy cut short) is found from its header alone.

    Arguments
    ---------
    path : str
        The sound file.
    info : AudioInfo, optional
        Its header, when already read.

    Returns
    -------
    str or None
        One phrase naming the defect.

    Example
    -------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> sf.write(os.path.join(d, "ok.wav"), np.zeros(1600), 16000, subtype="FLOAT")
    >>> sf.write(os.path.join(d, "nan.wav"), np.full(1600, np.nan), 16000, subtype="FLOAT")
    >>> sf.write(os.path.join(d, "cut.wav"), np.zeros(1600), 16000)
    >>> with open(os.path.join(d, "cut.wav"), "r+b") as f:
    ...     _ = f.truncate(1000)
    >>> [audio_defect(os.path.join(d, name)) for name in ("ok.wav", "nan.wav", "cut.wav")]
    [None, '1600 non-finite samples (NaN/inf)', 'truncated: its header claims 3200 bytes of samples, the file holds 956']
    """
    info = info or audio_info(path)
    if info.subtype in FLOAT_SUBTYPES:
        data, _ = sf.read(str(path), dtype="float64", always_2d=True)
        bad = int((~np.isfinite(data)).sum())
        if bad:
            return f"{bad} non-finite samples (NaN/inf)"
    if str(path).lower().endswith(".wav"):
        claimed, held = _wav_data_sizes(path)
        if claimed is not None and held < claimed:
            return f"truncated: its header claims {claimed} bytes of samples, the file holds {held}"
    return None


def _wav_data_sizes(path):
    # (bytes the RIFF 'data' chunk claims, bytes the file holds after its header); (None, None) when not found.
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return None, None
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None, None
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if head[:4] == b"RF64" or size == 0xFFFFFFFF:
                    return None, None  # 64-bit sizes live in the ds64 chunk: left to libsndfile
                start = handle.tell()
                return size, os.fstat(handle.fileno()).st_size - start
            handle.seek(size + (size & 1), 1)


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
        When the file cannot be read, holds no samples, or holds non-finite samples (NaN/inf).

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
    if not np.isfinite(data).all():
        raise EmoLobesError(f"audio file {path} holds {int((~np.isfinite(data)).sum())} non-finite samples (NaN/inf)",
                            "replace or remove the file (data prep skips such files and lists them in its report)")
    wav = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if sample_rate is not None and file_rate != sample_rate:
        wav = resampler(int(file_rate), int(sample_rate))(wav.unsqueeze(0)).squeeze(0)
    return wav


#: Frames of :func:`trim_silence`'s energy envelope: 25 ms windows every 10 ms.
TRIM_FRAME_S = 0.025
TRIM_HOP_S = 0.010


def trim_silence(wav, sample_rate=16000, threshold_db=40.0, margin_s=0.05):
    """``wav`` without its leading and trailing silence: energy-based, relative to the loudest frame.

    Frames of 25 ms every 10 ms whose energy is more than ``threshold_db`` below the loudest frame's are silent;
    everything before the first loud frame and after the last one is cut, keeping ``margin_s`` of audio on each
    side. Silence inside the utterance is kept. A signal with no energy at all is returned unchanged.

    Arguments
    ---------
    wav : torch.Tensor
        ``[samples]``.
    sample_rate : int
        Its rate.
    threshold_db : float
        How far below the loudest frame a frame counts as silent (40 dB: room noise of acted corpora).
    margin_s : float
        Audio kept before the first and after the last loud frame.

    Returns
    -------
    torch.Tensor
        ``[samples']``, a contiguous slice of ``wav``.

    Example
    -------
    >>> tone = 0.3 * torch.sin(torch.arange(8000) * 0.2)
    >>> wav = torch.cat([1e-4 * torch.randn(16000), tone, 1e-4 * torch.randn(16000)])   # 1 s, 0.5 s, 1 s
    >>> trimmed = trim_silence(wav, 16000)
    >>> 8000 <= trimmed.shape[0] <= 8000 + 2 * (800 + 400)   # the tone, the margins, the frames over its edges
    True
    >>> trim_silence(torch.zeros(1600)).shape
    torch.Size([1600])
    """
    frame, hop = int(round(TRIM_FRAME_S * sample_rate)), int(round(TRIM_HOP_S * sample_rate))
    if wav.shape[0] <= frame:
        return wav
    energy = wav.unfold(0, frame, hop).double().square().mean(dim=1)
    if float(energy.max()) <= 0.0:
        return wav
    level = 10.0 * torch.log10(energy.clamp(min=1e-20))
    loud = torch.nonzero(level > level.max() - float(threshold_db)).flatten()
    margin = int(round(margin_s * sample_rate))
    start = max(0, int(loud[0]) * hop - margin)
    stop = min(wav.shape[0], int(loud[-1]) * hop + frame + margin)
    return wav[start:stop]


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
