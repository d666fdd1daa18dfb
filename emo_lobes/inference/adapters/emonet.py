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


def segment_grid(wavs, wav_lens, segment_samples):
    """Cut each padded waveform into consecutive segments of at most ``segment_samples`` samples, on a fixed grid.

    An utterance of ``n`` samples gives ``k = ceil(n / segment_samples)`` segments of ``ceil(n / k)`` samples (the
    last one up to ``k - 1`` samples shorter), so no segment is a sliver; an utterance no longer than a segment is
    one segment, as it is. Each utterance gets ``ceil(samples / segment_samples)`` slots of the padded batch,
    every segment zero-padded to ``min(samples, segment_samples)``; the slots an utterance does not fill are zeros,
    marked invalid. Sizes come from slices of ``wavs``, never from Python numbers, so ``torch.jit.trace`` and the
    ONNX export keep the batch size, the length and the number of segments dynamic
    (:mod:`emo_lobes.inference.export`); the recipe's test scores only the valid slots.

    Arguments
    ---------
    wavs : torch.Tensor
        ``[batch, samples]`` padded waveforms.
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths.
    segment_samples : int
        The longest segment, in samples.

    Returns
    -------
    segments : torch.Tensor
        ``[batch * slots, min(samples, segment_samples)]`` zero-padded segments, utterance by utterance.
    segment_lens : torch.Tensor
        ``[batch * slots]`` relative lengths (1.0 for an invalid slot: zeros, scored and then left out).
    valid : torch.Tensor
        ``[batch, slots]`` whether each slot holds a segment.

    Example
    -------
    >>> wavs = torch.arange(10.0).repeat(2, 1)
    >>> segments, lens, valid = segment_grid(wavs, torch.tensor([1.0, 0.3]), 4)   # 10 = 4 + 4 + 2; 3 samples
    >>> segments.shape, valid.tolist(), lens.tolist()
    (torch.Size([6, 4]), [[True, True, True], [True, False, False]], [1.0, 1.0, 0.5, 0.75, 1.0, 1.0])
    >>> segments[2].tolist(), segments[3].tolist(), segments[4].tolist()
    ([8.0, 9.0, 0.0, 0.0], [0.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    >>> kept = segment_grid(wavs[:1, :9], torch.tensor([1.0]), 4)[1]   # 9 = 3 + 3 + 3, not 4 + 4 + 1
    >>> [round(x * 4) for x in kept.tolist()]
    [3, 3, 3]
    """
    n_samples = torch.round(wav_lens * wavs.shape[1]).long()
    n_segments = torch.clamp(torch.div(n_samples + segment_samples - 1, segment_samples, rounding_mode="floor"), min=1)
    size = torch.clamp(torch.div(n_samples + n_segments - 1, n_segments, rounding_mode="floor"), min=1)
    # arange(width) and arange(slots) from slices: width = min(samples, segment), slots = ceil(samples / segment)
    offsets = torch.ones_like(wavs[0, :segment_samples], dtype=torch.long).cumsum(0) - 1
    slots = torch.ones_like(wavs[0, ::segment_samples], dtype=torch.long).cumsum(0) - 1
    starts = slots[None, :] * size[:, None]  # [batch, slots]
    valid = starts < torch.clamp(n_samples, min=1)[:, None]  # as range(0, max(n, 1), size)
    lengths = torch.clamp(torch.minimum(starts + size[:, None], n_samples[:, None]) - starts, min=0)
    inside = offsets[None, None, :] < lengths[:, :, None]  # [batch, slots, width]
    index = torch.where(inside, starts[:, :, None] + offsets[None, None, :], torch.zeros_like(inside, dtype=torch.long))
    segments = torch.gather(wavs, 1, index.reshape(wavs.shape[0], -1)).reshape(index.shape) * inside
    width = offsets.shape[0]
    segment_lens = torch.where(valid, lengths.to(wavs.dtype) / width, torch.ones_like(wavs[:, :1]))
    return segments.reshape(-1, width), segment_lens.reshape(-1), valid


def mean_grid_log_probs(log_probs, valid):
    """Log of the mean class probabilities of each utterance's segments (:func:`segment_grid`; invalid slots left
    out), by log-sum-exp: ``exp()`` of a very confident model's log probabilities underflows to 0.

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[batch * slots, classes]`` log probabilities of every slot.
    valid : torch.Tensor
        ``[batch, slots]`` from :func:`segment_grid`.

    Returns
    -------
    torch.Tensor
        ``[batch, classes]`` log of the mean probabilities of each utterance's segments.

    Example
    -------
    >>> log_probs = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.6, 0.4]]).log()
    >>> mean_grid_log_probs(log_probs, torch.tensor([[True, True], [True, False]])).exp()
    tensor([[0.7000, 0.3000],
            [0.2000, 0.8000]])
    >>> mean_grid_log_probs(torch.tensor([[0.0, -200.0]]), torch.tensor([[True]]))   # no underflow to -inf
    tensor([[   0., -200.]])
    """
    log_probs = log_probs.float().reshape(valid.shape[0], valid.shape[1], -1)
    kept = torch.where(valid[:, :, None], log_probs, torch.full_like(log_probs, float("-inf")))
    return torch.logsumexp(kept, dim=1) - valid.sum(dim=1, keepdim=True).float().log()


def score_valid_slots(score, segments, segment_lens, valid):
    """``score(segments, segment_lens)`` on the valid slots of :func:`segment_grid` only, put back on the grid.

    While tracing (export) every slot is scored, so the traced graph keeps no data-dependent selection; otherwise
    only the valid ones are, so one long file in a batch costs its own segments, not every file's share of them.

    Arguments
    ---------
    score : callable
        ``(segments, segment_lens) -> tensor [n, ...]``, or a tuple of such tensors.
    segments, segment_lens, valid : torch.Tensor
        From :func:`segment_grid`.

    Returns
    -------
    tuple of torch.Tensor
        ``[batch * slots, ...]`` per output of ``score``; zeros on invalid slots.

    Example
    -------
    >>> segments, lens, valid = segment_grid(torch.ones(2, 10), torch.tensor([1.0, 0.3]), 4)
    >>> seen = []
    >>> out, = score_valid_slots(lambda x, l: (seen.append(len(x)) or x.sum(dim=1, keepdim=True),), segments, lens,
    ...                          valid)
    >>> seen, out.flatten().tolist()
    ([4], [4.0, 4.0, 2.0, 3.0, 0.0, 0.0])
    """
    if torch.jit.is_tracing():
        return tuple(score(segments, segment_lens))
    kept = valid.flatten()
    outputs = []
    for value in score(segments[kept], segment_lens[kept]):
        full = value.new_zeros((kept.numel(),) + tuple(value.shape[1:]))
        full[kept] = value
        outputs.append(full)
    return tuple(outputs)


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
        """Class probabilities, predictions and embeddings; with the run's ``eval_segment_duration`` (absent in runs
        before issue 14: whole clips) scored in segments as the recipe's test is: the mean of the segments'
        probabilities, and of their embeddings. The segments are cut on :func:`segment_grid`'s fixed grid (the
        recipe's test cuts the same), so this method also exports."""
        segment = self.hparams.get("eval_segment_duration")
        if not segment:
            embedding, log_probs = self._embed_and_score(wavs, wav_lens)
        else:
            segments, segment_lens, valid = segment_grid(wavs, wav_lens,
                                                         int(round(segment * self.hparams["sample_rate"])))
            embedding, log_probs = score_valid_slots(self._embed_and_score, segments, segment_lens, valid)
            log_probs = mean_grid_log_probs(log_probs, valid)
            weights = valid.to(embedding.dtype) / valid.sum(dim=1, keepdim=True).to(embedding.dtype)
            embedding = (embedding.reshape(valid.shape[0], valid.shape[1], -1) * weights[:, :, None]).sum(dim=1)
        probabilities = log_probs.exp()
        return probabilities, probabilities.argmax(dim=-1), embedding

    def _embed_and_score(self, wavs, wav_lens):
        # embedding and log probabilities of the chosen domain's head
        feats = self.hparams["compute_features"](wavs)
        lengths = relative_frame_lengths(wav_lens, wavs.shape[1], self.hop_samples, feats.shape[1])
        embedding = self.model.embed(feats, lengths, self.domain)
        return embedding, self.model.heads[self.domain](embedding)
