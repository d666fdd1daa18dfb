"""Inference adapter of the EmoNet recipe: waveform -> log mel spectrogram -> EmoNet of one domain -> probabilities."""
import json
import os

import torch

from emo_lobes.training.checkpoints import AtomicCheckpointer, load_module_tensors
from emo_lobes.errors import EmoLobesError
from emo_lobes.inference.classifier import RecipeAdapter, register_adapter
from emo_lobes.lobes.emonet import EmoNet

#: What an EmoNet run writes at its start: mode, and each domain's name, labels and checkpoint folder.
EXPERIMENT_FILE = "experiment.json"


def relative_frame_lengths(wav_lens, n_samples, hop_samples, n_frames):
    """Relative valid lengths of log mel frames from relative waveform lengths (STFT with ``center=True``).

    A waveform of ``s`` samples has ``s // hop + 1`` frames, so frames computed from padding are left out exactly
    and an utterance scores the same alone or in a padded batch.

    Arguments
    ---------
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths of the padded waveforms.
    n_samples : int
        Samples of the padded batch.
    hop_samples : int
        Hop of the spectrogram in samples.
    n_frames : int
        Frames of the padded batch's spectrogram.

    Returns
    -------
    torch.Tensor
        ``[batch]`` relative lengths of the spectrogram.

    Example
    -------
    >>> relative_frame_lengths(torch.tensor([1.0, 0.5]), 1024, 256, 5)
    tensor([1.0000, 0.6000])
    """
    samples = torch.round(wav_lens * n_samples).long()
    return (torch.div(samples, hop_samples, rounding_mode="floor") + 1).float() / n_frames


def build_emonet(hparams, n_classes):
    """:class:`~emo_lobes.lobes.emonet.EmoNet` with the architecture hparams of an EmoNet run.

    Example
    -------
    >>> hparams = {"stem_channels": 4, "stack_channels": [8, 8, 16], "blocks_per_stack": 1, "use_adapters": True,
    ...            "attention_size": 8, "attention_smoothing": 0.3, "shared_attention": True,
    ...            "head_hidden_size": 8, "dropout": 0.2}
    >>> build_emonet(hparams, [4, 7]).n_classes
    [4, 7]
    """
    return EmoNet(
        n_classes, stem_channels=hparams["stem_channels"], stack_channels=hparams["stack_channels"],
        blocks_per_stack=hparams["blocks_per_stack"], use_adapters=hparams["use_adapters"],
        attention_size=hparams["attention_size"], smoothing=hparams["attention_smoothing"],
        shared_attention=hparams["shared_attention"], head_hidden_size=hparams["head_hidden_size"],
        dropout=hparams["dropout"], masked_batch_norm=hparams.get("masked_batch_norm", True),
    )


@register_adapter("EmoNet")
class EmoNetAdapter(RecipeAdapter):
    """EmoNet (recipes/EmoNet): log mel spectrogram -> adapter Wide-ResNet and 2D attention -> one domain's head.

    The experiment's ``experiment.json`` names its domains (corpora, or arousal/valence targets) with their labels
    and checkpoint folders. Single-corpus runs have one domain; multi-domain runs classify with the fine-tuned
    model of one domain (the first unless :meth:`use_domain` picks another: ``EmotionClassifier.use_head``,
    ``tools/classify.py --head`` or ``EmotionClassifier.from_experiment(folder, head=...)``). The embedding is the
    attention-pooled feature vector (eq. 4), ``stack_channels[-1]`` values.

    Arguments
    ---------
    hparams : dict
        The experiment's loaded ``hyperparams.yaml`` (its ``checkpointer`` on the experiment's ``save/``).
    labels : list of str
        Ignored: each domain's labels come from ``experiment.json``.
    """

    best_checkpoint = {"max_key": "UAR"}

    def __init__(self, hparams, labels=None):
        save_folder = str(hparams["checkpointer"].checkpoints_dir)
        self.experiment = os.path.dirname(save_folder)
        try:
            with open(os.path.join(self.experiment, EXPERIMENT_FILE), encoding="utf-8") as info_file:
                self.info = json.load(info_file)
        except (OSError, ValueError):
            raise EmoLobesError(f"{self.experiment} has no readable {EXPERIMENT_FILE}",
                                "give the output folder of an EmoNet run that has started training") from None
        super().__init__(hparams, self.info["domains"][0]["labels"])
        self.model = build_emonet(hparams, [len(domain["labels"]) for domain in self.info["domains"]])
        self.hop_samples = hparams["sample_rate"] * hparams["hop_length"] // 1000
        self.domain = 0
        # from_experiment fills the checkpointer's modules from its best-dev checkpoint: point it at this domain's
        hparams["checkpointer"] = self._checkpointer(0)

    @classmethod
    def package_files(cls, experiment_folder):
        """``experiment.json`` and each domain's best-dev checkpoint (its ``CKPT.yaml`` and ``model.ckpt``)."""
        with open(os.path.join(experiment_folder, EXPERIMENT_FILE), encoding="utf-8") as info_file:
            domains = json.load(info_file)["domains"]
        files = [EXPERIMENT_FILE]
        for domain in domains:
            checkpointer = AtomicCheckpointer(os.path.join(experiment_folder, "save", domain["phase"]))
            best = checkpointer.find_checkpoints(**cls.best_checkpoint)
            if best:
                files += [os.path.relpath(os.path.join(best[0].path, name), experiment_folder)
                          for name in ("CKPT.yaml", "model.ckpt")]
        return files

    def _checkpointer(self, domain):
        folder = os.path.join(self.experiment, "save", self.info["domains"][domain]["phase"])
        return AtomicCheckpointer(folder, recoverables={"model": self.model})

    @property
    def domain_names(self):
        """The experiment's domains, in model order."""
        return [domain["name"] for domain in self.info["domains"]]

    def use_domain(self, name):
        """Classify with domain ``name``: load its best-dev checkpoint (tensors only) and take its labels.

        ``EmotionClassifier.use_head(name)`` and ``tools/classify.py --head NAME`` call it.
        """
        if name not in self.domain_names:
            raise EmoLobesError(f"domain {name!r} is not in {self.experiment}",
                                f"use one of {', '.join(self.domain_names)}")
        self.domain = self.domain_names.index(name)
        checkpoints = self._checkpointer(self.domain).find_checkpoints(**self.best_checkpoint)
        if not checkpoints:
            raise EmoLobesError(f"no checkpoint of domain {name} in {self.experiment}", "train the experiment first")
        load_module_tensors(self.model, checkpoints[0].paramfiles["model"], next(self.model.parameters()).device)
        self.labels = list(self.info["domains"][self.domain]["labels"])

    use_head = use_domain

    def modules(self):
        return {"compute_features": self.hparams["compute_features"], "model": self.model}

    def scores(self, wavs, wav_lens):
        feats = self.hparams["compute_features"](wavs)
        lengths = relative_frame_lengths(wav_lens, wavs.shape[1], self.hop_samples, feats.shape[1])
        embedding = self.model.embed(feats, lengths, self.domain)
        probabilities = self.model.heads[self.domain](embedding).exp()
        return probabilities, probabilities.argmax(dim=-1), embedding
