#!/usr/bin/env python3
"""EmoNet (Gerczuk et al.): Wide-ResNet with parallel residual adapters; scratch, adapter transfer, multi-domain.

Run (from the repo root, or from recipes/EmoNet with hparams/<x>.yaml):
python recipes/EmoNet/train.py recipes/EmoNet/hparams/scratch.yaml --corpus=urdu --data_folder=/data/URDU
python recipes/EmoNet/train.py recipes/EmoNet/hparams/scratch.yaml --corpus=urdu --data_folder=/data/URDU \
    --split_file=splits/urdu_fold1.json
python recipes/EmoNet/train.py recipes/EmoNet/hparams/transfer.yaml --corpus=emodb --data_folder=/data/EmoDB \
    --pretrained_folder=results/EmoNet/scratch/urdu/1986/fold_1
python recipes/EmoNet/train.py recipes/EmoNet/hparams/multidomain.yaml --corpus="[emodb, ravdess, cafe]" \
    --data_folder=/data
torchrun --nproc_per_node=2 recipes/EmoNet/train.py recipes/EmoNet/hparams/scratch.yaml --corpus=urdu \
    --data_folder=/data/URDU --distributed_backend=gloo --device=cpu

Corpora are named by ``corpus`` (one name, or a list for multi-domain and pooled runs) and declared, where
their parser, folder, classes or split differ from the defaults, in ``corpora: {name: {parser, folder, options,
emotions, merge, split}}`` (root README, "Data and splits"). The name keys everything: prep folders
(``prep/<name>``), domains and heads, phases (``save/finetune_<name>``), results (``<name>/test_results.json``)
and the split copy (``splits/<name>.json``).

Modes (hparam ``mode``): ``scratch`` trains every parameter on one corpus (Section 4.3); ``transfer`` loads the
shared model of an earlier run, freezes it and trains only the new corpus's adapters, batch norms and head
(Section 5.2.2; ``tune: head`` / ``tune: all`` give the head-only and full fine-tuning baselines);
``multidomain`` trains one model on several corpora round-robin, then fine-tunes each corpus's adapters and head.
With ``aggregate_targets`` (hparams/aggregated.yaml, hparams/arousal_valence.yaml) the domains are arousal and/or
valence classes pooled over the corpora with Table 2 (Section 6.2).
Both evaluation points of Table 3 (best-dev checkpoint and final epoch) are tested and written to
``test_results.json`` (top level: best-dev). A corpus without a dev set (``dev: none``) trains
``no_dev_epochs_per_level`` epochs at each lr level and its last epoch is tested.
Each training phase checkpoints in ``save/<phase>/``; running the same command again skips finished phases and
resumes the interrupted one where it stopped.
"""
import functools
import gc
import json
import math
import os
import random
import sys
from collections import defaultdict

import speechbrain as sb
import torch
import torch.nn.functional as F
import torchaudio
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.distributed import ddp_init_group, if_main_process, run_on_main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import emonet_declarations, prepare_aggregated, prepare_emonet  # noqa: E402

from emo_lobes.inference.adapters.emonet import (  # noqa: E402
    EXPERIMENT_FILE,
    build_emonet,
    mean_grid_log_probs,
    relative_frame_lengths,
    score_valid_slots,
    segment_grid,
)
from emo_lobes.data.audio import load_audio  # noqa: E402
from emo_lobes.data.declarations import check_corpus_folders, copy_run_splits  # noqa: E402
from emo_lobes.training.brain import EmoLobesBrain, unwrap_module  # noqa: E402
from emo_lobes.training.checkpoints import AtomicCheckpointer, load_tensors  # noqa: E402
from emo_lobes.inference.packaging import package_after_run  # noqa: E402
from emo_lobes.training.distributed import gather_in_dataset_order, leave_process_group, process_rank_and_count  # noqa: E402
from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.training.hparams_check import load_hparams_checked  # noqa: E402
from emo_lobes.training.run_lock import lock_output_folder  # noqa: E402
from emo_lobes.inference.classifier import experiment_recipe  # noqa: E402
from emo_lobes.lobes.adapters import (  # noqa: E402
    domain_parameter_names,
    domain_state_dict,
    freeze_shared_parameters,
    load_domain_state_dict,
    load_shared_state_dict,
    parameter_counts,
    shared_state_dict,
)
from emo_lobes.training.lr_levels import budget_level, inverse_time_decay  # noqa: E402
from emo_lobes.data.manifest import load_manifest, write_json_atomic  # noqa: E402
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results  # noqa: E402
from emo_lobes.training.round_robin import ChainedBatchSampler, MultiCorpusDataset, RoundRobinBatchSampler  # noqa: E402
from emo_lobes.training.class_weights import inverse_frequency_weights  # noqa: E402
from emo_lobes.training.precise_bn import recompute_batch_norm_statistics  # noqa: E402
from emo_lobes.lobes.frozen import keep_frozen_batch_norms_in_eval  # noqa: E402

RECIPE = "EmoNet"
#: File a finished run leaves for transfer runs, and the kind it declares.
SHARED_MODEL_FILE = "shared_model.ckpt"
SHARED_MODEL_KIND = "emonet-shared-model"
#: Each corpus's test metrics after the round-robin phase; written after shared_model.ckpt, it marks that phase done.
BEFORE_FINETUNE_FILE = "before_finetune.json"
#: Hparams that fix the shared architecture; a pre-trained model must match them.
ARCHITECTURE_KEYS = ("n_mels", "stem_channels", "stack_channels", "blocks_per_stack", "use_adapters",
                     "attention_size", "shared_attention")
#: Decimals of the per-utterance class probabilities in test_results.json.
PROBABILITY_DECIMALS = 5


class EmoNetBrain(EmoLobesBrain):
    """Trains and evaluates :class:`~emo_lobes.lobes.emonet.EmoNet` on batches tagged with their domain.

    Extra hparams (set per training phase in ``__main__``): ``domains`` (list of dicts with ``name``,
    ``index``, ``labels``, ``class_weights``), ``epoch_counter``, ``chunk_draws``, ``has_dev`` and, for budgeted
    multi-domain training, ``rounds_per_level`` (None: the counter's dev-plateau level is used, or, without a dev
    set, ``no_dev_epochs_per_level`` epochs per level).
    Under torchrun each process trains on its share of every batch and scores its share of dev and test; the
    predictions of all processes are gathered (in dataset order) before metrics, the loss averaged over processes.
    """

    def compute_forward(self, batch, stage):
        """Log mel spectrogram -> EmoNet of the batch's domain -> log probabilities.

        Outside training, with ``eval_segment_duration`` set, each utterance is scored in consecutive segments of
        at most that many seconds (Section 5.1's 5 s bound) and its log probabilities are those of the mean of its
        segments' probabilities (:func:`segment_grid`, :func:`mean_grid_log_probs`: the inference adapter's and the
        exported model's cut; only the valid slots are scored: :func:`score_valid_slots`).
        """
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        wavs, wav_lens = self.augmentation.waveforms(wavs, wav_lens, stage)  # off in the paper
        # outside training the bare model: processes score different numbers of batches, and a DDP forward
        # would wait for the others to broadcast batch norm buffers
        model = self.modules.model if stage == sb.Stage.TRAIN else unwrap_module(self.modules.model)
        segment = getattr(self.hparams, "eval_segment_duration", None)
        if stage == sb.Stage.TRAIN or not segment or model.training:  # training, or the precise-BN pass
            return self.score_waveforms(model, wavs, wav_lens, int(batch.domain[0]), stage)
        segments, segment_lens, valid = segment_grid(wavs, wav_lens, int(round(segment * self.hparams.sample_rate)))
        self.segments_scored = int(valid.sum())  # for tests and logs: how many segments the last batch held
        log_probs, = score_valid_slots(
            lambda x, lens: (self.score_waveforms(model, x, lens, int(batch.domain[0]), stage),), segments,
            segment_lens, valid)
        return mean_grid_log_probs(log_probs, valid)

    def score_waveforms(self, model, wavs, wav_lens, domain, stage=sb.Stage.TEST):
        """Log probabilities ``[batch, classes]`` of padded waveforms ``wavs`` with relative lengths ``wav_lens``
        (their features masked by ``feature_augment`` when ``stage`` is training)."""
        feats = self.modules.compute_features(wavs)
        hop = self.hparams.sample_rate * self.hparams.hop_length // 1000
        # Exact frame counts (STFT with center=True: samples // hop + 1), so padding changes nothing.
        lengths = relative_frame_lengths(wav_lens, wavs.shape[1], hop, feats.shape[1])
        feats = self.augmentation.features(feats, lengths, stage)
        return model(feats, lengths, domain)

    def compute_objectives(self, log_probs, batch, stage):
        """Class-weighted cross-entropy (Section 4.3); records predictions and probabilities outside training."""
        domain = int(batch.domain[0])
        targets = batch.label_index.to(self.device)
        weights = self.domain_info[domain]["class_weights"].to(self.device)
        log_probs = log_probs.float()
        loss = F.nll_loss(log_probs, targets, weight=weights)
        if stage != sb.Stage.TRAIN:
            labels = self.domain_info[domain]["labels"]
            probabilities = log_probs.detach().exp().cpu().tolist()
            for utt_id, wav, corpus, true, probs in zip(batch.id, batch.rel_wav, batch.corpus, targets.tolist(),
                                                        probabilities):
                self.predictions[domain].append({
                    "id": utt_id, "wav": wav, "corpus": corpus, "true": labels[true],
                    "pred": labels[max(range(len(probs)), key=probs.__getitem__)],
                    "probs": [round(p, PROBABILITY_DECIMALS) for p in probs]})
        return loss

    def on_fit_start(self):
        """Start the per-epoch dev metrics record, then SpeechBrain's start (optimiser, checkpoint recovery)."""
        self.dev_history = {}
        super().on_fit_start()

    def fit(self, epoch_counter, train_set, valid_set=None, *args, train_loader_kwargs=None, **kwargs):
        """SpeechBrain's fit; the training set is kept for the precise batch-norm pass (:meth:`precise_bn`)."""
        self.bn_train_set = train_set
        self.bn_loader_kwargs = dict(train_loader_kwargs or {})
        return super().fit(epoch_counter, train_set, valid_set, *args, train_loader_kwargs=train_loader_kwargs,
                           **kwargs)

    def precise_bn(self, epoch):
        """Recompute every batch norm's running statistics with the epoch's final weights (hparam ``precise_bn``).

        One pass over this epoch's training chunks in train mode (no gradients, dropout off), the statistics a
        cumulative average over the batches (:func:`~emo_lobes.training.precise_bn.recompute_batch_norm_statistics`),
        before dev is scored and the epoch checkpointed: the exponential running average of lr-0.1 training with a
        few steps per epoch lags far behind the weights, and eval mode (dev, test, every loaded checkpoint) then
        normalises with wrong statistics. Single corpus: the batches are drawn in an order of their own (seeded by
        seed and epoch, no global generator used). Round-robin multi-domain phases: every corpus's training set,
        corpus after corpus, in its current pass's order (:meth:`RoundRobinBatchSampler.whole_pass`), so each
        corpus's own batch norms get their statistics from that corpus only. Every process passes the whole set,
        so all get the same statistics.
        """
        if not getattr(self.hparams, "precise_bn", False):
            return
        dataset = getattr(self, "bn_train_set", None)
        if dataset is None:
            return
        rounds = self.bn_loader_kwargs.get("batch_sampler")
        if isinstance(rounds, RoundRobinBatchSampler):
            # batches built here, not by a DataLoader (whose iterator would draw from the global generator)
            loader = (PaddedBatch([dataset[key] for key in keys]) for keys in rounds.whole_pass(epoch))
        elif rounds is not None:  # another batch sampler (none of this recipe's phases): its keys are its own
            return
        else:
            generator = torch.Generator().manual_seed(int(self.hparams.seed) * 100003 + int(epoch))
            batch_size = self.bn_loader_kwargs.get("batch_size", self.hparams.batch_size)
            loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator,
                                                 collate_fn=PaddedBatch, drop_last=len(dataset) % batch_size == 1)
        recompute_batch_norm_statistics(unwrap_module(self.modules.model), loader,
                                        lambda batch: self.compute_forward(batch, sb.Stage.VALID))

    def _train_loader_specifics(self, dataset, loader_kwargs):
        """Leave a :class:`RoundRobinBatchSampler` as it is: it shards itself (SpeechBrain would deal whole batches,
        i.e. whole corpora, to the processes)."""
        batch_sampler = loader_kwargs.get("batch_sampler")
        if isinstance(batch_sampler, RoundRobinBatchSampler):
            self.train_sampler = batch_sampler  # SpeechBrain calls its set_epoch before each epoch
            return loader_kwargs
        return super()._train_loader_specifics(dataset, loader_kwargs)

    def on_fit_batch_start(self, batch, should_step):
        """Keep frozen batch norms in eval mode; set this step's learning rate: level (dev plateau, round or epoch
        budget) with per-step decay.

        SpeechBrain puts every module in train mode at each epoch's start; the batch norms of frozen parts (the
        backbone of the head-only baseline) go back to eval mode, so their running statistics stay as pre-trained.
        """
        keep_frozen_batch_norms_in_eval(self.modules.model)
        rounds_per_level, levels = self.hparams.rounds_per_level, self.hparams.lr_levels
        if rounds_per_level:  # multi-domain: one round (a batch of each corpus) is one schedule step
            step = self.optimizer_step // len(self.hparams.domains)
            lr = levels[budget_level(step, rounds_per_level, len(levels))]
        elif not self.hparams.has_dev:  # no dev set: each level lasts no_dev_epochs_per_level epochs
            step = self.optimizer_step
            epochs_done = self.hparams.epoch_counter.current - 1
            lr = levels[budget_level(epochs_done, self.hparams.no_dev_epochs_per_level, len(levels))]
        else:
            step = self.optimizer_step
            lr = self.hparams.epoch_counter.lr
        self.current_lr = inverse_time_decay(lr, self.hparams.lr_decay, step)
        for group in self.optimizer.param_groups:
            group["lr"] = self.current_lr

    def on_stage_start(self, stage, epoch=None):
        """Index the phase's domains, reset the collected predictions, and set the training chunks' pass."""
        self.domain_info = {domain["index"]: domain for domain in self.hparams.domains}
        self.predictions = defaultdict(list)
        if stage == sb.Stage.TRAIN:
            self.hparams.chunk_draws.set_pass(epoch - 1)  # single corpus: one pass per epoch (round-robin: per key)

    def stage_metrics(self):
        """Per-domain :func:`classification_metrics` of the predictions of every process, with the predictions."""
        results = {}
        for domain in sorted(self.domain_info):  # the same order on every process: gathering is collective
            predictions = gather_in_dataset_order(self.predictions[domain])
            if predictions:
                metrics = classification_metrics([p["true"] for p in predictions], [p["pred"] for p in predictions],
                                                 labels=self.domain_info[domain]["labels"])
                results[domain] = dict(metrics, predictions=predictions)
        return results

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, move the lr level on dev UAR, checkpoint (best dev UAR and latest kept), keep test metrics.

        The lr-level counter is updated before the checkpoint is saved, so a resumed run follows the same schedule.
        """
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        stage_loss = self.loss_over_processes(stage_loss)
        metrics = self.stage_metrics()
        mean_uar = sum(m["ua"] for m in metrics.values()) / len(metrics)
        self.last_metrics, self.last_loss = metrics, stage_loss
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

    def _fit_valid(self, valid_set, epoch, enable):
        """Without a dev set (``dev: none``): log the epoch and checkpoint it, the latest kept; else SpeechBrain's
        validation (whose :meth:`on_stage_end` logs, moves the lr level and checkpoints). Both after the precise
        batch-norm pass (:meth:`precise_bn`)."""
        self.precise_bn(epoch)
        if valid_set is not None:
            return super()._fit_valid(valid_set, epoch, enable)
        self.hparams.train_logger.log_stats(
            stats_meta={"phase": self.hparams.phase, "epoch": epoch, "lr": round(self.current_lr, 6)},
            train_stats={"loss": round(self.train_loss, 4)},
        )
        self.checkpointer.save_and_keep_only(meta={"epoch": epoch}, num_to_keep=1)
        return None


class ChunkDraws:
    """Where training chunks start: one generator per (seed, pass, utterance), the same in any process.

    A chunk depends on the run's seed, the pass through the corpus (the epoch, or a corpus's pass in round-robin
    training) and the utterance only, so it is the same with or without loader workers, under torchrun and in a
    resumed run (Python's global generator differs in each loader worker, and after a mid-epoch resume).

    Arguments
    ---------
    seed : int
        The run's seed.

    Example
    -------
    >>> draws = ChunkDraws(1986)
    >>> draws.set_pass(2)
    >>> first = draws.generator("utt1").random()
    >>> first == draws.generator("utt1").random(), first == ChunkDraws(1986).generator("utt1").random()
    (True, False)
    """

    def __init__(self, seed):
        self.seed = int(seed)
        self.pass_index = 0

    def set_pass(self, pass_index):
        """Draw the chunks of pass ``pass_index`` (0-based) from now on."""
        self.pass_index = int(pass_index)

    def generator(self, utt_id):
        """A ``random.Random`` for ``utt_id``'s chunk in the current pass."""
        return random.Random(f"{self.seed}/{self.pass_index}/{utt_id}")


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



def load_partition(path, roots):
    """A prep manifest with each entry's ``{data_root}`` filled with its corpus's root (pooled sets mix corpora).

    Arguments
    ---------
    path : str
        A manifest of :mod:`prepare` (entries carry ``corpus``).
    roots : dict
        ``{corpus name: corpus root}``.

    Returns
    -------
    dict
        ``{id: entry}``, ``wav`` absolute.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.manifest import write_manifest
    >>> path = write_manifest([{"id": "a", "wav": "x/a.wav", "corpus": "gemep"},
    ...                        {"id": "b", "wav": "x/b.wav", "corpus": "masc"}], os.path.join(tempfile.mkdtemp(), "m.json"))
    >>> [e["wav"] for e in load_partition(path, {"gemep": "/d/GEMEP", "masc": "/d/MASC"}).values()]
    ['/d/GEMEP/x/a.wav', '/d/MASC/x/b.wav']
    """
    data = load_manifest(path)
    placeholder = "{data_root}"
    for utt, entry in data.items():
        if entry.get("corpus") not in roots:
            raise EmoLobesError(f"manifest {path} holds utterance {utt} of corpus {entry.get('corpus')}, which this "
                                f"run does not use ({', '.join(roots)})",
                                "drop --skip_prep=True, or point --prep_folder at this run's own prep folder")
        if str(entry["wav"]).startswith(placeholder):
            entry["wav"] = roots[entry["corpus"]] + entry["wav"][len(placeholder):]
    return data


def corpus_datasets(hparams, prep_paths, roots, domain_index, audio_cache=None, chunk_draws=None):
    """Train/valid/test DynamicItemDatasets of one domain, with audio, label and domain pipelines.

    Training takes a random ``train_chunk_duration`` chunk of longer utterances (only those frames are read
    when the file is not cached), placed by ``chunk_draws`` (a :class:`ChunkDraws`); evaluation takes the whole
    utterance up to ``eval_max_duration`` seconds, which :meth:`EmoNetBrain.compute_forward` scores in segments of
    at most ``eval_segment_duration`` seconds (Section 5.1's 5 s bound).

    ``roots`` maps each corpus name of the manifests to its root (one corpus, or the pooled corpora of an
    arousal/valence domain). Every item also gives ``rel_wav`` and ``corpus``, which predictions carry.

    Returns
    -------
    datasets : dict
        ``train``, ``valid`` (an empty list without a dev set), ``test``, and the ``chunk_draws`` of the training
        set.
    labels : list of str
        The domain's class labels, index order.
    """
    with open(prep_paths["labels"], encoding="utf-8") as labels_file:
        labels = json.load(labels_file)
    index_of = {label: index for index, label in enumerate(labels)}
    sample_rate = hparams["sample_rate"]
    cache = audio_cache if audio_cache is not None else AudioCache(0)
    draws = chunk_draws if chunk_draws is not None else ChunkDraws(hparams.get("seed", 0))

    @sb.utils.data_pipeline.takes("id", "wav", "sample_rate", "duration")
    @sb.utils.data_pipeline.provides("sig")
    def train_audio(utt_id, wav, file_rate, duration):
        chunk = hparams["train_chunk_duration"]
        sig = cache.get(wav, file_rate, sample_rate)
        if sig is not None:
            start, stop = random_chunk(len(sig), int(chunk * sample_rate), draws.generator(utt_id))
            return sig[start:stop]
        start, stop = random_chunk(int(round(duration * file_rate)), int(chunk * file_rate), draws.generator(utt_id))
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

    datasets = {"chunk_draws": draws}
    for part in ("train", "valid", "test"):
        entries = load_partition(prep_paths[part], roots)
        if not entries:  # no dev set (dev: none): an empty partition
            datasets[part] = []
            continue
        dataset = sb.dataio.dataset.DynamicItemDataset(entries)
        if part != "train" or hparams.get("sorting") == "ascending":
            dataset = dataset.filtered_sorted(sort_key="duration")  # less padding; results do not depend on it
        dataset.add_dynamic_item(train_audio if part == "train" else eval_audio)
        dataset.add_dynamic_item(label_pipeline)
        dataset.add_dynamic_item(domain_pipeline)
        dataset.set_output_keys(["id", "sig", "label_index", "domain", "rel_wav", "corpus"])
        datasets[part] = dataset
    return datasets, labels


def prep_split_info(prep_paths):
    """``{corpus: split info}`` of the split(s) the prep used (``CorpusData.split_info()``: name, method, fold,
    ``speaker_independent``, ``allow_speaker_overlap``, sizes ...)."""
    with open(prep_paths["split"], encoding="utf-8") as split_file:
        split = json.load(split_file)
    if "corpora" in split:  # a pooled arousal/valence domain: one split per corpus
        return split["corpora"]
    return {split["corpus"]: {key: value for key, value in split.items() if key not in ("corpus", "counts")}}


def train_loader_options(hparams, dataset):
    """Training loader options: shuffled unless ``sorting: ascending`` (SpeechBrain's sampler; ``DistributedSampler``
    under torchrun, which reads ``sorting`` from the hparams too).

    The last batch is dropped when it would hold a single utterance (batch norm cannot train on one example);
    under torchrun this is judged on each process's share of the set.
    """
    _, processes = process_rank_and_count()
    per_process = math.ceil(len(dataset) / processes)
    return {"batch_size": hparams["batch_size"], "shuffle": hparams["sorting"] == "random",
            "num_workers": hparams["num_workers"],
            "drop_last": per_process % hparams["batch_size"] == 1}


def eval_loader_options(hparams):
    """Dev/test loader options: in order (``EmoLobesBrain`` shares the set out between processes)."""
    return {"batch_size": hparams["eval_batch_size"], "num_workers": hparams["num_workers"]}


def architecture(hparams):
    """The hparams that fix the shared architecture (saved with a shared model, checked on transfer)."""
    return {key: hparams[key] for key in ARCHITECTURE_KEYS}


def save_shared_model(model, hparams, domains, path):
    """Write the shared parameters and each domain's adapters/batch norms for later transfer runs (tensors only)."""
    model = unwrap_module(model)
    torch.save({
        "kind": SHARED_MODEL_KIND,
        "architecture": architecture(hparams),
        "source_corpora": [domain["name"] for domain in domains],
        "shared_state": shared_state_dict(model),
        "domain_states": {domain["name"]: domain_state_dict(model, domain["index"], exclude=("heads",))
                          for domain in domains},
    }, path + ".tmp")
    os.replace(path + ".tmp", path)  # a kill while writing leaves no half-written model behind


def load_shared_model(pretrained_folder, hparams):
    """Read ``<pretrained_folder>/shared_model.ckpt`` (tensors only); one-line errors when it is missing or of
    another kind."""
    folder = str(pretrained_folder)
    path = os.path.join(folder, SHARED_MODEL_FILE)
    fix = "pass --pretrained_folder=<output_folder of a finished EmoNet scratch or multidomain run>"
    if os.path.isfile(folder):
        raise EmoLobesError(f"pretrained_folder {folder} is a file, not a run's output folder", fix)
    recipe = experiment_recipe(folder) if os.path.isdir(folder) else None
    if recipe not in (None, RECIPE):
        raise EmoLobesError(f"pretrained_folder {folder} is a {recipe} experiment, not an {RECIPE} one", fix)
    if not os.path.isfile(path):
        raise EmoLobesError(f"no {SHARED_MODEL_FILE} in pretrained_folder {folder}", fix)
    try:
        saved = load_tensors(path)
    except EmoLobesError:
        raise EmoLobesError(f"{path} is not a readable {RECIPE} shared model", fix) from None
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


def start_phase(hparams, phase_number):
    """Seed every generator for training phase ``phase_number`` (0, 1, ...) from the run's seed.

    A re-run that skips finished phases then starts the next one in the state an uninterrupted run has there.
    The brains of earlier phases are collected first: their DDP wrappers must not outlive them.
    """
    gc.collect()
    sb.utils.seed.seed_everything(hparams["seed"] + phase_number, verbose=False)


def no_dev_epochs(hparams):
    """Epochs of a training phase without a dev set: ``no_dev_epochs_per_level`` at each lr level, at most
    ``max_epochs`` (the safety cap of every phase).

    Example
    -------
    >>> no_dev_epochs({"no_dev_epochs_per_level": 50, "lr_levels": [0.1, 0.01, 0.001], "max_epochs": 3000})
    150
    """
    return min(int(hparams["no_dev_epochs_per_level"]) * len(hparams["lr_levels"]), int(hparams["max_epochs"]))


def make_brain(hparams, run_opts, model, domains, phase, patience_counter=None, rounds_per_level=None,
               chunk_draws=None, has_dev=True):
    """One EmoNetBrain for a training phase, with its own checkpoint folder (``save/<phase>``) and epoch counter.

    The hparams' ``checkpointer`` gives the checkpoint class and what every phase saves (the random generators);
    each phase adds its model and counter (SpeechBrain adds the optimiser and the training loader's position).
    Without a dev set (``has_dev`` False) the counter's limit is :func:`no_dev_epochs` and the plateau rule is
    not used.
    """
    counter = patience_counter or (hparams["epoch_counter"]() if has_dev
                                   else hparams["epoch_counter"](limit=no_dev_epochs(hparams)))
    template = hparams["checkpointer"]
    checkpointer = type(template)(os.path.join(template.checkpoints_dir, phase),
                                  recoverables=dict(template.recoverables, model=model, counter=counter))
    phase_hparams = dict(hparams, domains=domains, epoch_counter=counter, phase=phase, has_dev=has_dev,
                         rounds_per_level=rounds_per_level, chunk_draws=chunk_draws or ChunkDraws(hparams["seed"]))
    if rounds_per_level and len(domains) > 1:
        # each round-robin step trains one domain's adapters, batch norms and head: DDP must expect unused ones
        phase_hparams["find_unused_parameters"] = True
    modules = {"model": model, "compute_features": hparams["compute_features"]}
    return EmoNetBrain(modules, hparams["opt_class"], phase_hparams, run_opts, checkpointer)


def evaluate_points(brain, datasets, hparams):
    """Test (and re-score dev) at the final epoch and at the best-dev checkpoint (Table 3's two points).

    Without a dev set the final epoch is the only point (``best`` is the same dict, ``dev`` None).

    Returns
    -------
    dict
        ``{"final": {"dev": metrics, "test": metrics}, "best": {...}}`` for the brain's single domain, where each
        metrics dict holds ``predictions`` and ``epoch`` (test: also the test ``loss``).
    """
    points = {}
    options = eval_loader_options(hparams)
    has_dev = brain.hparams.has_dev
    for point, max_key in (("final", None), ("best", "UAR")):
        checkpoint = brain.checkpointer.find_checkpoint(max_key=max_key)
        epoch = checkpoint.meta["epoch"] if checkpoint is not None else brain.hparams.epoch_counter.current
        if point == "best" and (not has_dev or epoch == points["final"]["test"]["epoch"]):
            points["best"] = points["final"]  # the final epoch is the best one (or the only one): same scores
            break
        brain.evaluate(datasets["test"], max_key=max_key, test_loader_kwargs=options)
        points[point] = {"test": dict(next(iter(brain.last_metrics.values())), epoch=epoch,
                                      loss=round(brain.last_loss, 6))}
        if not has_dev:
            points[point]["dev"] = None
            continue
        if epoch not in brain.dev_history:  # e.g. a resumed run: score dev again
            brain.evaluate(datasets["valid"], max_key=max_key, test_loader_kwargs=options)
            brain.dev_history[epoch] = brain.last_metrics
        points[point]["dev"] = dict(next(iter(brain.dev_history[epoch].values())), epoch=epoch)
    return points


def write_corpus_results(path, points, domain, hparams, extra=None):
    """``test_results.json`` of one corpus (main process): best-dev test metrics at the top, both points under
    best/final."""
    best_test = dict(points["best"]["test"])
    predictions = best_test.pop("predictions")
    # Predictions kept for the final test only (the best-dev ones are the top-level predictions).
    summary = {point: {part: None if m is None else
                       {k: v for k, v in m.items() if k != "predictions" or (point, part) == ("final", "test")}
                       for part, m in parts.items()} for point, parts in points.items()}
    selection = "best dev UAR" if domain["has_dev"] else "last epoch (no dev set)"
    if if_main_process():
        write_test_results(path, {k: v for k, v in best_test.items() if k not in ("epoch", "loss")}, predictions,
                           extra=dict({"recipe": RECIPE, "corpus": domain["name"], "mode": hparams["mode"],
                                       "fold": hparams["fold"], "seed": hparams["seed"], "split": domain["split"],
                                       "selection": selection, "best_epoch": best_test["epoch"],
                                       "test_loss": best_test["loss"], "best": summary["best"],
                                       "final": summary["final"]}, **(extra or {})))


def train_single_corpus(hparams, run_opts, model, domain, datasets, phase, phase_number=0):
    """Plateau-scheduled training of one domain (scratch, transfer, or fine-tuning after multi-domain)."""
    start_phase(hparams, phase_number)
    brain = make_brain(hparams, run_opts, model, [domain], phase, chunk_draws=datasets["chunk_draws"],
                       has_dev=domain["has_dev"])
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"] if domain["has_dev"] else None,
              train_loader_kwargs=train_loader_options(hparams, datasets["train"]),
              valid_loader_kwargs=eval_loader_options(hparams))
    return brain, evaluate_points(brain, datasets, hparams)


def _add_domain(hparams, domains, corpus_data, name, prep_paths, roots, audio_cache, chunk_draws):
    """Build one domain's datasets and class weights from its manifests."""
    index = len(domains)
    datasets, labels = corpus_datasets(hparams, prep_paths, roots, index, audio_cache, chunk_draws)
    train_entries = load_manifest(prep_paths["train"]).values()
    class_weights = inverse_frequency_weights([labels.index(e["emotion"]) for e in train_entries], len(labels))
    domains.append({"name": name, "index": index, "labels": labels, "class_weights": class_weights,
                    "split": prep_split_info(prep_paths), "has_dev": len(datasets["valid"]) > 0})
    corpus_data.append(datasets)
    if if_main_process():  # <output_folder>/splits/<corpus>.json: the splits this run used
        copy_run_splits(os.path.dirname(prep_paths["train"]), hparams["output_folder"])


def dataio_prep(hparams, declarations, aggregate_targets=None):
    """Prepare the data (under run_on_main) and build the datasets of each domain, in order.

    Without ``aggregate_targets`` each declared corpus is a domain (its own labels and split, prep folder
    ``prep/<name>``). With them, each target (``arousal``, ``valence``) is a domain pooling every corpus mapped with
    Table 2 (modes 4 and 5; prep folder ``prep/aggregated_<target>``). Each corpus's split is copied to
    ``<output_folder>/splits/<name>.json``.

    Arguments
    ---------
    hparams : dict
        The run's hparams.
    declarations : dict
        ``{name: CorpusDeclaration}`` (:func:`prepare.emonet_declarations`).
    aggregate_targets : list of str, optional
        The pooled targets.

    Returns
    -------
    domains : list of dict
        ``name``, ``index``, ``labels``, ``class_weights`` (inverse training frequency), ``split`` (``{corpus:
        split info}``), ``has_dev``.
    corpus_data : list of dict
        Each domain's ``train``/``valid``/``test`` datasets and the ``chunk_draws`` (one for all domains).
    """
    domains, corpus_data, audio_cache = [], [], AudioCache(hparams["audio_cache_mb"])
    chunk_draws = ChunkDraws(hparams["seed"])
    roots = {name: decl.folder for name, decl in declarations.items()}
    common = {"fold": hparams["fold"], "seed": hparams["seed"]}
    if aggregate_targets:
        for target in aggregate_targets:
            save_folder = os.path.join(hparams["prep_folder"], f"aggregated_{target}")
            args = [target, declarations, save_folder]
            run_on_main(prepare_aggregated, args=args, kwargs=dict(common, skip_prep=hparams["skip_prep"]))
            prep_paths = prepare_aggregated(*args, **common, skip_prep=True)
            _add_domain(hparams, domains, corpus_data, target, prep_paths, roots, audio_cache, chunk_draws)
        return domains, corpus_data
    for name, declaration in declarations.items():
        save_folder = os.path.join(hparams["prep_folder"], name)
        run_on_main(prepare_emonet, args=[declaration, save_folder], kwargs=dict(common, skip_prep=hparams["skip_prep"]))
        prep_paths = prepare_emonet(declaration, save_folder, **common, skip_prep=True)
        _add_domain(hparams, domains, corpus_data, name, prep_paths, {name: roots[name]}, audio_cache, chunk_draws)
    return domains, corpus_data


def run_domains(hparams):
    """``(declarations, aggregate targets)`` of the run, checked against its mode (one-line errors).

    The corpora are ``corpus`` (a name, a list of names, or null: every corpus declared in ``corpora``), each
    declared by ``corpora.<name>`` where given, with EmoNet's defaults (:func:`prepare.emonet_declarations`).
    """
    if hparams["mode"] not in ("scratch", "transfer", "multidomain"):
        raise EmoLobesError(f"unknown mode '{hparams['mode']}'", "use scratch, transfer or multidomain")
    if hparams["sorting"] not in ("random", "ascending"):
        raise EmoLobesError(f"unknown sorting '{hparams['sorting']}'", "use random or ascending")
    targets = list(hparams.get("aggregate_targets") or [])
    declarations = emonet_declarations(hparams["corpora"], hparams["data_folder"], hparams["corpus"],
                                       hparams["default_split"], hparams["split_file"], hparams["split"])
    check_corpus_folders(declarations, hparams["data_folder"])
    n_domains = len(targets) if targets else len(declarations)
    if (hparams["mode"] == "multidomain") != (n_domains > 1):
        what = f"{n_domains} corpora ({', '.join(declarations)})" if not targets else f"{n_domains} target(s)"
        raise EmoLobesError(f"mode {hparams['mode']} with {what}",
                            "multidomain needs at least two corpora (--corpus=[a, b]) or targets; scratch and "
                            "transfer need one (--corpus=NAME)")
    return declarations, targets


def write_experiment_info(hparams, domains, phases):
    """``experiment.json``: the recipe, mode and each domain's name, labels and checkpoint folder (for inference)."""
    write_json_atomic({"recipe": RECIPE, "mode": hparams["mode"], "fold": hparams["fold"], "seed": hparams["seed"],
                       "domains": [{"name": domain["name"], "labels": domain["labels"], "phase": phase}
                                   for domain, phase in zip(domains, phases)]},
                      os.path.join(hparams["output_folder"], EXPERIMENT_FILE))


def prepare_transfer(hparams, model, pretrained):
    """Load the pre-trained shared model into ``model``, freeze what ``tune`` leaves fixed and, for the head-only
    and full fine-tuning baselines, put ``baseline_lr_levels`` in place of ``lr_levels`` (in ``hparams``)."""
    tune = hparams["tune"]
    if tune not in ("adapters", "head", "all"):
        raise EmoLobesError(f"unknown tune '{tune}'", "use adapters, head or all")
    problems = load_shared_state_dict(model, pretrained["shared_state"])
    if problems:
        raise EmoLobesError(f"pre-trained shared model does not fit: {problems[0]}",
                            "use the same architecture hparams as the pre-training run")
    if tune in ("head", "all"):  # the baselines start from the source corpus's adapters and batch norms
        source = hparams["source_corpus"] or pretrained["source_corpora"][0]
        if source not in pretrained["domain_states"]:
            raise EmoLobesError(f"source corpus {source} is not in the pre-trained model "
                                f"({', '.join(pretrained['source_corpora'])})", "pass --source_corpus=<one of them>")
        load_domain_state_dict(model, pretrained["domain_states"][source], 0, exclude=("heads",))
    if tune in ("head", "all"):  # Section 5.2.2: both baselines start at the reduced lr 0.01
        hparams["lr_levels"] = list(hparams["baseline_lr_levels"])
        hparams["epoch_counter"] = functools.partial(hparams["epoch_counter"], levels=hparams["lr_levels"])
    if tune == "adapters":
        freeze_shared_parameters(model)
    elif tune == "head":
        set_trainable(model, [name for name in domain_parameter_names(model, 0) if name.startswith("heads.")])


def round_robin_phase(hparams, run_opts, model, domains, corpus_data):
    """Phase 1 of multi-domain training: round-robin over the corpora, lr levels after fixed round budgets
    (Section 5.2.2); writes ``shared_model.ckpt`` and each corpus's test metrics at its end.

    When a previous run finished this phase, its last checkpoint is loaded into ``model`` instead.

    Returns
    -------
    dict
        Each domain's test metrics after this phase (``before_finetune``).
    """
    output = hparams["output_folder"]
    before_path, shared_path = os.path.join(output, BEFORE_FINETUNE_FILE), os.path.join(output, SHARED_MODEL_FILE)
    phase_folder = os.path.join(hparams["checkpointer"].checkpoints_dir, "multidomain")
    if os.path.isfile(before_path) and os.path.isfile(shared_path):
        if AtomicCheckpointer(phase_folder, {"model": model}).recover_if_possible() is not None:
            sb.utils.logger.get_logger(__name__).info(f"Phase multidomain: done already ({before_path})")
            with open(before_path, encoding="utf-8") as before_file:
                return json.load(before_file)
    total_rounds = hparams["rounds_per_level"] * len(hparams["lr_levels"])
    if total_rounds % hparams["rounds_per_epoch"]:
        raise EmoLobesError(f"rounds_per_epoch {hparams['rounds_per_epoch']} does not divide the "
                            f"{total_rounds} rounds of training", "pick a divisor of rounds_per_level")
    start_phase(hparams, 0)
    draws = corpus_data[0]["chunk_draws"]
    counter = sb.utils.epoch_loop.EpochCounter(total_rounds // hparams["rounds_per_epoch"])
    has_dev = any(domain["has_dev"] for domain in domains)  # the mean dev UAR is over the corpora that have one
    brain = make_brain(hparams, run_opts, model, domains, "multidomain", counter, hparams["rounds_per_level"], draws,
                       has_dev=has_dev)
    train_set = MultiCorpusDataset([data["train"] for data in corpus_data], set_pass=draws.set_pass)
    rounds = RoundRobinBatchSampler([len(data["train"]) for data in corpus_data], hparams["batch_size"],
                                    hparams["rounds_per_epoch"], seed=hparams["seed"],
                                    shuffle=hparams["sorting"] == "random")
    valid_set = MultiCorpusDataset([data["valid"] for data in corpus_data]) if has_dev else None
    chained = ChainedBatchSampler([len(data["valid"]) for data in corpus_data], hparams["eval_batch_size"])
    workers = hparams["num_workers"]
    brain.fit(counter, train_set, valid_set,
              train_loader_kwargs={"batch_sampler": rounds, "collate_fn": PaddedBatch, "num_workers": workers},
              valid_loader_kwargs={"batch_sampler": chained, "collate_fn": PaddedBatch, "num_workers": workers})
    before = {}
    for domain, data in zip(domains, corpus_data):
        brain.evaluate(data["test"], test_loader_kwargs=eval_loader_options(hparams))  # latest: end of round-robin
        before[domain["name"]] = {k: v for k, v in brain.last_metrics[domain["index"]].items()
                                  if k not in ("confusion", "predictions")}
    if if_main_process():
        save_shared_model(model, hparams, domains, shared_path)
        write_json_atomic(before, before_path)
    return before


def train_multidomain(hparams, run_opts, model, domains, corpus_data, extra):
    """Round-robin phase, then each corpus's adapters, batch norms and head fine-tuned with the shared model
    frozen; writes ``<corpus>/test_results.json`` per corpus and a pooled ``test_results.json``.

    A re-run skips the corpora whose results are written and resumes the interrupted phase from its checkpoint.
    """
    output = hparams["output_folder"]
    results_paths = {domain["name"]: os.path.join(output, domain["name"], "test_results.json") for domain in domains}
    finished = {name: os.path.isfile(path) for name, path in results_paths.items()}  # before any phase writes
    before = round_robin_phase(hparams, run_opts, model, domains, corpus_data)
    pooled_predictions, summary = [], {}
    for number, (domain, data) in enumerate(zip(domains, corpus_data), start=1):
        name = domain["name"]
        if finished[name]:
            sb.utils.logger.get_logger(__name__).info(f"Phase finetune_{name}: done already ({results_paths[name]})")
            with open(results_paths[name], encoding="utf-8") as results_file:
                results = json.load(results_file)
            best_predictions, best_ua, final_ua = results["predictions"], results["ua"], results["final"]["test"]["ua"]
        else:
            set_trainable(model, domain_parameter_names(model, domain["index"]))
            _, points = train_single_corpus(hparams, run_opts, model, domain, data, f"finetune_{name}", number)
            write_corpus_results(results_paths[name], points, domain, hparams, {"before_finetune": before[name]})
            best_predictions = points["best"]["test"]["predictions"]
            best_ua, final_ua = points["best"]["test"]["ua"], points["final"]["test"]["ua"]
        summary[name] = {"best_test_ua": best_ua, "final_test_ua": final_ua,
                         "before_finetune_test_ua": before[name]["ua"]}
        for prediction in best_predictions:
            pooled_predictions.append({"id": prediction["id"], "wav": prediction["wav"],
                                       "corpus": prediction["corpus"], "domain": name,
                                       "true": f"{name}:{prediction['true']}", "pred": f"{name}:{prediction['pred']}"})
    pooled_labels = [f"{d['name']}:{label}" for d in domains for label in d["labels"]]
    pooled = classification_metrics([p["true"] for p in pooled_predictions],
                                    [p["pred"] for p in pooled_predictions], labels=pooled_labels)
    if if_main_process():
        write_test_results(os.path.join(output, "test_results.json"), pooled, pooled_predictions,
                           extra=dict(extra, recipe=RECIPE, mode="multidomain", fold=hparams["fold"],
                                      seed=hparams["seed"], corpora=summary,
                                      split={corpus: info for d in domains for corpus, info in d["split"].items()},
                                      note="labels are corpus:emotion, pooled over corpora"))


if __name__ == "__main__":
    install_excepthook()
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)  # torchrun: join the process group (no-op for a single process)
    hparams = load_hparams_checked(hparams_file, overrides)
    lock_output_folder(hparams["output_folder"])  # a second run on this folder is refused in one line
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides)
    install_excepthook()  # again: create_experiment_directory installs SpeechBrain's logging hook

    # Domains: one corpus (scratch, transfer), several corpora (multidomain), or arousal/valence targets that
    # pool several corpora (aggregate_targets: one for mode 4 with scratch, two for mode 5 with multidomain).
    declarations, targets = run_domains(hparams)
    pretrained = load_shared_model(hparams["pretrained_folder"], hparams) if hparams["mode"] == "transfer" else None

    domains, corpus_data = dataio_prep(hparams, declarations, targets)

    model = build_emonet(hparams, [len(domain["labels"]) for domain in domains])
    counts = parameter_counts(model)
    multidomain = hparams["mode"] == "multidomain"
    phases = [f"finetune_{domain['name']}" for domain in domains] if multidomain else [hparams["mode"]]
    if if_main_process():
        write_json_atomic(counts, os.path.join(hparams["output_folder"], "parameter_counts.json"))
        write_experiment_info(hparams, domains, phases)
    if pretrained is not None:
        prepare_transfer(hparams, model, pretrained)

    extra = {"parameter_counts": counts,
             "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    if multidomain:
        train_multidomain(hparams, run_opts, model, domains, corpus_data, extra)
    else:
        _, points = train_single_corpus(hparams, run_opts, model, domains[0], corpus_data[0], hparams["mode"])
        if pretrained is not None:
            extra["pretrained_on"] = pretrained["source_corpora"]
        write_corpus_results(os.path.join(hparams["output_folder"], "test_results.json"), points, domains[0],
                             hparams, extra)
        if if_main_process():
            save_shared_model(model, hparams, domains, os.path.join(hparams["output_folder"], SHARED_MODEL_FILE))
    package_after_run(hparams["output_folder"])  # <output_folder>/model: EmotionClassifier.from_hparams
    leave_process_group()
