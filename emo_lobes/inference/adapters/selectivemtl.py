"""Inference adapter of the SelectiveMTL recipe: waveform -> log mel filterbanks -> Bi-LSTM + attention -> heads."""
import math

import torch

from emo_lobes.data.audio import audio_info, load_audio
from emo_lobes.inference.classifier import RecipeAdapter, register_adapter


@register_adapter("SelectiveMTL")
class SelectiveMTLAdapter(RecipeAdapter):
    """SelectiveMTL (recipes/SelectiveMTL): the first ``max_duration`` s -> Fbank -> normalisation -> encoder -> heads.

    Audio is cut to the first ``max_duration`` seconds as the recipe's data pipeline does. The checkpoint read is
    the one the recipe tested: the best dev UA's, or the newest for a run without a dev set. Probabilities are the
    emotion head's softmax over the hparams' ``emotions`` (angry, sad, happy, neutral); the embedding is the
    attention-pooled Bi-LSTM output (eq. 2, ``attention_heads x 2 x lstm_size``), before the shared FC layers.
    For MTL experiments each result also carries the style head's label and probabilities (acted / spontaneous)
under ``heads["style"]``.

    Arguments
    ---------
    hparams : dict
        The experiment's loaded ``hyperparams.yaml``.
    labels : list of str
        Ignored: the classes are the hparams' ``emotions``, in the emotion head's order.

    Example
    -------
    >>> import speechbrain as sb
    >>> from emo_lobes.lobes.blstm_attention import BLSTMAttentionEncoder
    >>> hparams = {"sample_rate": 16000, "max_duration": 1.0, "emotions": ["angry", "sad", "happy", "neutral"],
    ...            "styles": ["acted", "spontaneous"], "style_task": True,
    ...            "compute_features": sb.lobes.features.Fbank(n_mels=40),
    ...            "mean_var_norm": sb.processing.features.InputNormalization(norm_type="sentence"),
    ...            "encoder": BLSTMAttentionEncoder(40, lstm_size=4, attention_size=4, attention_heads=2,
    ...                                             dense_sizes=(8,)).eval(),
    ...            "emotion_head": torch.nn.Linear(8, 4), "style_head": torch.nn.Linear(8, 2)}
    >>> adapter = SelectiveMTLAdapter(hparams, labels=None)
    >>> probabilities, predicted, embedding, heads = adapter.scores(torch.rand(2, 16000), torch.tensor([1.0, 0.01]))
    >>> probabilities.shape, predicted.shape, embedding.shape  # a 10 ms utterance (0.01) is padded, not lost
    (torch.Size([2, 4]), torch.Size([2]), torch.Size([2, 16]))
    >>> heads["style"][0], heads["style"][1].shape
    (['acted', 'spontaneous'], torch.Size([2, 2]))
    """

    best_checkpoint = {"min_key": "error"}  # the checkpoint with the best dev UA, as the recipe tests

    def __init__(self, hparams, labels=None):
        super().__init__(hparams, hparams["emotions"])
        self.styles = list(hparams["styles"])
        self.max_duration = float(hparams["max_duration"])
        checkpointer = hparams.get("checkpointer")
        metas = [checkpoint.meta for checkpoint in checkpointer.list_checkpoints()] if checkpointer else []
        if metas and not any("error" in meta for meta in metas):
            self.best_checkpoint = {}  # trained without a dev set: the newest checkpoint (last epoch), as tested

    def modules(self):
        """The feature, normalisation, encoder and head modules (the style head for MTL experiments)."""
        names = ["compute_features", "mean_var_norm", "encoder", "emotion_head"]
        if self.hparams["style_task"]:
            names.append("style_head")
        return {name: self.hparams[name] for name in names}

    def load(self, path):
        """The file's first ``max_duration`` s, mono at the model's rate (read no further, as the recipe does)."""
        stop = int(math.ceil(self.max_duration * audio_info(path).sample_rate))
        return load_audio(path, self.sample_rate, stop=stop)[: int(self.max_duration * self.sample_rate)]

    def batch_inputs(self, wavs, wav_lens):
        """A padded batch cut to its first ``max_duration`` s per utterance, as :meth:`load` cuts a file.

        Example
        -------
        >>> adapter = SelectiveMTLAdapter.__new__(SelectiveMTLAdapter)
        >>> adapter.max_duration, adapter.sample_rate = 1.0, 16000
        >>> wavs, lens = adapter.batch_inputs(torch.zeros(2, 32000), torch.tensor([1.0, 0.25]))
        >>> wavs.shape, lens.tolist()
        (torch.Size([2, 16000]), [1.0, 0.5])
        """
        limit = int(self.max_duration * self.sample_rate)
        samples = torch.round(wav_lens * wavs.shape[1]).clamp(min=1, max=limit)
        width = int(samples.max())
        return wavs[:, :width], samples / width

    def outputs(self, wavs, wav_lens):
        """Everything the model gives for a padded batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            Shape ``[batch, samples]``.
        wav_lens : torch.Tensor
            Relative lengths ``[batch]``.

        Returns
        -------
        dict
            ``probabilities`` ``[batch, emotions]``, ``embedding`` (attention-pooled), ``shared`` (the FC output
            both heads read) and ``style_probabilities`` ``[batch, styles]`` (``None`` without the style task).
        """
        feats = self.hparams["mean_var_norm"](self.hparams["compute_features"](wavs), wav_lens)
        encoder = self.hparams["encoder"]
        embedding = encoder.pooled(feats, wav_lens)
        shared = encoder.dense(embedding)
        style = None
        if self.hparams["style_task"]:
            style = torch.softmax(self.hparams["style_head"](shared), dim=-1)
        return {"probabilities": torch.softmax(self.hparams["emotion_head"](shared), dim=-1), "embedding": embedding,
                "shared": shared, "style_probabilities": style}

    def scores(self, wavs, wav_lens):
        """Emotion probabilities ``[batch, 4]``, predicted indices ``[batch]``, attention-pooled embeddings and, for
        MTL experiments, the style head (``{"style": (styles, probabilities)}``)."""
        result = self.outputs(wavs, wav_lens)
        scored = (result["probabilities"], result["probabilities"].argmax(dim=-1), result["embedding"])
        if result["style_probabilities"] is None:
            return scored
        return scored + ({"style": (self.styles, result["style_probabilities"])},)
