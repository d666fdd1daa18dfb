"""wav2vec2 as a speech front-end (any Hugging Face hub id or local folder), frozen or fine-tuned, one layer out.

Authors: emo-lobes contributors.
"""
import json
import os

import torch
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2

from emo_lobes.errors import EmoLobesError

#: The model of the emotion-embedding paper (Section III-B, footnote 1): wav2vec2 XLSR fine-tuned on 56 languages.
DEFAULT_SOURCE = "voidful/wav2vec2-xlsr-multilingual-56"
#: Hugging Face model types with wav2vec2's waveform -> conv feature encoder -> transformer layout.
SPEECH_SSL_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech", "unispeech-sat")
#: Where hub models are downloaded when ``save_path`` is not given.
DEFAULT_SAVE_PATH = "pretrained_models"


class SSLFrontend(torch.nn.Module):
    """wav2vec2 representations of a batch of waveforms, through SpeechBrain's Hugging Face wrapper.

    The model is loaded with the real ``from_pretrained`` code path from a hub id or a local folder holding
    ``config.json`` and the weights (set ``HF_HUB_OFFLINE=1`` where the hub is unreachable). Section III-B: no
    normalisation is added to the representations (``output_norm`` off); the waveform gets only the
    normalisation the model's own feature-extractor config asks for. Frozen (the paper's baseline) the module
    stays in eval mode and runs without gradients whatever ``train()`` calls reach it; fine-tuned (the paper's
    "FT") the transformer is trained and the convolutional feature encoder stays frozen.

    Arguments
    ---------
    source : str
        Hub id (``voidful/wav2vec2-xlsr-multilingual-56``) or local folder.
    save_path : str, optional
        Download folder for hub models (default ``pretrained_models``).
    freeze : bool
        Keep every weight fixed (default).
    freeze_feature_encoder : bool
        When fine-tuning, keep the convolutional feature encoder fixed (default).
    layer : int, optional
        Hidden state ``k`` as transformers returns it (0: the projected CNN features; in XLSR-style models the
        states come before the encoder's final layer norm). ``None`` or ``-1``: the model's output
        (``last_hidden_state``), as in the paper.

    Example
    -------
    >>> import tempfile
    >>> folder = write_tiny_wav2vec2(tempfile.mkdtemp())
    >>> frontend = SSLFrontend(folder)
    >>> feats = frontend(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> feats.shape, frontend.output_size, feats.requires_grad
    (torch.Size([2, 49, 32]), 32, False)
    >>> SSLFrontend(folder, layer=1)(torch.randn(1, 8000)).shape
    torch.Size([1, 24, 32])
    """

    def __init__(self, source=DEFAULT_SOURCE, save_path=None, freeze=True, freeze_feature_encoder=True, layer=None):
        super().__init__()
        self.source = str(source)
        self.freeze = bool(freeze)
        self.layer = None if layer in (None, -1) else int(layer)
        save_path = save_path or DEFAULT_SAVE_PATH
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # one bar per load clutters every training log
        from transformers import AutoConfig

        try:
            model_type = AutoConfig.from_pretrained(self.source, cache_dir=save_path).model_type
            if model_type not in SPEECH_SSL_MODEL_TYPES:  # e.g. a text model's folder
                raise EmoLobesError(
                    f"'{self.source}' holds a {model_type} model, not a wav2vec2-style speech model",
                    f"pass --ssl_source=<a folder or hub id of a {', '.join(SPEECH_SSL_MODEL_TYPES)} model>")
            self.wav2vec2 = Wav2Vec2(
                self.source, save_path=save_path, output_norm=False, freeze=self.freeze,
                freeze_feature_extractor=freeze_feature_encoder, output_all_hiddens=self.layer is not None,
            )
        except (OSError, ValueError) as err:
            local = os.path.isdir(self.source)
            raise EmoLobesError(
                f"cannot load wav2vec2 model '{self.source}' "
                f"({'local folder' if local else 'hub id'}: {str(err).splitlines()[0][:160]})",
                "pass --ssl_source=<a local folder with config.json and the weights> (the hub is unreachable "
                "offline; tools/make_tiny_wav2vec2.py writes a tiny random one for tests)",
            ) from None
        n_layers = self.wav2vec2.model.config.num_hidden_layers
        if self.layer is not None and not 0 <= self.layer <= n_layers:
            raise EmoLobesError(f"layer {self.layer} asked for, but {self.source} has {n_layers} layers",
                                f"pass --ssl_layer between 0 and {n_layers}, or null for the last one")
        # SpeechBrain's wrapper layer-normalises each padded row, zeros included, so an utterance's features would
        # depend on its batch mates (and differ from the same file alone): normalise over the valid samples here
        self.normalize_waveform = bool(self.wav2vec2.normalize_wav)
        self.wav2vec2.normalize_wav = False
        config = self.wav2vec2.model.config
        # samples one output frame needs (the feature encoder's receptive field: 400 at 16 kHz, i.e. 25 ms)
        self.min_samples, step = 1, 1
        for kernel, stride in zip(config.conv_kernel, config.conv_stride):
            self.min_samples += (kernel - 1) * step
            step *= stride
        self.train(False)

    @property
    def output_size(self):
        """Size of one output frame (the model's hidden size)."""
        return int(self.wav2vec2.model.config.hidden_size)

    def frame_lengths(self, wav_lens, n_samples, n_frames):
        """Relative lengths of the output frames of a padded batch: each utterance's valid frames / ``n_frames``.

        The frames of a padded batch are not in proportion to the samples (the feature encoder's receptive field
        and strides), so ``wav_lens`` would count a frame too many or too few for some utterances; this gives the
        exact counts the model's attention mask uses.

        Arguments
        ---------
        wav_lens : torch.Tensor
            ``[batch]`` relative lengths of the waveforms.
        n_samples : int
            Samples of the padded batch.
        n_frames : int
            Frames of the output.

        Returns
        -------
        torch.Tensor
            ``[batch]`` relative lengths of the frames.

        Example
        -------
        >>> import tempfile
        >>> frontend = SSLFrontend(write_tiny_wav2vec2(tempfile.mkdtemp()))
        >>> feats = frontend(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
        >>> (frontend.frame_lengths(torch.tensor([1.0, 0.5]), 16000, feats.shape[1]) * feats.shape[1]).tolist()
        [49.0, 24.0]
        """
        samples = torch.round(wav_lens * n_samples).long().clamp(min=self.min_samples)
        frames = self.wav2vec2.model._get_feat_extract_output_lengths(samples)
        return frames.to(wav_lens.dtype).clamp(max=n_frames) / n_frames

    def train(self, mode=True):
        """Set training mode; a frozen front-end stays in eval mode (no dropout, no layer drop)."""
        return super().train(mode and not self.freeze)

    def forward(self, wavs, wav_lens=None):
        """The chosen layer's representations.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` at 16 kHz.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]`` (SpeechBrain convention); the padding is masked out.

        Returns
        -------
        torch.Tensor
            ``[batch, frames, output_size]``; :meth:`frame_lengths` gives the relative lengths of the frames.

        Utterances shorter than the feature encoder's receptive field (:attr:`min_samples`, 25 ms) are
        zero-padded to it, so that each gives at least one frame.

        Example
        -------
        >>> import tempfile
        >>> frontend = SSLFrontend(write_tiny_wav2vec2(tempfile.mkdtemp()))
        >>> frontend.min_samples, frontend(torch.randn(1, 160)).shape   # 10 ms: padded to 25 ms, one frame
        (400, torch.Size([1, 1, 32]))
        >>> bool(frontend(torch.randn(2, 16000), torch.tensor([1.0, 0.01])).isfinite().all())
        True
        """
        if wavs.shape[1] < self.min_samples:
            wavs = torch.nn.functional.pad(wavs, (0, self.min_samples - wavs.shape[1]))
        if wav_lens is not None:
            wav_lens = wav_lens.clamp(min=self.min_samples / wavs.shape[1])
        if self.normalize_waveform:
            wavs = normalize_valid_samples(wavs, wav_lens)
        out = self.wav2vec2(wavs, wav_lens)
        if self.layer is not None:
            out = out[self.layer]
        return out


def normalize_valid_samples(wavs, wav_lens=None, eps=1e-5):
    """Zero mean and unit variance of each waveform over its valid samples; the padding stays zero.

    It equals ``torch.nn.functional.layer_norm`` of each unpadded waveform, so a padded batch gives each utterance
    what it gets alone.

    Arguments
    ---------
    wavs : torch.Tensor
        ``[batch, samples]``.
    wav_lens : torch.Tensor, optional
        ``[batch]`` relative lengths (``None``: no padding).
    eps : float
        Added to the variance.

    Returns
    -------
    torch.Tensor
        ``[batch, samples]``.

    Example
    -------
    >>> wav = torch.randn(1, 300)
    >>> batch = torch.cat([torch.nn.functional.pad(wav, (0, 100)), torch.randn(1, 400)])
    >>> normalized = normalize_valid_samples(batch, torch.tensor([0.75, 1.0]))
    >>> alone = torch.nn.functional.layer_norm(wav, wav.shape[1:])
    >>> bool(torch.allclose(normalized[:1, :300], alone, atol=1e-5)), bool(normalized[0, 300:].eq(0).all())
    (True, True)
    """
    if wav_lens is None:
        return torch.nn.functional.layer_norm(wavs, wavs.shape[1:], eps=eps)
    counts = torch.round(wav_lens * wavs.shape[1]).long()
    mask = length_to_mask(counts, max_len=wavs.shape[1], device=wavs.device).to(wavs.dtype)
    total = mask.sum(dim=1, keepdim=True)
    mean = (wavs * mask).sum(dim=1, keepdim=True) / total
    variance = ((wavs - mean) * mask).square().sum(dim=1, keepdim=True) / total
    return (wavs - mean) / torch.sqrt(variance + eps) * mask


def write_tiny_wav2vec2(folder, seed=0, hidden_size=32, num_layers=2, conv_channels=32, num_heads=2):
    """Write a small randomly initialised wav2vec2 (config, weights, feature-extractor config) to ``folder``.

    It has the layout of the XLSR models (stable layer norm, layer-normalised feature encoder, waveform
    normalisation on) and the standard 20 ms frame rate, so it loads and runs like the real model with the
    same ``from_pretrained`` code, only with random weights. For tests, quick runs and benchmarks where the hub
    is unreachable.

    Arguments
    ---------
    folder : str
        Output folder (created; an existing model there is overwritten).
    seed : int
        Seeds the random weights (the same seed writes the same weights).
    hidden_size, num_layers, conv_channels, num_heads : int
        Transformer width and depth, feature-encoder channels, attention heads.

    Returns
    -------
    str
        ``folder``.

    Example
    -------
    >>> import tempfile
    >>> folder = write_tiny_wav2vec2(tempfile.mkdtemp(), hidden_size=16, num_layers=1)
    >>> sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    ['config.json', 'preprocessor_config.json']
    >>> json.load(open(os.path.join(folder, "config.json")))["hidden_size"]
    16
    """
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model
    from transformers.utils import logging as hf_logging

    if hidden_size % num_heads:
        raise EmoLobesError(f"hidden size {hidden_size} is not a multiple of {num_heads} heads",
                            "choose a hidden size divisible by the number of heads")
    config = Wav2Vec2Config(
        hidden_size=hidden_size, num_hidden_layers=num_layers, num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size, conv_dim=(conv_channels,) * 7, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True, vocab_size=8,
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = Wav2Vec2Model(config)
    finally:
        torch.random.set_rng_state(state)
    os.makedirs(folder, exist_ok=True)
    hf_logging.disable_progress_bar()
    model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder
