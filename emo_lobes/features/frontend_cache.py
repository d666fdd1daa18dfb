"""A frozen front-end's outputs (wav2vec2 layers, filterbanks) cached on disk, keyed by model fingerprint and audio.

The storage is :class:`emo_lobes.features.feature_cache.FeatureCache` (one ``.npy`` per audio file, keyed by the file's
absolute path, size and modification time and by a feature name). Here the feature name is built from the model
id, a fingerprint of the module (its Hugging Face configs, every weight and buffer, and the plain settings of
every sub-module, e.g. ``n_mels``), the layer and the sample rate: a changed model, layer, setting or audio file
misses and is computed afresh, while later epochs and later runs with the same model read the stored frames.
"""
import hashlib
import inspect
import re

import torch

from emo_lobes.data.audio import load_audio, trim_silence
from emo_lobes.features.feature_cache import FeatureCache

#: Plain attribute types that count as a module's settings in its fingerprint.
_SETTING_TYPES = (bool, int, float, str)
#: Attributes that change while a module is used, not what it computes.
_VOLATILE_ATTRIBUTES = ("training", "first_call")


def _settings_of(module):
    # Plain attributes (numbers, strings, tuples of them) of one module, sorted: n_mels, hop_length, ...
    settings = {}
    for name, value in vars(module).items():
        if name.startswith("_") or name in _VOLATILE_ATTRIBUTES:
            continue
        if isinstance(value, _SETTING_TYPES) or (
            isinstance(value, tuple) and all(isinstance(item, _SETTING_TYPES) for item in value)
        ):
            settings[name] = value
    return sorted(settings.items())


def module_fingerprint(module):
    """A hash of everything that decides what ``module`` computes: configs, weights, buffers and settings.

    Hugging Face configs (any sub-module's ``config``) enter as JSON, every tensor of the state dict by name,
    dtype, shape and bytes, and each sub-module's class and plain settings (``n_mels``, ``hop_length``, ...).

    Arguments
    ---------
    module : torch.nn.Module
        The front-end.

    Returns
    -------
    str
        40 hexadecimal characters.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> module_fingerprint(Fbank(n_mels=40)) == module_fingerprint(Fbank(n_mels=40))
    True
    >>> module_fingerprint(Fbank(n_mels=40)) == module_fingerprint(Fbank(n_mels=80))
    False
    >>> linear = torch.nn.Linear(2, 2); before = module_fingerprint(linear)
    >>> with torch.no_grad():
    ...     linear.weight[0, 0] += 1.0
    >>> module_fingerprint(linear) == before
    False
    """
    digest = hashlib.sha1()
    seen_configs = set()
    for name, sub in module.named_modules():
        digest.update(f"{name}:{type(sub).__name__}:{_settings_of(sub)}\n".encode("utf-8"))
        config = getattr(sub, "config", None)
        if hasattr(config, "to_json_string") and id(config) not in seen_configs:
            seen_configs.add(id(config))
            config_dict = config.to_dict()
            config_dict.pop("transformers_version", None)
            digest.update(repr(sorted(config_dict.items())).encode("utf-8"))
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode("utf-8"))
        if tensor.numel():
            digest.update(memoryview(tensor.view(-1).view(torch.uint8).numpy()))
    return digest.hexdigest()


def frontend_feature_name(model_id, fingerprint, layer=None, sample_rate=16000):
    """The cache's feature name: model id, fingerprint prefix, layer and sample rate.

    Arguments
    ---------
    model_id : str
        Hub id, folder or any name of the front-end (a changed id misses even with equal weights).
    fingerprint : str
        :func:`module_fingerprint` of the module.
    layer : int, optional
        The output layer (``None``: the last).
    sample_rate : int
        Rate the audio is read at.

    Returns
    -------
    str
        E.g. ``voidful_wav2vec2-xlsr-multilingual-56_3f2a9c1e0b7d4a65_last_16k``.

    Example
    -------
    >>> frontend_feature_name("voidful/wav2vec2-xlsr-multilingual-56", "3f2a9c1e0b7d4a65ff", None)
    'voidful_wav2vec2-xlsr-multilingual-56_3f2a9c1e0b7d4a65_last_16k'
    >>> frontend_feature_name("/tmp/models/tiny", "ab" * 20, 3, 8000)
    'tmp_models_tiny_abababababababab_layer3_8k'
    """
    safe_id = re.sub(r"[^A-Za-z0-9.-]+", "_", str(model_id)).strip("_")[-120:] or "model"
    layer_name = "last" if layer in (None, -1) else f"layer{int(layer)}"
    return f"{safe_id}_{fingerprint[:16]}_{layer_name}_{int(sample_rate) // 1000}k"


def _unwrapped(frontend):
    # the front-end itself, looked through a DDP wrapper
    return getattr(frontend, "module", frontend)


def call_frontend(frontend, wavs, lengths):
    """Frames of a batch of waveforms through a front-end, whichever of the two call forms it has.

    SpeechBrain's ``Fbank`` takes only the waveforms; SSL front-ends also take relative lengths.

    Arguments
    ---------
    frontend : torch.nn.Module
        Called as ``frontend(wavs)`` or ``frontend(wavs, lengths)`` (a DDP wrapper is looked through).
    wavs : torch.Tensor
        ``[batch, samples]``.
    lengths : torch.Tensor
        ``[batch]``, relative.

    Returns
    -------
    torch.Tensor
        ``[batch, frames, size]``.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> call_frontend(Fbank(n_mels=40), torch.zeros(2, 16000), torch.ones(2)).shape
    torch.Size([2, 101, 40])
    """
    module = _unwrapped(frontend)
    if len(inspect.signature(module.forward).parameters) >= 2:
        return frontend(wavs, lengths)
    return frontend(wavs)


def batch_matches_utterances(frontend):
    """Whether a zero-padded batch through ``frontend`` gives every utterance the frames it gets alone (its first
    valid frames), so a frozen front-end may run on the batch instead of on each utterance.

    True for SpeechBrain's ``Fbank`` with a centred STFT padded with zeros and no deltas or context: past an
    utterance's end the batch holds zeros, as the STFT's own padding does, and the per-utterance dB floor is a
    maximum that the padded frames do not reach (equal within float rounding; ``tests/test_export.py`` checks
    1e-4 on the probabilities). False for SSL front-ends, whose convolutions and attention see the padding.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> batch_matches_utterances(Fbank(n_mels=40)), batch_matches_utterances(Fbank(n_mels=40, deltas=True))
    (True, False)
    """
    from speechbrain.lobes.features import Fbank

    module = _unwrapped(frontend)
    stft = getattr(module, "compute_STFT", None)
    return (isinstance(module, Fbank) and stft is not None and bool(stft.center) and stft.pad_mode == "constant"
            and not module.deltas and not module.context)


def fbank_frame_lengths(frontend, wav_lens, n_samples, n_frames):
    """Relative counts of each utterance's own frames in a padded batch through a centred-STFT ``Fbank``
    (``1 + samples // hop`` of ``n_frames``): the lengths the frozen-front-end cache gives each utterance.

    Arguments
    ---------
    frontend : speechbrain.lobes.features.Fbank
        The front-end (its ``compute_STFT.hop_length``).
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths of the waveforms.
    n_samples, n_frames : int
        Samples of the padded batch and frames of its features.

    Returns
    -------
    torch.Tensor
        ``[batch]``.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> fbank = Fbank(n_mels=40)
    >>> wavs = torch.zeros(2, 16000)
    >>> (fbank_frame_lengths(fbank, torch.tensor([1.0, 0.5]), 16000, fbank(wavs).shape[1]) * 101).round().tolist()
    [101.0, 51.0]
    """
    hop = _unwrapped(frontend).compute_STFT.hop_length
    samples = torch.round(wav_lens * n_samples).clamp(min=1)
    return (torch.div(samples, hop, rounding_mode="floor") + 1) / n_frames


def utterance_frames(frontend, wav):
    """The frames of one waveform through a front-end, alone and unpadded, as the frozen-front-end cache stores them.

    SpeechBrain's ``Fbank`` takes only the waveform; SSL front-ends also take relative lengths (all 1 here).

    Arguments
    ---------
    frontend : torch.nn.Module
        Called as ``frontend(wavs)`` or ``frontend(wavs, lengths)``, returning ``[batch, frames, size]``.
    wav : torch.Tensor
        ``[samples]``.

    Returns
    -------
    torch.Tensor
        ``[frames, size]``.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> utterance_frames(Fbank(n_mels=40), torch.zeros(16000)).shape
    torch.Size([101, 40])
    """
    return call_frontend(frontend, wav.unsqueeze(0), torch.ones(1, device=wav.device))[0]


class CachedFrozenFrontend(torch.nn.Module):
    """Frames of a frozen front-end per audio file, computed once (one file at a time) and then read from disk.

    Each file is read with :func:`emo_lobes.data.audio.load_audio` (mono, resampled), run alone through the
    front-end (so no padding reaches it), and its ``[frames, size]`` output stored. The front-end stays in
    eval mode without gradients; it is not trained, and its parameters are not this module's to optimise.

    Arguments
    ---------
    frontend : torch.nn.Module
        ``frontend(wavs [1, samples], lengths [1]) -> [1, frames, size]`` (``SSLFrontend``, SpeechBrain's
        ``Fbank`` ...).
    model_id : str
        Names the front-end in the key (hub id or folder of a wav2vec2, ``fbank`` ...).
    cache_dir : str, optional
        Root of the cache (``None``: recompute every time, nothing stored).
    layer : int, optional
        The front-end's output layer, for the key.
    sample_rate : int
        Rate the audio is read at.
    trim_db : float, optional
        Cut each file's leading and trailing silence first (:func:`emo_lobes.data.audio.trim_silence`, frames
        more than ``trim_db`` below the loudest); ``None`` (default): the whole file. Part of the cache key.

    Attributes
    ----------
    n_frontend_calls : int
        How many times the front-end itself ran.

    Example
    -------
    >>> import os, tempfile, numpy as np, soundfile as sf
    >>> from speechbrain.lobes.features import Fbank
    >>> root = tempfile.mkdtemp(); wav = os.path.join(root, "a.wav")
    >>> sf.write(wav, np.random.randn(48000) * 0.1, 48000)   # 1 s at 48 kHz, read at 16 kHz
    >>> cached = CachedFrozenFrontend(Fbank(n_mels=40), "fbank", os.path.join(root, "cache"))
    >>> feats, lengths = cached([wav, wav])
    >>> feats.shape, lengths.tolist(), cached.n_frontend_calls
    (torch.Size([2, 101, 40]), [1.0, 1.0], 1)
    """

    def __init__(self, frontend, model_id, cache_dir=None, layer=None, sample_rate=16000, trim_db=None):
        super().__init__()
        self.frontend = frontend
        for parameter in self.frontend.parameters():
            parameter.requires_grad_(False)
        self.sample_rate = int(sample_rate)
        self.fingerprint = module_fingerprint(frontend)
        self.trim_db = None if trim_db is None else float(trim_db)
        self.feature_name = frontend_feature_name(model_id, self.fingerprint, layer, sample_rate)
        if self.trim_db is not None:
            self.feature_name += f"_trim{self.trim_db:g}db"
        self.cache = FeatureCache(cache_dir, self.feature_name, self._compute)
        self.n_frontend_calls = 0
        self.train(False)

    def train(self, mode=True):
        """Ignore ``mode``: the front-end stays in eval mode."""
        return super().train(False)

    def _compute(self, audio_path):
        # Called by the cache on a miss: one file through the front-end, on the front-end's device.
        device = next(iter(self.frontend.parameters()), torch.empty(0)).device
        wav = load_audio(audio_path, self.sample_rate)
        if self.trim_db is not None:
            wav = trim_silence(wav, self.sample_rate, self.trim_db)
        wav = wav.to(device)
        with torch.no_grad():
            frames = utterance_frames(self.frontend, wav)
        self.n_frontend_calls += 1
        return frames.to("cpu", torch.float32).numpy()

    def forward(self, audio_paths):
        """The padded frames of a batch of audio files.

        Arguments
        ---------
        audio_paths : list of str
            One file per utterance.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, max frames, size]``, zero-padded.
        lengths : torch.Tensor
            ``[batch]`` relative lengths (SpeechBrain convention).
        """
        frames = [torch.from_numpy(self.cache.get(path)) for path in audio_paths]
        counts = torch.tensor([f.shape[0] for f in frames], dtype=torch.float32)
        feats = torch.nn.utils.rnn.pad_sequence(frames, batch_first=True)
        return feats, counts / counts.max()
