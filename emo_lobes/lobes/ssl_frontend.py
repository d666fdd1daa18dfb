"""wav2vec2 as a speech front-end (any Hugging Face hub id or local folder), frozen or fine-tuned, one layer out.

Authors: emo-lobes contributors.
"""
import json
import os

import torch
from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2

from emo_lobes.errors import EmoLobesError

#: The model of the emotion-embedding paper (Section III-B, footnote 1): wav2vec2 XLSR fine-tuned on 56 languages.
DEFAULT_SOURCE = "voidful/wav2vec2-xlsr-multilingual-56"
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
        try:
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
        self.train(False)

    @property
    def output_size(self):
        """Size of one output frame (the model's hidden size)."""
        return int(self.wav2vec2.model.config.hidden_size)

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
            ``[batch, frames, output_size]``; the relative lengths of the frames are ``wav_lens``.
        """
        out = self.wav2vec2(wavs, wav_lens)
        if self.layer is not None:
            out = out[self.layer]
        return out


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
