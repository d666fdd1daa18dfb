#!/usr/bin/env python3
"""EmoNet (Gerczuk et al.): Wide-ResNet with parallel residual adapters; scratch, adapter transfer, multi-domain.

Run (from the repo root, or from recipes/EmoNet with hparams/<x>.yaml):
python recipes/EmoNet/train.py recipes/EmoNet/hparams/scratch.yaml --corpus=urdu --data_folder=/data/URDU
python recipes/EmoNet/train.py recipes/EmoNet/hparams/transfer.yaml --corpus=emodb --data_folder=/data/EmoDB \
    --pretrained_folder=results/EmoNet/scratch/urdu/1986/fold_1
python recipes/EmoNet/train.py recipes/EmoNet/hparams/multidomain.yaml --corpora="[emodb, ravdess, cafe]" \
    --data_folders="[/data/EmoDB, /data/RAVDESS, /data/CaFE]"

Modes (hparam ``mode``): ``scratch`` trains every parameter on one corpus (Section 4.3); ``transfer`` loads the
shared model of an earlier run, freezes it and trains only the new corpus's adapters, batch norms and head
(Section 5.2.2; ``tune: head`` / ``tune: all`` give the head-only and full fine-tuning baselines);
``multidomain`` trains one model on several corpora round-robin, then fine-tunes each corpus's adapters and head.
With ``aggregate_targets`` (hparams/aggregated.yaml, hparams/arousal_valence.yaml) the domains are arousal and/or
valence classes pooled over the corpora with Table 2 (Section 6.2).
Both evaluation points of Table 3 (best-dev checkpoint and final epoch) are tested and written to
``test_results.json`` (top level: best-dev).
"""
import json
import os
import random
import sys
from collections import defaultdict

import speechbrain as sb
import torch
import torch.nn.functional as F
import torchaudio
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.distributed import run_on_main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import SPLIT_KEYS, prepare_aggregated, prepare_emonet  # noqa: E402

from emo_lobes.audio import load_audio  # noqa: E402
from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.lobes.adapters import (  # noqa: E402
    domain_parameter_names,
    domain_state_dict,
    freeze_shared_parameters,
    load_domain_state_dict,
    load_shared_state_dict,
    parameter_counts,
    shared_state_dict,
)
from emo_lobes.lobes.emonet import EmoNet  # noqa: E402
from emo_lobes.lr_levels import PlateauLevelsEpochCounter, budget_level, inverse_time_decay  # noqa: E402
from emo_lobes.manifest import load_manifest, write_json_atomic  # noqa: E402
from emo_lobes.metrics import classification_metrics, write_test_results  # noqa: E402
from emo_lobes.round_robin import ChainedBatches, RoundRobinBatches, batch_stream_loader  # noqa: E402
from emo_lobes.training import inverse_frequency_weights  # noqa: E402

#: File a finished run leaves for transfer runs, and the kind it declares.
SHARED_MODEL_FILE = "shared_model.ckpt"
SHARED_MODEL_KIND = "emonet-shared-model"
#: Hparams that fix the shared architecture; a pre-trained model must match them.
ARCHITECTURE_KEYS = ("n_mels", "stem_channels", "stack_channels", "blocks_per_stack", "use_adapters",
                     "attention_size", "shared_attention")


class EmoNetBrain(sb.Brain):
    """Trains and evaluates :class:`~emo_lobes.lobes.emonet.EmoNet` on batches tagged with their domain.

    Extra hparams (set per training phase in ``__main__``): ``domains`` (list of dicts with ``name``,
    ``index``, ``labels``, ``class_weights``), ``epoch_counter``, and for budgeted multi-domain training
    ``rounds_per_level`` (None: the counter's dev-plateau level is used).
    """

    def compute_forward(self, batch, stage):
        """Log mel spectrogram -> EmoNet of the batch's domain -> log probabilities."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        feats = self.modules.compute_features(wavs)
        hop = self.hparams.sample_rate * self.hparams.hop_length // 1000
        # Exact frame counts (STFT with center=True: samples // hop + 1), so padding changes nothing.
        frames = torch.div(torch.round(wav_lens * wavs.shape[1]).long(), hop, rounding_mode="floor") + 1
        return self.modules.model(feats, frames.float() / feats.shape[1], int(batch.domain[0]))

    def compute_objectives(self, log_probs, batch, stage):
        """Class-weighted cross-entropy (Section 4.3); records predictions outside training."""
        domain = int(batch.domain[0])
        targets = batch.label_index.to(self.device)
        weights = self.domain_info[domain]["class_weights"].to(self.device)
        loss = F.nll_loss(log_probs, targets, weight=weights)
        if stage != sb.Stage.TRAIN:
            labels = self.domain_info[domain]["labels"]
            for utt_id, true, pred in zip(batch.id, targets.tolist(), log_probs.argmax(dim=1).tolist()):
                self.predictions[domain].append({"id": utt_id, "true": labels[true], "pred": labels[pred]})
        return loss

    def on_fit_start(self):
        """Start the per-epoch dev metrics record, then SpeechBrain's start (optimiser, checkpoint recovery)."""
        self.dev_history = {}
        super().on_fit_start()

    def init_optimizers(self):
        """SGD over the parameters left trainable (frozen shared parameters get no momentum or decay)."""
        trainable = [param for param in self.modules.parameters() if param.requires_grad]
        self.optimizer = self.opt_class(trainable)
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def on_fit_batch_start(self, batch, should_step):
        """Set this step's learning rate: level (dev plateau or round budget) with per-step decay."""
        rounds_per_level = self.hparams.rounds_per_level
        if rounds_per_level:  # multi-domain: one round (a batch of each corpus) is one schedule step
            step = self.optimizer_step // len(self.hparams.domains)
            lr = self.hparams.lr_levels[budget_level(step, rounds_per_level, len(self.hparams.lr_levels))]
        else:
            step = self.optimizer_step
            lr = self.hparams.epoch_counter.lr
        self.current_lr = inverse_time_decay(lr, self.hparams.lr_decay, step)
        for group in self.optimizer.param_groups:
            group["lr"] = self.current_lr

    def on_stage_start(self, stage, epoch=None):
        """Index the phase's domains and reset the collected predictions."""
        self.domain_info = {domain["index"]: domain for domain in self.hparams.domains}
        self.predictions = defaultdict(list)

    def stage_metrics(self):
        """Per-domain :func:`classification_metrics` of the collected predictions, with predictions."""
        results = {}
        for domain, predictions in sorted(self.predictions.items()):
            metrics = classification_metrics([p["true"] for p in predictions], [p["pred"] for p in predictions],
                                             labels=self.domain_info[domain]["labels"])
            results[domain] = dict(metrics, predictions=predictions)
        return results

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, move the lr level on dev UAR, checkpoint (best dev UAR and latest kept), store test metrics."""
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        metrics = self.stage_metrics()
        mean_uar = sum(m["ua"] for m in metrics.values()) / len(metrics)
        self.last_metrics = metrics
        if stage == sb.Stage.VALID:
            self.dev_history[epoch] = metrics  # reused by evaluate_points instead of re-scoring dev
            counter = self.hparams.epoch_counter
            if not self.hparams.rounds_per_level:
                counter.update_metric(mean_uar)
            stats = {"loss": round(stage_loss, 4), "UAR": round(mean_uar, 4)}
            if len(metrics) > 1:
                stats.update({f"UAR_{self.domain_info[d]['name']}": round(m["ua"], 4) for d, m in metrics.items()})
            self.hparams.train_logger.log_stats(
                stats_meta={"phase": self.hparams.phase, "epoch": epoch, "lr": round(self.current_lr, 6)},
                train_stats={"loss": round(self.train_loss, 4)},
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(meta={"UAR": mean_uar, "epoch": epoch}, max_keys=["UAR"])


def random_chunk(n_frames, chunk_frames, rng=random):
    """Start and stop frames of a random ``chunk_frames`` window, or the whole file when it is shorter.

    Arguments
    ---------
    n_frames : int
        Frames in the file.
    chunk_frames : int
        Chunk length in frames.
    rng : random.Random
        Source of randomness.

    Returns
    -------
    tuple of int
        ``(start, stop)``.

    Example
    -------
    >>> random_chunk(100, 400)
    (0, 100)
    >>> start, stop = random_chunk(1000, 400, random.Random(0))
    >>> stop - start, 0 <= start <= 600
    (400, True)
    """
    if n_frames <= chunk_frames:
        return 0, n_frames
    start = rng.randint(0, n_frames - chunk_frames)
    return start, start + chunk_frames


class AudioCache:
    """Resampled waveforms kept in memory up to ``max_mb`` (reading and resampling 44.1/48 kHz files every epoch
    would dominate CPU epochs); beyond the budget files are read from disk each time.

    Arguments
    ---------
    max_mb : float
        Memory budget in MiB (0 disables the cache). With ``num_workers > 0`` each worker keeps its own.

    Example
    -------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(path, np.zeros(32000), 32000)
    >>> cache = AudioCache(1)
    >>> cache.get(path, 32000, 16000).shape, len(cache.waveforms), AudioCache(0).get(path, 32000, 16000)
    (torch.Size([16000]), 1, None)
    """

    def __init__(self, max_mb):
        self.max_samples = int(max_mb * 2**20 / 4)
        self.n_samples = 0
        self.waveforms = {}
        self.resamplers = {}

    def get(self, wav, file_rate, sample_rate):
        """The whole waveform at ``sample_rate`` if cached or if it fits; None when over budget.

        Resampling goes through one ``torchaudio.transforms.Resample`` per rate pair, whose kernel is computed
        once (the same filter as ``load_audio``, which recomputes it for every file).
        """
        if wav in self.waveforms:
            return self.waveforms[wav]
        if self.n_samples >= self.max_samples:
            return None
        sig = load_audio(wav, None)
        if int(file_rate) != sample_rate:
            key = (int(file_rate), sample_rate)
            if key not in self.resamplers:
                self.resamplers[key] = torchaudio.transforms.Resample(*key)
            sig = self.resamplers[key](sig)
        if self.n_samples + len(sig) > self.max_samples:
            self.n_samples = self.max_samples  # full: stop trying
            return sig
        self.waveforms[wav] = sig
        self.n_samples += len(sig)
        return sig


def corpus_datasets(hparams, prep_paths, data_folder, domain_index, audio_cache=None):
    """Train/valid/test DynamicItemDatasets of one corpus, with audio, label and domain pipelines.

    Training takes a random ``train_chunk_duration`` chunk of longer utterances (only those frames are read
    when the file is not cached); evaluation takes the whole utterance up to ``eval_max_duration`` seconds
    (Section 5.1).

    Returns
    -------
    datasets : dict
        ``train``, ``valid``, ``test``.
    labels : list of str
        The corpus's class labels, index order.
    """
    with open(prep_paths["labels"], encoding="utf-8") as labels_file:
        labels = json.load(labels_file)
    index_of = {label: index for index, label in enumerate(labels)}
    sample_rate = hparams["sample_rate"]
    cache = audio_cache if audio_cache is not None else AudioCache(0)

    @sb.utils.data_pipeline.takes("wav", "sample_rate", "duration")
    @sb.utils.data_pipeline.provides("sig")
    def train_audio(wav, file_rate, duration):
        chunk = hparams["train_chunk_duration"]
        sig = cache.get(wav, file_rate, sample_rate)
        if sig is not None:
            start, stop = random_chunk(len(sig), int(chunk * sample_rate))
            return sig[start:stop]
        start, stop = random_chunk(int(round(duration * file_rate)), int(chunk * file_rate))
        return load_audio(wav, sample_rate, start=start, stop=stop)  # only the chunk is read

    @sb.utils.data_pipeline.takes("wav", "sample_rate")
    @sb.utils.data_pipeline.provides("sig")
    def eval_audio(wav, file_rate):
        cap = hparams["eval_max_duration"]
        sig = cache.get(wav, file_rate, sample_rate)
        if sig is not None:
            return sig if cap is None else sig[: int(cap * sample_rate)]
        return load_audio(wav, sample_rate, stop=None if cap is None else int(cap * file_rate))

    @sb.utils.data_pipeline.takes("emotion")
    @sb.utils.data_pipeline.provides("label_index")
    def label_pipeline(emotion):
        return index_of[emotion]

    @sb.utils.data_pipeline.takes("id")
    @sb.utils.data_pipeline.provides("domain")
    def domain_pipeline(_):
        return domain_index

    datasets = {}
    for part in ("train", "valid", "test"):
        dataset = sb.dataio.dataset.DynamicItemDataset.from_json(
            prep_paths[part], replacements={"data_root": data_folder}
        )
        if part != "train":
            dataset = dataset.filtered_sorted(sort_key="duration")  # less padding; results do not depend on it
        dataset.add_dynamic_item(train_audio if part == "train" else eval_audio)
        dataset.add_dynamic_item(label_pipeline)
        dataset.add_dynamic_item(domain_pipeline)
        dataset.set_output_keys(["id", "sig", "label_index", "domain"])
        datasets[part] = dataset
    return datasets, labels


def prep_split_name(prep_paths):
    """The name of the split the prep wrote (e.g. ``fold_1``)."""
    with open(prep_paths["split"], encoding="utf-8") as split_file:
        return json.load(split_file)["name"]


def loader(dataset, hparams, train):
    """A PaddedBatch DataLoader: shuffled with a fresh order every pass for training, in order otherwise.

    A last training batch of one utterance is dropped (batch norm cannot train on a single example).
    """
    batch_size = hparams["batch_size"] if train else hparams["eval_batch_size"]
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=train, collate_fn=PaddedBatch, num_workers=hparams["num_workers"],
        drop_last=train and len(dataset) % batch_size == 1,
    )


def build_model(hparams, n_classes):
    """EmoNet with the architecture hparams, one domain per entry of ``n_classes``."""
    return EmoNet(
        n_classes, stem_channels=hparams["stem_channels"], stack_channels=hparams["stack_channels"],
        blocks_per_stack=hparams["blocks_per_stack"], use_adapters=hparams["use_adapters"],
        attention_size=hparams["attention_size"], smoothing=hparams["attention_smoothing"],
        shared_attention=hparams["shared_attention"], head_hidden_size=hparams["head_hidden_size"],
        dropout=hparams["dropout"],
    )


def architecture(hparams):
    """The hparams that fix the shared architecture (saved with a shared model, checked on transfer)."""
    return {key: hparams[key] for key in ARCHITECTURE_KEYS}


def save_shared_model(model, hparams, domains, path):
    """Write the shared parameters and each domain's adapters/batch norms for later transfer runs."""
    torch.save({
        "kind": SHARED_MODEL_KIND,
        "architecture": architecture(hparams),
        "source_corpora": [domain["name"] for domain in domains],
        "shared_state": shared_state_dict(model),
        "domain_states": {domain["name"]: domain_state_dict(model, domain["index"], exclude=("heads",))
                          for domain in domains},
    }, path)


def load_shared_model(pretrained_folder, hparams):
    """Read ``<pretrained_folder>/shared_model.ckpt``; one-line errors when it is missing or of another kind."""
    path = os.path.join(str(pretrained_folder), SHARED_MODEL_FILE)
    fix = "pass --pretrained_folder=<output_folder of a finished EmoNet scratch or multidomain run>"
    if not os.path.isfile(path):
        raise EmoLobesError(f"no {SHARED_MODEL_FILE} in pretrained_folder {pretrained_folder}", fix)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a file that is not a checkpoint
        raise EmoLobesError(f"{path} is not a readable checkpoint ({type(err).__name__})", fix) from None
    if not isinstance(saved, dict) or saved.get("kind") != SHARED_MODEL_KIND:
        raise EmoLobesError(f"{path} is not an EmoNet shared model", fix)
    if saved["architecture"] != architecture(hparams):
        different = [k for k in ARCHITECTURE_KEYS if saved["architecture"].get(k) != hparams[k]]
        raise EmoLobesError(f"{path} was trained with other {', '.join(different)}",
                            "use the same architecture hparams as the pre-training run")
    return saved


def set_trainable(model, names):
    """Let exactly the parameters in ``names`` train; returns the number of trainable scalars."""
    names = set(names)
    for name, param in model.named_parameters():
        param.requires_grad_(name in names)
    return sum(param.numel() for param in model.parameters() if param.requires_grad)


def make_brain(hparams, run_opts, model, domains, phase, patience_counter=None, rounds_per_level=None):
    """One EmoNetBrain for a training phase, with its own checkpoint folder and epoch counter."""
    counter = patience_counter or PlateauLevelsEpochCounter(hparams["max_epochs"], hparams["patience"],
                                                           hparams["lr_levels"])
    checkpointer = sb.utils.checkpoints.Checkpointer(
        os.path.join(hparams["save_folder"], phase), recoverables={"model": model, "counter": counter}
    )
    phase_hparams = dict(hparams, domains=domains, epoch_counter=counter, phase=phase,
                         rounds_per_level=rounds_per_level)
    modules = {"model": model, "compute_features": hparams["compute_features"]}
    return EmoNetBrain(modules, hparams["opt_class"], phase_hparams, run_opts, checkpointer)


def evaluate_points(brain, datasets, hparams):
    """Test (and re-score dev) at the final epoch and at the best-dev checkpoint (Table 3's two points).

    Returns
    -------
    dict
        ``{"final": {"dev": metrics, "test": metrics}, "best": {...}}`` for the brain's single domain, where each
        metrics dict holds ``predictions`` and ``epoch``.
    """
    points = {}
    for point, max_key in (("final", None), ("best", "UAR")):
        checkpoint = brain.checkpointer.find_checkpoint(max_key=max_key)
        epoch = checkpoint.meta["epoch"] if checkpoint is not None else brain.hparams.epoch_counter.current
        if point == "best" and epoch == points["final"]["test"]["epoch"]:
            points["best"] = points["final"]  # the final epoch is the best one: same model, same scores
            break
        brain.evaluate(loader(datasets["test"], hparams, train=False), max_key=max_key)
        points[point] = {"test": dict(next(iter(brain.last_metrics.values())), epoch=epoch)}
        if epoch not in brain.dev_history:  # e.g. a resumed run: score dev again
            brain.evaluate(loader(datasets["valid"], hparams, train=False), max_key=max_key)
            brain.dev_history[epoch] = brain.last_metrics
        points[point]["dev"] = dict(next(iter(brain.dev_history[epoch].values())), epoch=epoch)
    return points


def write_corpus_results(path, points, domain, hparams, extra=None):
    """``test_results.json`` of one corpus: best-dev test metrics at the top, both points under best/final."""
    best_test = dict(points["best"]["test"])
    predictions = best_test.pop("predictions")
    # Predictions kept for the final test only (the best-dev ones are the top-level predictions).
    summary = {point: {part: {k: v for k, v in m.items() if k != "predictions" or (point, part) == ("final", "test")}
                       for part, m in parts.items()} for point, parts in points.items()}
    write_test_results(path, {k: v for k, v in best_test.items() if k != "epoch"}, predictions, extra=dict(
        {"corpus": domain["name"], "mode": hparams["mode"], "fold": hparams["fold"], "seed": hparams["seed"],
         "split": domain["split"], "best_epoch": best_test["epoch"], "best": summary["best"],
         "final": summary["final"]}, **(extra or {})))


def train_single_corpus(hparams, run_opts, model, domain, datasets, phase):
    """Plateau-scheduled training of one domain (scratch, transfer, or fine-tuning after multi-domain)."""
    brain = make_brain(hparams, run_opts, model, [domain], phase)
    brain.fit(brain.hparams.epoch_counter, loader(datasets["train"], hparams, train=True),
              loader(datasets["valid"], hparams, train=False))
    return brain, evaluate_points(brain, datasets, hparams)


def _prep_options(hparams, corpus):
    """Split and label options of ``corpus``: its ``corpus_options`` entry, else the global hparams."""
    options = dict(hparams["corpus_options"].get(corpus) or {})
    prep = {key: options.get(key, hparams[key]) for key in SPLIT_KEYS}
    prep.update(emotions=options.get("emotions", hparams["emotions"]), parse_options=options.get("parse_options"),
                merge_emotions=options.get("merge_emotions", hparams["merge_emotions"]))
    return prep


def _add_domain(hparams, domains, corpus_data, name, prep_paths, data_folder, audio_cache):
    """Build one domain's datasets and class weights from its manifests."""
    index = len(domains)
    datasets, labels = corpus_datasets(hparams, prep_paths, data_folder, index, audio_cache)
    train_entries = load_manifest(prep_paths["train"]).values()
    class_weights = inverse_frequency_weights([labels.index(e["emotion"]) for e in train_entries], len(labels))
    domains.append({"name": name, "index": index, "labels": labels, "class_weights": class_weights,
                    "split": prep_split_name(prep_paths)})
    corpus_data.append(datasets)


def dataio_prep(hparams, corpora, folders, aggregate_targets=None):
    """Prepare the data (under run_on_main) and build the datasets of each domain, in order.

    Without ``aggregate_targets`` each corpus is a domain (its own labels and split). With them, each target
    (``arousal``, ``valence``) is a domain pooling every corpus mapped with Table 2 (modes 4 and 5).
    Per-corpus split and label options come from ``corpus_options[<corpus>]``, else the global hparams.

    Returns
    -------
    domains : list of dict
        ``name``, ``index``, ``labels``, ``class_weights`` (inverse training frequency), ``split``.
    corpus_data : list of dict
        Each domain's ``train``/``valid``/``test`` datasets.
    """
    domains, corpus_data, audio_cache = [], [], AudioCache(hparams["audio_cache_mb"])
    common = dict(fold=hparams["fold"], seed=hparams["seed"])
    if aggregate_targets:
        specs = [dict(_prep_options(hparams, corpus), corpus=corpus, data_folder=folder)
                 for corpus, folder in zip(corpora, folders)]
        for target in aggregate_targets:
            save_folder = os.path.join(hparams["prep_folder"], f"aggregated_{target}")
            args = [target, specs, save_folder, dict({k: hparams[k] for k in SPLIT_KEYS}, fold=hparams["fold"])]
            run_on_main(prepare_aggregated, args=args, kwargs={"seed": hparams["seed"],
                                                                "skip_prep": hparams["skip_prep"]})
            prep_paths = prepare_aggregated(*args, seed=hparams["seed"], skip_prep=True)
            _add_domain(hparams, domains, corpus_data, target, prep_paths, "", audio_cache)
        return domains, corpus_data
    for corpus, folder in zip(corpora, folders):
        save_folder = os.path.join(hparams["prep_folder"], corpus)
        kwargs = dict(_prep_options(hparams, corpus), **common, skip_prep=hparams["skip_prep"])
        run_on_main(prepare_emonet, args=[corpus, folder, save_folder], kwargs=kwargs)
        prep_paths = prepare_emonet(corpus, folder, save_folder, **dict(kwargs, skip_prep=True))
        _add_domain(hparams, domains, corpus_data, corpus, prep_paths, folder, audio_cache)
    return domains, corpus_data


if __name__ == "__main__":
    install_excepthook()
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides)
    install_excepthook()  # again: create_experiment_directory installs SpeechBrain's logging hook

    # Domains: one corpus (scratch, transfer), several corpora (multidomain), or arousal/valence targets that
    # pool several corpora (aggregate_targets: one for mode 4 with scratch, two for mode 5 with multidomain).
    if hparams["mode"] not in ("scratch", "transfer", "multidomain"):
        raise EmoLobesError(f"unknown mode '{hparams['mode']}'", "use scratch, transfer or multidomain")
    targets = list(hparams.get("aggregate_targets") or [])
    if targets or hparams["mode"] == "multidomain":
        corpora, folders = list(hparams["corpora"]), list(hparams["data_folders"])
        if len(corpora) != len(folders):
            raise EmoLobesError(f"{len(corpora)} corpora but {len(folders)} data_folders",
                                "give one data folder per corpus, in the same order")
    else:
        corpora, folders = [hparams["corpus"]], [hparams["data_folder"]]
    n_domains = len(targets) if targets else len(corpora)
    if (hparams["mode"] == "multidomain") != (n_domains > 1):
        raise EmoLobesError(f"mode {hparams['mode']} with {n_domains} domain(s)",
                            "multidomain needs at least two corpora (or targets); scratch and transfer need one")
    pretrained = load_shared_model(hparams["pretrained_folder"], hparams) if hparams["mode"] == "transfer" else None

    domains, corpus_data = dataio_prep(hparams, corpora, folders, targets)

    model = build_model(hparams, [len(domain["labels"]) for domain in domains])
    counts = parameter_counts(model)
    write_json_atomic(counts, os.path.join(hparams["output_folder"], "parameter_counts.json"))

    if hparams["mode"] == "transfer":
        tune = hparams["tune"]
        problems = load_shared_state_dict(model, pretrained["shared_state"])
        if problems:
            raise EmoLobesError(f"pre-trained shared model does not fit: {problems[0]}",
                                "use the same architecture hparams as the pre-training run")
        if tune in ("head", "all"):  # the baselines start from the source corpus's adapters and batch norms
            source = hparams["source_corpus"] or pretrained["source_corpora"][0]
            if source not in pretrained["domain_states"]:
                raise EmoLobesError(f"source corpus {source} is not in the pre-trained model "
                                    f"({', '.join(pretrained['source_corpora'])})",
                                    "pass --source_corpus=<one of them>")
            load_domain_state_dict(model, pretrained["domain_states"][source], 0, exclude=("heads",))
        if tune == "adapters":
            freeze_shared_parameters(model)
        elif tune == "head":
            set_trainable(model, [name for name in domain_parameter_names(model, 0) if name.startswith("heads.")])
        elif tune != "all":
            raise EmoLobesError(f"unknown tune '{tune}'", "use adapters, head or all")

    extra = {"parameter_counts": counts,
             "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    if hparams["mode"] in ("scratch", "transfer"):
        domain = domains[0]
        brain, points = train_single_corpus(hparams, run_opts, model, domain, corpus_data[0], hparams["mode"])
        if pretrained is not None:
            extra["pretrained_on"] = pretrained["source_corpora"]
        write_corpus_results(os.path.join(hparams["output_folder"], "test_results.json"), points, domain, hparams,
                             extra)
        save_shared_model(model, hparams, domains, os.path.join(hparams["output_folder"], SHARED_MODEL_FILE))
    else:
        # Phase 1: round-robin over the corpora, lr levels after fixed round budgets (Section 5.2.2).
        total_rounds = hparams["rounds_per_level"] * len(hparams["lr_levels"])
        if total_rounds % hparams["rounds_per_epoch"]:
            raise EmoLobesError(f"rounds_per_epoch {hparams['rounds_per_epoch']} does not divide the "
                                f"{total_rounds} rounds of training", "pick a divisor of rounds_per_level")
        n_epochs = total_rounds // hparams["rounds_per_epoch"]
        rounds = RoundRobinBatches([loader(data["train"], hparams, train=True) for data in corpus_data],
                                   rounds=hparams["rounds_per_epoch"])
        brain = make_brain(hparams, run_opts, model, domains, "multidomain",
                           sb.utils.epoch_loop.EpochCounter(n_epochs), hparams["rounds_per_level"])
        dev_stream = batch_stream_loader(ChainedBatches([loader(d["valid"], hparams, False) for d in corpus_data]))
        brain.fit(brain.hparams.epoch_counter, batch_stream_loader(rounds), dev_stream)
        save_shared_model(model, hparams, domains, os.path.join(hparams["output_folder"], SHARED_MODEL_FILE))
        before = {}
        for domain, data in zip(domains, corpus_data):
            brain.evaluate(loader(data["test"], hparams, train=False))  # latest = end of round-robin training
            before[domain["name"]] = {k: v for k, v in brain.last_metrics[domain["index"]].items()
                                      if k not in ("confusion", "predictions")}
        # Phase 2: each corpus's adapters, batch norms and head fine-tuned with the shared model frozen.
        pooled_true, pooled_pred, pooled_predictions, summary = [], [], [], {}
        for domain, data in zip(domains, corpus_data):
            set_trainable(model, domain_parameter_names(model, domain["index"]))
            _, points = train_single_corpus(hparams, run_opts, model, domain, data, f"finetune_{domain['name']}")
            write_corpus_results(os.path.join(hparams["output_folder"], domain["name"], "test_results.json"),
                                 points, domain, hparams, {"before_finetune": before[domain["name"]]})
            summary[domain["name"]] = {"best_test_ua": points["best"]["test"]["ua"],
                                       "final_test_ua": points["final"]["test"]["ua"],
                                       "before_finetune_test_ua": before[domain["name"]]["ua"]}
            for prediction in points["best"]["test"]["predictions"]:
                pooled_predictions.append(dict(prediction, true=f"{domain['name']}:{prediction['true']}",
                                               pred=f"{domain['name']}:{prediction['pred']}"))
        pooled_labels = [f"{d['name']}:{label}" for d in domains for label in d["labels"]]
        pooled = classification_metrics([p["true"] for p in pooled_predictions],
                                        [p["pred"] for p in pooled_predictions], labels=pooled_labels)
        write_test_results(os.path.join(hparams["output_folder"], "test_results.json"), pooled, pooled_predictions,
                           extra=dict(extra, mode="multidomain", fold=hparams["fold"], seed=hparams["seed"],
                                      corpora=summary, note="labels are corpus:emotion, pooled over corpora"))
