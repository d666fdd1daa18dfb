"""Inference adapter of the LanguageMTL recipe: MFCC / short-term frames or openSMILE functionals -> model -> head."""
import torch

from emo_lobes.features.feature_cache import FRAME_FEATURES
from emo_lobes.inference.classifier import RecipeAdapter, register_adapter
from emo_lobes.lobes.lstm_classifier import pad_to_frames


@register_adapter("LanguageMTL")
class LanguageMTLAdapter(RecipeAdapter):
    """LanguageMTL (recipes/LanguageMTL): the recipe's features computed per file -> its model -> emotion head.

    Features are Kaldi MFCC or pyAudioAnalysis frames, or openSMILE functionals (``features`` in the hparams), computed
    as the recipe does but not cached; the embedding is the model's summary (``encode``). For ``experiment:
    transfer`` this is the IEMOCAP base model (the fine-tuned per-corpus models live in ``finetune/<corpus>/``). A
    run without a dev set (``dev: none``) tested its last checkpoint, and so is it read here.
    """

    best_checkpoint = {"min_key": "error_rate"}

    def __init__(self, hparams, labels):
        super().__init__(hparams, labels)
        if not hparams["checkpointer"].find_checkpoints(min_key="error_rate"):  # no dev: the last epoch
            self.best_checkpoint = {}
        from emo_lobes.features.feature_cache import feature_cache_for  # openSMILE is imported only for this recipe

        self.features = feature_cache_for(hparams["features"], None, hparams["n_mfcc"], hparams["max_frames"])
        self.sample_rate = None  # the feature extractor reads the file itself
        self.waveform_rate = 16000  # what classify_batch takes (the features' FEATURE_SAMPLE_RATE)

    def modules(self):
        normalize = self.hparams.get("normalize")
        return {"model": self.hparams["model"], **({"normalize": normalize} if normalize is not None else {})}

    def load(self, path):
        value = torch.from_numpy(self.features.get(path)).float()
        return value if value.dim() == 2 else value.unsqueeze(0)  # functionals: a 1-frame sequence

    def batch_inputs(self, wavs, wav_lens):
        """The features of a padded batch of 16 kHz waveforms, computed per utterance as :meth:`load` does for a file
        (the first ``max_frames`` Kaldi MFCC or pyAudioAnalysis frames, or openSMILE functionals), padded, with
        relative lengths."""
        from emo_lobes.features.feature_cache import (KALDI_FRAME_LENGTH_S, KALDI_FRAME_SHIFT_S, FEATURE_SAMPLE_RATE,
                                                      kaldi_mfcc, short_term_frames, signal_functionals)

        samples = torch.round(wav_lens * wavs.shape[1]).long().clamp(min=1).tolist()
        feats = []
        for wav, count in zip(wavs.detach().float().cpu(), samples):
            wav = wav[:count]
            if self.hparams["features"] == "mfcc":  # as first_mfcc_frames: only the audio the frames need
                max_frames = self.hparams["max_frames"]
                needed_s = KALDI_FRAME_LENGTH_S + (max_frames - 1) * KALDI_FRAME_SHIFT_S + 0.01
                wav = wav[:int(torch.ceil(torch.tensor(needed_s * FEATURE_SAMPLE_RATE)))]
                feats.append(kaldi_mfcc(wav, self.hparams["n_mfcc"])[:max_frames])
            elif self.hparams["features"] == "pyaudioanalysis":
                feats.append(torch.from_numpy(short_term_frames(wav.numpy())[:self.hparams["max_frames"]]))
            else:
                feats.append(torch.from_numpy(signal_functionals(wav.numpy(), self.hparams["features"])).unsqueeze(0))
        counts = torch.tensor([f.shape[0] for f in feats], dtype=torch.float32)
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
        return padded.to(wavs.device), (counts / counts.max()).to(wavs.device)

    def scores(self, feats, lengths):
        if not self.hparams["use_lengths"] and self.hparams["features"] in FRAME_FEATURES:  # as the recipe
            feats, lengths = pad_to_frames(feats, lengths, self.hparams["max_frames"])
        model = self.hparams["model"]
        if self.hparams.get("normalize") is not None:
            feats = self.hparams["normalize"](feats, lengths)
        summary = model.encode(feats, lengths if self.hparams["use_lengths"] else None)
        probabilities = model.classify_emotion(summary).exp()
        return probabilities, probabilities.argmax(dim=-1), summary
