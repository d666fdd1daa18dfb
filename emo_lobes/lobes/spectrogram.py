"""Log power spectrogram cut to a frequency range (MLEE Section 4.1: 40 ms Hamming, 10 ms shift, 0-4 kHz)."""
import torch
from speechbrain.processing.features import STFT, spectral_magnitude


class LogPowerSpectrogram(torch.nn.Module):
    """Log power spectrogram of a padded batch of waveforms, cut to ``[0, max_frequency)`` Hz.

    SpeechBrain's :class:`~speechbrain.processing.features.STFT` (zero padding at the edges, ``center=True``)
    and :func:`~speechbrain.processing.features.spectral_magnitude` do the work; this module adds the
    frequency cut and frame lengths that are exact for every utterance of the batch: the first
    ``samples // hop + 1`` frames of a zero-padded utterance equal those of the utterance alone, so padding
    changes nothing once the frames past that length are masked.

    With the paper's settings (16 kHz, 40 ms window, 10 ms shift, DFT length 1600 -> 10 Hz bins, 0-4 kHz)
    each frame has 400 bins.

    Arguments
    ---------
    sample_rate : int
        Sampling rate of the waveforms (Hz).
    win_length : float
        Window length in ms (Hamming window).
    hop_length : float
        Frame shift in ms.
    n_fft : int
        DFT length in samples (``sample_rate / n_fft`` Hz per bin).
    max_frequency : float
        Bins at or above this frequency (Hz) are dropped.
    log_floor : float
        Added to the power before the log.

    Example
    -------
    >>> spectrogram = LogPowerSpectrogram()
    >>> wavs = torch.randn(2, 16000)
    >>> feats, feat_lens = spectrogram(wavs, torch.tensor([1.0, 0.5]))
    >>> feats.shape, spectrogram.n_bins
    (torch.Size([2, 101, 400]), 400)
    >>> (feat_lens * feats.shape[1]).round().tolist()
    [101.0, 51.0]
    """

    def __init__(
        self,
        sample_rate=16000,
        win_length=40,
        hop_length=10,
        n_fft=1600,
        max_frequency=4000,
        log_floor=1e-10,
    ):
        super().__init__()
        self.stft = STFT(
            sample_rate=sample_rate,
            win_length=win_length,
            hop_length=hop_length,
            n_fft=n_fft,
            window_fn=torch.hamming_window,
        )
        self.hop_samples = self.stft.hop_length
        self.n_bins = int(round(max_frequency * n_fft / sample_rate))
        self.log_floor = log_floor
        if not 0 < self.n_bins <= n_fft // 2 + 1:
            raise ValueError(f"max_frequency {max_frequency} Hz is outside 0..{sample_rate / 2} Hz")

    def forward(self, wavs, wav_lens=None):
        """Compute the spectrogram and the relative frame lengths.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` zero-padded waveforms.
        wav_lens : torch.Tensor, optional
            ``[batch]`` relative lengths (SpeechBrain convention); ``None``: all full length.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, n_bins]`` natural-log power.
        feat_lens : torch.Tensor
            ``[batch]`` relative frame lengths; ``round(feat_lens * frames)`` is each utterance's exact frame
            count.
        """
        power = spectral_magnitude(self.stft(wavs), power=1)
        feats = torch.log(power[:, :, : self.n_bins] + self.log_floor)
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        samples = torch.round(wav_lens * wavs.shape[1])
        frames = torch.div(samples, self.hop_samples, rounding_mode="floor") + 1
        return feats, frames / feats.shape[1]
