"""Inference adapter of the MLEE recipe: waveform -> spectrogram -> frozen-or-trained encoders -> classifier."""
import torch

from emo_lobes.lobes.existence import TARGET_CODES, predict_from_existence
from emo_lobes.inference.classifier import RecipeAdapter, register_adapter


@register_adapter("MLEE")
class MLEEAdapter(RecipeAdapter):
    """MLEE (recipes/MLEE): spectrogram -> per-branch normalisation and encoder -> concatenation -> classifier.

    Probabilities are softmax outputs for dominant-emotion methods and per-class existence probabilities
    (sigmoid, eq. 7's argmax picks the label) for ``method: mlee``; the embedding is the concatenated
    attention-pooled encoder outputs (``2 x lstm_size`` per branch). The checkpoint read is the one the recipe
    tested: the best dev loss's, or the newest for a run without a dev set.
    """

    def __init__(self, hparams, labels=None):
        super().__init__(hparams, TARGET_CODES)  # the classes of every MLEE method
        checkpointer = hparams.get("checkpointer")
        metas = [checkpoint.meta for checkpoint in checkpointer.list_checkpoints()] if checkpointer else []
        if metas and not any("loss" in meta for meta in metas):
            self.best_checkpoint = {}  # trained without a dev set: the newest checkpoint (last epoch), as tested

    def modules(self):
        names = ["spectrogram", "classifier"]
        for branch in self.hparams["branches"]:
            names += [f"{branch}_normalizer", f"{branch}_encoder"]
        return {name: self.hparams[name] for name in names}

    def scores(self, wavs, wav_lens):
        feats, feat_lens = self.hparams["spectrogram"](wavs, wav_lens)
        embeddings = []
        for branch in self.hparams["branches"]:
            normalized = self.hparams[f"{branch}_normalizer"](feats, feat_lens)
            embeddings.append(self.hparams[f"{branch}_encoder"](normalized, feat_lens)[0])
        embedding = torch.cat(embeddings, dim=1)
        logits = self.hparams["classifier"](embedding)
        if self.hparams["method"] == "mlee":
            return torch.sigmoid(logits), predict_from_existence(logits), embedding
        return torch.softmax(logits, dim=-1), logits.argmax(dim=-1), embedding
