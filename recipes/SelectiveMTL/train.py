#!/usr/bin/env python3
"""Train and test the selective MTL SER model (Bi-LSTM + multi-head attention, style as auxiliary task) on one fold.

Run (from the repository root or from recipes/SelectiveMTL):
    python recipes/SelectiveMTL/train.py recipes/SelectiveMTL/hparams/selective_mtl.yaml --data_folder=synthetic_data
    python train.py hparams/baseline.yaml --data_folder=/data --corpus=spont --fold=3

    python -m torch.distributed.run --standalone --nproc_per_node=2 recipes/SelectiveMTL/train.py \
        recipes/SelectiveMTL/hparams/selective_mtl.yaml --data_folder=synthetic_data --distributed_backend=gloo \
        --device=cpu

The same script runs every experiment of Table 3 (baseline, combined, MTL, selective MTL, "(half)"), chosen by
the hparams file and overrides; the corpora and their splits are the hparams' ``corpora`` declarations (a baseline
uses one of them, ``--corpus=NAME``, and accepts ``--split_file=PATH``). It writes
``<output_folder>/test_results.json``: pooled metrics over the test corpora, ``per_corpus`` metrics (UA, WA,
per-class accuracy), ``corpus_mean`` (UA and WA averaged over the corpora, as in Table 3), the style accuracy, the
split of each corpus and every test prediction (``id``, ``wav``, ``corpus``) with its class probabilities, and
``<output_folder>/splits/<corpus>.json``. Without a dev set (every corpus's ``split.dev: none``) it trains
``number_of_epochs`` and tests the last epoch. A killed run resumes from its newest checkpoint when the same
command is run again; under torchrun the dev and test metrics are computed on the predictions of all processes.

Authors: emo-lobes contributors, after Zhang et al. (selective MTL with style, 2021).
"""
import json
import math
import os
import sys

import speechbrain as sb
import torch
from speechbrain.utils.distributed import ddp_init_group, if_main_process, run_on_main

RECIPE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(RECIPE_DIR)))
sys.path.insert(0, RECIPE_DIR)

from emo_lobes.data.audio import load_audio  # noqa: E402
from emo_lobes.training.brain import EmoLobesBrain  # noqa: E402
from emo_lobes.inference.packaging import package_after_run  # noqa: E402
from emo_lobes.training.distributed import gather_in_dataset_order, leave_process_group  # noqa: E402
from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.training.hparams_check import load_hparams_checked  # noqa: E402
from emo_lobes.training.run_lock import lock_output_folder  # noqa: E402
from emo_lobes.data.manifest import load_manifest  # noqa: E402
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results  # noqa: E402
from prepare import PARTITIONS, manifest_name, prepare_options, prepare_selective_mtl, root_key  # noqa: E402

#: The name written as ``recipe`` in ``test_results.json`` (the inference adapter is registered under it).
RECIPE = "SelectiveMTL"
#: Decimals of the per-utterance class probabilities in ``test_results.json``.
PROBABILITY_DECIMALS = 5


def score_outcomes(outcomes, emotions, style_task):
    """Metrics of a stage from its per-utterance outcomes: pooled, per corpus, averaged over corpora, style.

    Arguments
    ---------
    outcomes : list of dict
        ``{"id", "corpus", "true", "pred", "style_true", "style_pred"}`` per utterance.
    emotions : list of str
        The emotion classes.
    style_task : bool
        Whether style predictions exist.

    Returns
    -------
    dict
        ``overall`` and ``per_corpus`` (:func:`classification_metrics` dicts), ``corpus_mean`` (``ua``, ``wa``),
        ``style_accuracy`` and ``per_corpus_style_accuracy`` (``None`` without the style task).

    Example
    -------
    >>> outs = [{"id": "a", "corpus": "iemocap", "true": "sad", "pred": "sad", "style_true": "acted",
    ...          "style_pred": "acted"},
    ...         {"id": "b", "corpus": "spont", "true": "angry", "pred": "sad", "style_true": "spontaneous",
    ...          "style_pred": "acted"}]
    >>> scores = score_outcomes(outs, ["angry", "sad", "happy", "neutral"], style_task=True)
    >>> scores["overall"]["wa"], scores["corpus_mean"], scores["style_accuracy"]
    (0.5, {'ua': 0.5, 'wa': 0.5}, 0.5)
    """
    corpora = sorted({outcome["corpus"] for outcome in outcomes})
    per_corpus = {}
    for corpus in corpora:
        mine = [outcome for outcome in outcomes if outcome["corpus"] == corpus]
        per_corpus[corpus] = classification_metrics([o["true"] for o in mine], [o["pred"] for o in mine], emotions)
    scores = {
        "overall": classification_metrics([o["true"] for o in outcomes], [o["pred"] for o in outcomes], emotions),
        "per_corpus": per_corpus,
        "corpus_mean": {key: sum(m[key] for m in per_corpus.values()) / len(per_corpus) for key in ("ua", "wa")},
        "style_accuracy": None,
        "per_corpus_style_accuracy": None,
    }
    if style_task:
        correct = lambda group: sum(o["style_true"] == o["style_pred"] for o in group) / len(group)  # noqa: E731
        scores["style_accuracy"] = correct(outcomes)
        scores["per_corpus_style_accuracy"] = {
            corpus: correct([o for o in outcomes if o["corpus"] == corpus]) for corpus in corpora
        }
    return scores


class SelectiveMTLBrain(EmoLobesBrain):
    """Emotion (and style) classification from 40 log mel filterbanks with a shared Bi-LSTM-attention encoder.

    Under torchrun each process trains on its shard of the training set and scores its shard of the dev and test
    sets; the outcomes of all processes are gathered (in the single-process order) before the metrics are
    computed, so the dev UA that chooses the best checkpoint is the same on every process, and only the main
    process writes files. Without a dev set (``has_dev`` false) each epoch ends with a checkpoint and the
    last one is tested. The selective loss zeroes the style term of neutral samples with ``torch.where``
    instead of skipping the style head, so every process runs the same graph even when its batch is all neutral
    (DDP needs no ``find_unused_parameters``).
    """

    def compute_forward(self, batch, stage):
        """Emotion logits and, with the style task, style logits."""
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        if self.hparams.paper_features:  # Section 4.1: logfbank of the zero-padded 7.5 s, no normalisation
            feats, lens = self.modules.compute_features(wavs), torch.ones_like(lens)
        else:
            feats = self.modules.mean_var_norm(self.modules.compute_features(wavs), lens)
        shared = self.modules.encoder(feats, lens)
        style_logits = self.modules.style_head(shared) if self.hparams.style_task else None
        return self.modules.emotion_head(shared), style_logits

    def compute_objectives(self, predictions, batch, stage):
        """Eq. 3 (selective when configured); keeps the predictions and probabilities of dev and test."""
        emotion_logits, style_logits = predictions
        emotions, _ = batch.emotion_encoded
        styles, _ = batch.style_encoded
        loss = self.hparams.compute_cost(emotion_logits, emotions, style_logits, styles)
        if stage != sb.Stage.TRAIN:
            probabilities = torch.softmax(emotion_logits.detach().float(), dim=-1).cpu()
            emotion_pred = probabilities.argmax(dim=-1).tolist()
            style_pred = style_logits.argmax(dim=-1).tolist() if style_logits is not None else [None] * len(batch.id)
            decode = self.hparams.emotion_encoder.ind2lab
            for index, utt in enumerate(batch.id):
                self.outcomes.append({
                    "id": utt,
                    "wav": batch.rel_wav[index],
                    "corpus": batch.corpus[index],
                    "true": decode[int(emotions[index])],
                    "pred": decode[emotion_pred[index]],
                    "probs": [round(float(p), PROBABILITY_DECIMALS) for p in probabilities[index]],
                    "style_true": batch.style[index],
                    "style_pred": None if style_pred[index] is None else self.hparams.styles[style_pred[index]],
                })
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Start collecting dev/test predictions."""
        self.outcomes = []

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, keep the best dev checkpoint (highest UA averaged over the corpora), write the test results.

        Losses and outcomes are combined over all processes first (no-ops for a single process).
        """
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            if not self.has_dev:  # no dev set: log the epoch and keep its checkpoint (the last one is tested)
                self.hparams.train_logger.log_stats({"epoch": epoch}, train_stats={"loss": stage_loss})
                self.step, self.avg_train_loss = 0, 0.0  # the epoch is over: a resumed run starts the next one
                self.checkpointer.save_and_keep_only(meta={"epoch": epoch, "train_loss": float(stage_loss)})
            return
        stage_loss = self.loss_over_processes(stage_loss)
        self.outcomes = gather_in_dataset_order(self.outcomes)
        scores = score_outcomes(self.outcomes, self.hparams.emotions, self.hparams.style_task)
        stats = {"loss": stage_loss, "ua": scores["corpus_mean"]["ua"], "wa": scores["corpus_mean"]["wa"]}
        for corpus, metrics in scores["per_corpus"].items():
            stats[f"ua_{corpus}"] = metrics["ua"]
        if scores["style_accuracy"] is not None:
            stats["style_acc"] = scores["style_accuracy"]
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                {"epoch": epoch}, train_stats={"loss": self.train_loss}, valid_stats=stats
            )
            self.checkpointer.save_and_keep_only(meta={"error": 1.0 - stats["ua"], **stats}, min_keys=["error"])
        else:
            self.hparams.train_logger.log_stats({"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats)
            self.write_results(scores, stage_loss)

    #: Whether the run has a dev set (set by the caller; without one the last epoch is tested).
    has_dev = True
    #: ``{corpus: split info}`` of the run (prep_summary.json's ``split``), recorded in test_results.json.
    split_info = None

    def write_results(self, scores, test_loss):
        """Write ``test_results.json`` (pooled metrics at the top level, the rest as extra keys), main process only."""
        hp = self.hparams
        extra = {
            "recipe": RECIPE, "experiment": hp.experiment_name, "corpora": list(self.split_info or []),
            "fold": hp.fold, "split": self.split_info,
            "tested_checkpoint": "best_dev" if self.has_dev else "last_epoch", "seed": hp.seed,
            "style_task": hp.style_task, "selective": hp.selective, "ser_weight": hp.ser_weight,
            "half_training_set": hp.half_training_set, "epoch": hp.epoch_counter.current,
            "test_loss": float(test_loss),
            **{key: scores[key] for key in ("per_corpus", "corpus_mean", "style_accuracy",
                                            "per_corpus_style_accuracy")},
        }
        predictions = [{key: value for key, value in outcome.items() if value is not None} for outcome in self.outcomes]
        if if_main_process():
            path = write_test_results(os.path.join(hp.output_folder, "test_results.json"), scores["overall"],
                                      predictions, extra)
            sb.utils.logger.get_logger(__name__).info(f"test results written to {path}")


def check_options(hparams):
    """Fail with one line when the style loss weight or the selective setting do not fit the experiment.

    Example
    -------
    >>> from emo_lobes.lobes.selective_mtl_loss import SelectiveMTLLoss
    >>> options = {"style_task": True, "ser_weight": 0.8, "selective": True, "emotions": ["angry", "neutral"],
    ...            "compute_cost": SelectiveMTLLoss(0.8, [1])}
    >>> check_options(options)
    >>> try:
    ...     check_options(dict(options, ser_weight=1.0))
    ... except EmoLobesError as e:
    ...     print(e.problem)
    ser_weight 1.0 leaves no style loss in an MTL experiment
    """
    if hparams["style_task"] and not 0.0 <= hparams["ser_weight"] < 1.0:
        raise EmoLobesError(f"ser_weight {hparams['ser_weight']} leaves no style loss in an MTL experiment",
                            "pass --ser_weight between 0 and 1 (0.8 in the paper), or use combined.yaml")
    neutral = [hparams["emotions"].index("neutral")] if hparams["selective"] else []
    if hparams["compute_cost"].style_free_classes.tolist() != neutral:
        raise EmoLobesError(f"selective is {hparams['selective']} but compute_cost.style_free_classes is "
                            f"{hparams['compute_cost'].style_free_classes.tolist()}",
                            f"give style_free_classes {neutral} (the neutral index when selective, else [])")


def dataio_prep(hparams, declarations):
    """Train, dev and test datasets over the run's corpora: audio cut to ``max_duration``, encoded labels.

    Arguments
    ---------
    hparams : dict
        The loaded hparams.
    declarations : dict
        ``{name: CorpusDeclaration}`` of the run's corpora (their folders fill the manifests' placeholders).

    Returns
    -------
    dict
        ``{"train", "dev", "test"}`` DynamicItemDatasets; ``dev`` is ``None`` when no corpus has a dev set.
    """
    max_samples = int(hparams["max_duration"] * hparams["sample_rate"])

    @sb.utils.data_pipeline.takes("wav", "sample_rate")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav, file_rate):
        # Section 4.1: only the first 7.5 s (read no more than that); shorter ones are padded per batch, masked.
        stop = int(math.ceil(hparams["max_duration"] * file_rate))
        sig = load_audio(wav, sample_rate=hparams["sample_rate"], stop=stop)[:max_samples]
        if hparams["paper_features"]:  # the paper zero-pads every utterance to 7.5 s
            sig = torch.nn.functional.pad(sig, (0, max_samples - sig.shape[0]))
        return sig

    emotion_encoder = sb.dataio.encoder.CategoricalEncoder()
    emotion_encoder.update_from_iterable(hparams["emotions"])
    style_encoder = sb.dataio.encoder.CategoricalEncoder()
    style_encoder.update_from_iterable(hparams["styles"])
    hparams["emotion_encoder"] = emotion_encoder

    @sb.utils.data_pipeline.takes("emotion", "style")
    @sb.utils.data_pipeline.provides("emotion_encoded", "style_encoded")
    def label_pipeline(emotion, style):
        yield emotion_encoder.encode_label_torch(emotion)
        yield style_encoder.encode_label_torch(style)

    datasets = {}
    for part in PARTITIONS:
        data = {}
        for name, declaration in declarations.items():
            path = os.path.join(hparams["prep_folder"], manifest_name(part, name))
            data.update(load_manifest(path, data_root=declaration.folder, data_root_key=root_key(name)))
        datasets[part] = sb.dataio.dataset.DynamicItemDataset(
            data, dynamic_items=[audio_pipeline, label_pipeline],
            output_keys=["id", "sig", "emotion_encoded", "style_encoded", "corpus", "style", "rel_wav"],
        ) if data else None
    if datasets["train"] is None or datasets["test"] is None:
        raise EmoLobesError(f"no {'training' if datasets['train'] is None else 'test'} utterance in "
                            f"{hparams['prep_folder']}", "check the corpora's splits (prep_summary.json)")
    return datasets


if __name__ == "__main__":
    install_excepthook()
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)  # torchrun: join the process group (no-op for a single process)
    hparams = load_hparams_checked(hparams_file, overrides)
    lock_output_folder(hparams["output_folder"])  # a second run on this folder is refused in one line
    check_options(hparams)
    if hparams["paper_features"]:  # the paper's front-end in place of SpeechBrain's Fbank
        hparams["modules"]["compute_features"] = hparams["paper_compute_features"]

    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides
    )
    install_excepthook()  # again: create_experiment_directory installs SpeechBrain's logging hook over ours
    options = prepare_options(hparams)
    run_on_main(prepare_selective_mtl, kwargs=options)
    datasets = dataio_prep(hparams, options["declarations"])
    with open(os.path.join(hparams["prep_folder"], "prep_summary.json"), encoding="utf-8") as summary_file:
        split_info = json.load(summary_file)["split"]

    brain = SelectiveMTLBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts=run_opts, checkpointer=hparams["checkpointer"],
    )
    brain.has_dev, brain.split_info = datasets["dev"] is not None, split_info
    brain.fit(
        brain.hparams.epoch_counter, datasets["train"], datasets["dev"],
        train_loader_kwargs=hparams["train_dataloader_options"],
        valid_loader_kwargs=hparams["valid_dataloader_options"],
    )
    # the best dev UA's checkpoint; without a dev set the newest one (the last epoch)
    brain.evaluate(datasets["test"], min_key="error" if brain.has_dev else None,
                   test_loader_kwargs=hparams["valid_dataloader_options"])
    package_after_run(hparams["output_folder"])  # <output_folder>/model: EmotionClassifier.from_hparams
    leave_process_group()
