"""python_speech_features' ``logfbank`` in torch: the log mel filter bank the SelectiveMTL paper used (Section 4.1).

The paper states 40 filters and "python speech features"; everything else here is that library's default
(``logfbank(signal, samplerate=16000, winlen=0.025, winstep=0.01, nfilt=40, nfft=512, lowfreq=0,
highfreq=samplerate/2, preemph=0.97)``): pre-emphasis 0.97 over the whole signal, 25 ms rectangular frames every
10 ms (the last frame zero-padded), a 512-point FFT power spectrum divided by 512, triangular mel filters on
FFT bins ``floor((nfft + 1) * hz / samplerate)``, energies of 0 replaced by machine epsilon, natural log, no
normalisation. Reimplemented with torch so it runs batched on the device, without a new dependency.
"""
import math

import numpy as np
import torch


def hz_to_mel(hz):
    """python_speech_features' ``hz2mel``: ``2595 * log10(1 + hz / 700)``.

    Example
    -------
    >>> round(float(hz_to_mel(1000.0)))
    1000
    """
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """python_speech_features' ``mel2hz``, the inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def pysf_filterbank(n_filters=40, n_fft=512, sample_rate=16000, low_hz=0.0, high_hz=None):
    """python_speech_features' ``get_filterbanks``: ``[n_filters, n_fft // 2 + 1]`` triangular mel filters.

    Example
    -------
    >>> bank = pysf_filterbank(40, 512, 16000)
    >>> tuple(bank.shape), float(bank.max()) == 1.0
    ((40, 257), True)
    """
    high_hz = sample_rate / 2 if high_hz is None else high_hz
    mel_points = np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), n_filters + 2)
    bins = np.floor((n_fft + 1) * mel_to_hz(mel_points) / sample_rate)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        for i in range(int(bins[j]), int(bins[j + 1])):
            bank[j, i] = (i - bins[j]) / (bins[j + 1] - bins[j])
        for i in range(int(bins[j + 1]), int(bins[j + 2])):
            bank[j, i] = (bins[j + 2] - i) / (bins[j + 2] - bins[j + 1])
    return torch.tensor(bank, dtype=torch.float32)


class PysfLogFbank(torch.nn.Module):
    """Batched python_speech_features ``logfbank``: waveforms ``[batch, samples]`` -> ``[batch, frames, n_filters]``.

    Arguments
    ---------
    sample_rate : int
        Hz of the input.
    n_filters : int
        Mel filters (the paper: 40).
    win_length_s, hop_length_s : float
        Frame length and shift in seconds (python_speech_features' defaults, 25 ms and 10 ms; the paper is silent).
    n_fft : int
        FFT points (default 512).
    preemphasis : float
        Pre-emphasis coefficient (default 0.97; 0 turns it off).

    Example
    -------
    >>> frontend = PysfLogFbank(16000, n_filters=40)
    >>> frontend(torch.randn(2, 16000)).shape  # 1 s: 1 + ceil((16000 - 400) / 160) frames
    torch.Size([2, 99, 40])
    >>> frontend(torch.randn(1, 120000)).shape  # the paper's 7.5 s input
    torch.Size([1, 749, 40])
    """

    def __init__(self, sample_rate=16000, n_filters=40, win_length_s=0.025, hop_length_s=0.01, n_fft=512,
                 preemphasis=0.97, low_hz=0.0, high_hz=None):
        super().__init__()
        # python_speech_features' round_half_up of the frame sizes in samples
        self.frame_length = int(math.floor(win_length_s * sample_rate + 0.5))
        self.frame_step = int(math.floor(hop_length_s * sample_rate + 0.5))
        self.n_fft, self.preemphasis = n_fft, preemphasis
        self.register_buffer("filterbank", pysf_filterbank(n_filters, n_fft, sample_rate, low_hz, high_hz),
                             persistent=False)

    def n_frames(self, n_samples):
        """Frames of a signal of ``n_samples`` (python_speech_features' ``framesig``)."""
        if n_samples <= self.frame_length:
            return 1
        return 1 + int(math.ceil((n_samples - self.frame_length) / self.frame_step))

    def forward(self, wavs):
        """``[batch, samples]`` -> natural-log mel energies ``[batch, frames, n_filters]``."""
        emphasized = torch.cat([wavs[:, :1], wavs[:, 1:] - self.preemphasis * wavs[:, :-1]], dim=1)
        n_frames = self.n_frames(wavs.shape[1])
        padded_length = (n_frames - 1) * self.frame_step + self.frame_length
        emphasized = torch.nn.functional.pad(emphasized, (0, padded_length - wavs.shape[1]))
        frames = emphasized.unfold(1, self.frame_length, self.frame_step)  # rectangular window
        power = torch.fft.rfft(frames, n=self.n_fft).abs() ** 2 / self.n_fft
        energies = power @ self.filterbank.T
        energies = torch.where(energies == 0, torch.finfo(energies.dtype).eps, energies)
        return torch.log(energies)
