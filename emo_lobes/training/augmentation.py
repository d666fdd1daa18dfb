"""Training-time data augmentation from ``speechbrain.augment``, behind two hparams switches every recipe reads alike.

None of the five papers augments its inputs (MLEE's speed-perturbed copies are data preparation, kept in its
``prepare.py``), so their configurations leave both switches off. A recipe that offers augmentation builds one
:class:`TrainingAugmentation` in its yaml from plain keys a command line can override (``--wav_augment=True``,
``--augment_speeds=[90, 100, 110]``); HyperPyYAML cannot replace a ``null`` with a module from the command line,
hence switches rather than modules.

- ``wav_augment``: SpeechBrain's ``Augmenter`` on a training batch's waveforms: speed perturbation, additive white
  noise (``AddNoise`` without a noise list: nothing to download), dropped frequency bands and dropped chunks.
- ``feature_augment``: SpecAugment-style masks on the features: ``SpectrogramDrop`` in time and in frequency.

Augmented utterances replace the originals (the batch size, and so the labels, stay as they are); dev and test
batches pass through untouched. ``Augmenter`` draws from Python's and torch's generators, which every recipe's
checkpoint saves (``RandomState``), so a resumed run draws the same augmentations.
"""
import speechbrain as sb
from speechbrain.augment.augmenter import Augmenter
from speechbrain.augment.freq_domain import SpectrogramDrop
from speechbrain.augment.time_domain import AddNoise, DropChunk, DropFreq, SpeedPerturb

from emo_lobes.errors import EmoLobesError


class TrainingAugmentation:
    """Waveform and feature augmentation of training batches (each off unless switched on).

    Arguments
    ---------
    wav_augment : bool
        Augment waveforms (speed, white noise, dropped bands, dropped chunks).
    feature_augment : bool
        Mask features in time and frequency.
    sample_rate : int
        The waveforms' rate (speed perturbation resamples from it).
    speeds : list of int
        Speed factors in percent, one drawn per batch (``[100]`` leaves speed alone).
    snr_range : list of float
        ``[low, high]`` signal-to-noise ratio in dB of the added white noise.
    chunk_ms : list of float
        ``[shortest, longest]`` dropped chunk, in milliseconds (one to three chunks per utterance).
    time_mask_frames : list of int
        ``[shortest, longest]`` time mask, in frames (one to three per utterance).
    freq_mask_bins : list of int
        ``[narrowest, widest]`` frequency mask, in feature bins (one to three per utterance).
    augment_prob : float
        Probability that a training batch is augmented (the rest trains on the original audio).

    Example
    -------
    >>> import torch
    >>> augmentation = TrainingAugmentation(wav_augment=True, feature_augment=True, speeds=[90], augment_prob=1.0)
    >>> wavs, lens = torch.rand(3, 16000), torch.tensor([1.0, 0.8, 0.5])
    >>> out, out_lens = augmentation.waveforms(wavs, lens, sb.Stage.TRAIN)
    >>> out.shape, out_lens.shape                  # 90 % speed: longer
    (torch.Size([3, 17778]), torch.Size([3]))
    >>> augmentation.waveforms(wavs, lens, sb.Stage.VALID)[0] is wavs
    True
    >>> feats = torch.rand(3, 50, 40) + 1.0
    >>> masked = augmentation.features(feats, lens, sb.Stage.TRAIN)
    >>> masked.shape, bool((masked == 0).any()), bool((feats == 0).any())   # the input is left as it was
    (torch.Size([3, 50, 40]), True, False)
    >>> TrainingAugmentation().waveforms(wavs, lens, sb.Stage.TRAIN)[0] is wavs   # both off: the papers' setting
    True
    """

    def __init__(self, wav_augment=False, feature_augment=False, sample_rate=16000, speeds=(95, 100, 105),
                 snr_range=(15.0, 30.0), chunk_ms=(10.0, 60.0), time_mask_frames=(5, 15), freq_mask_bins=(2, 6),
                 augment_prob=0.5):
        for key, value in (("wav_augment", wav_augment), ("feature_augment", feature_augment)):
            if not isinstance(value, bool):
                raise EmoLobesError(f"{key}={value!r} is not True or False", f"pass --{key}=True or --{key}=False")
        if not 0.0 <= float(augment_prob) <= 1.0:
            raise EmoLobesError(f"augment_prob={augment_prob} is not a probability", "pass a value in [0, 1]")
        self.wav_augmenter = None
        self.feature_augmenter = None
        if wav_augment:
            low, high = (int(sample_rate * ms / 1000) for ms in _pair(chunk_ms, "augment_chunk_ms"))
            snr_low, snr_high = _pair(snr_range, "augment_snr_range")
            self.wav_augmenter = Augmenter(
                augment_prob=float(augment_prob),
                augmentations=[SpeedPerturb(orig_freq=sample_rate, speeds=list(speeds)),
                               AddNoise(snr_low=snr_low, snr_high=snr_high),
                               DropFreq(), DropChunk(drop_length_low=max(low, 1), drop_length_high=max(high, 1))])
        if feature_augment:
            frames, bins = _pair(time_mask_frames, "augment_time_mask_frames"), _pair(freq_mask_bins,
                                                                                     "augment_freq_mask_bins")
            self.feature_augmenter = Augmenter(
                augment_prob=float(augment_prob),
                augmentations=[SpectrogramDrop(drop_length_low=int(frames[0]), drop_length_high=int(frames[1]), dim=1),
                               SpectrogramDrop(drop_length_low=int(bins[0]), drop_length_high=int(bins[1]), dim=2)])

    def waveforms(self, wavs, wav_lens, stage):
        """``(wavs, wav_lens)`` of a batch, augmented when training (a copy: the input is not written).

        Arguments
        ---------
        wavs : torch.Tensor
            ``(batch, samples)``.
        wav_lens : torch.Tensor
            Relative lengths.
        stage : speechbrain.Stage

        Returns
        -------
        wavs, wav_lens : torch.Tensor
            Speed perturbation changes the number of samples; lengths stay relative.
        """
        if self.wav_augmenter is None or stage != sb.Stage.TRAIN:
            return wavs, wav_lens
        out, out_lens = self.wav_augmenter(wavs.clone(), wav_lens)
        _same_batch(out, wavs, "wav_augment")
        return out, out_lens

    def features(self, feats, lens, stage):
        """A batch's ``(batch, frames, features)`` features, masked when training (a copy: cached features stay)."""
        if self.feature_augmenter is None or stage != sb.Stage.TRAIN:
            return feats
        out, _ = self.feature_augmenter(feats.clone(), lens)  # SpectrogramDrop masks in place
        _same_batch(out, feats, "feature_augment")
        return out

    @property
    def augments_waveforms(self):
        """Whether waveforms are augmented (a recipe with cached features cannot honour that)."""
        return self.wav_augmenter is not None


def _pair(values, key):
    # [low, high] of a range key, checked
    values = list(values)
    if len(values) != 2 or float(values[0]) > float(values[1]):
        raise EmoLobesError(f"{key}={values} is not a [low, high] range", f"pass --{key}=[low, high] with low <= high")
    return float(values[0]), float(values[1])


def _same_batch(out, original, key):
    # an augmentation that changed the number of utterances would misalign them with their labels
    if out.shape[0] != original.shape[0]:
        raise EmoLobesError(f"{key} returned {out.shape[0]} utterances for a batch of {original.shape[0]}",
                            "augmented utterances must replace the originals")


#: What a Brain whose hparams hold no ``augmentation`` uses: both switches off.
NO_AUGMENTATION = TrainingAugmentation()
