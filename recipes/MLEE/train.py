#!/usr/bin/env python3
"""MLEE recipe: dominant-emotion and multi-label emotion existence training on IEMOCAP improvised speech.

Run (from the repository root or from recipes/MLEE):
    python recipes/MLEE/train.py recipes/MLEE/hparams/mlee.yaml --data_folder=/path/IEMOCAP_full_release
    python train.py hparams/mlee.yaml --data_folder=/path/IEMOCAP_full_release --fold=3

One Brain serves the five methods of the paper (Section 3, Table 3): ``dominant`` (hard or soft targets),
``mlee`` (sigmoid existence outputs, eq. 6 loss, eq. 7 prediction), ``mlee_pretrain`` (frozen MLEE encoder,
new classifier) and ``mlee_fusion`` (frozen MLEE and dominant encoders side by side, new classifier).
The corpus and its split are the hparams' declaration (``corpus``, ``corpora``; ``--split_file=PATH`` replaces the
split). Without a dev set (``split.dev: none``) it trains ``number_of_epochs`` and tests the last epoch. The run
writes ``test_results.json`` (predictions with ``id``, ``wav``, ``corpus``; the split info) and
``splits/<corpus>.json``.
"""
import hashlib
import json
import os
import sys

import speechbrain as sb
import torch
from speechbrain.augment.time_domain import SpeedPerturb
from speechbrain.processing.features import InputNormalization
from speechbrain.utils.distributed import ddp_init_group, if_main_process, run_on_main
from speechbrain.utils.seed import seed_everything

RECIPE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(RECIPE_DIR)))
sys.path.insert(0, RECIPE_DIR)

from emo_lobes.data.audio import load_audio  # noqa: E402
from emo_lobes.training.brain import EmoLobesBrain, unwrap_module  # noqa: E402
from emo_lobes.training.checkpoints import AtomicCheckpointer  # noqa: E402
from emo_lobes.inference.packaging import package_after_run  # noqa: E402
from emo_lobes.training.distributed import gather_in_dataset_order, gather_objects, leave_process_group  # noqa: E402
from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.lobes.existence import (  # noqa: E402
    TARGET_CODES, existence_bce_loss, existence_class_weights, predict_from_existence, soft_class_weights,
    weighted_soft_cross_entropy,
)
from emo_lobes.training.hparams_check import load_hparams_checked  # noqa: E402
from emo_lobes.training.run_lock import lock_output_folder  # noqa: E402
from emo_lobes.lobes.frozen import Frozen  # noqa: E402
from emo_lobes.data.manifest import load_manifest, write_json_atomic  # noqa: E402
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results  # noqa: E402
from prepare import TRAINING_SETS, prepare_mlee, prepare_options  # noqa: E402

#: Methods and what each trains on: its targets and which training utterances it keeps.
METHODS = ("dominant", "mlee", "mlee_pretrain", "mlee_fusion")
LABEL_TYPES = ("hard", "soft")
#: Which pre-trained experiment a frozen branch comes from (``experiment.json`` ``method``).
BRANCH_SOURCES = {"mlee": "mlee", "dominant": "dominant"}
EXPERIMENT_FILE = "experiment.json"
#: hparams that must match between a pre-trained encoder and the run that loads it (features and encoder).
ENCODER_KEYS = ("sample_rate", "win_length", "hop_length", "n_fft", "max_frequency",
                "cnn_channels", "cnn_kernels", "cnn_strides", "lstm_size", "attention_size")
#: What decides the data a pre-trained branch saw: each must match the run that loads it, or the fine-tuning
#: run's dev (or test) speaker may have been in the branch's training data (``data`` in ``experiment.json``).
DATA_KEYS = ("seed", "training_set", "include_self_evaluations", "speed_factors", "improvised_only",
             "dev_rule", "split")


class MLEEBrain(EmoLobesBrain):
    """Spectrogram -> per-branch global normalisation and encoder -> concatenation -> dense classifier.

    Under torchrun each process tests its shard of the dev and test sets; losses, predictions and attention
    weights are combined over all processes before metrics are computed and written (by the main process).
    Without a dev set (``has_dev`` false) each epoch ends with a checkpoint, no early stopping, and the last
    epoch is tested.
    """

    #: Whether the run has a dev set (set by the caller).
    has_dev = True
    #: ``{corpus: split info}`` recorded in test_results.json (set by the caller).
    split_info = None

    def compute_forward(self, batch, stage):
        """Logits ``[batch, 4]`` and the attention weights of each encoder branch."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        feats, feat_lens = self.modules.spectrogram(wavs, wav_lens)
        embeddings, attention = [], {}
        epoch = self.hparams.epoch_counter.current
        for branch in self.hparams.branches:
            normalized = self.modules[f"{branch}_normalizer"](feats, feat_lens, epoch=epoch)
            embedding, attention[branch] = self.modules[f"{branch}_encoder"](normalized, feat_lens)
            embeddings.append(embedding)
        logits = self.modules.classifier(torch.cat(embeddings, dim=1))
        feat_frames = torch.round(feat_lens * feats.shape[1]).long()
        return logits, attention, feat_frames

    def compute_objectives(self, predictions, batch, stage):
        """Weighted BCE of eq. 6 (MLEE) or weighted cross entropy of eq. 2 (hard or soft targets)."""
        logits, attention, feat_frames = predictions
        targets = batch.target.data.to(self.device)
        if self.hparams.method == "mlee":
            loss = existence_bce_loss(logits, targets, *self.existence_weights)
        else:
            loss = weighted_soft_cross_entropy(logits, targets, self.class_weights)
        if stage == sb.Stage.TEST:
            self._record_test_batch(batch, logits, attention, feat_frames)
        return loss

    def _record_test_batch(self, batch, logits, attention, feat_frames):
        """Keep predictions and each branch's attention weights (valid steps only) of test utterances."""
        if self.hparams.method == "mlee":
            predicted, probabilities = predict_from_existence(logits), torch.sigmoid(logits)
        else:
            predicted, probabilities = logits.argmax(dim=-1), torch.softmax(logits, dim=-1)
        for index, utt_id in enumerate(batch.id):
            self.test_predictions.append({
                "id": utt_id,
                "wav": batch.rel_wav[index],
                "corpus": batch.corpus[index],
                "true": TARGET_CODES[int(batch.hard_index[index])],
                "pred": TARGET_CODES[int(predicted[index])],
                "probs": [round(float(p), 5) for p in probabilities[index]],
            })
        for branch, weights in attention.items():
            steps = unwrap(self.modules[f"{branch}_encoder"]).output_lengths(feat_frames)
            for index, utt_id in enumerate(batch.id):
                self.test_attention[branch][utt_id] = weights[index, : int(steps[index])].detach().cpu()

    def on_stage_start(self, stage, epoch=None):
        """Move normalisation statistics to the device; reset the test collectors."""
        for module in self.modules.modules():
            if isinstance(module, InputNormalization):
                module.to(self.device)
        if stage == sb.Stage.TEST:
            self.test_predictions = []
            self.test_attention = {branch: {} for branch in self.hparams.branches}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, early-stop and checkpoint on the dev loss; after testing write results and attention weights.

        The early-stopping state is updated before the checkpoint is saved, so a run resumed from it stops at
        the same epoch as an uninterrupted one.
        """
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            if not self.has_dev:  # no dev set: log the epoch and keep its checkpoint (the last one is tested)
                lr = self.optimizer.param_groups[0]["lr"]
                self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch, "lr": lr},
                                                    train_stats={"loss": stage_loss})
                self.step, self.avg_train_loss = 0, 0.0  # the epoch is over: a resumed run starts the next one
                self.checkpointer.save_and_keep_only(meta={"epoch": epoch, "train_loss": float(stage_loss)})
            return
        stage_loss = self.loss_over_processes(stage_loss)
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats={"loss": self.train_loss},
                valid_stats={"loss": stage_loss},
            )
            self.hparams.epoch_counter.update_metric(stage_loss)
            self.checkpointer.save_and_keep_only(meta={"loss": stage_loss}, min_keys=["loss"])
        elif stage == sb.Stage.TEST:
            self.test_predictions = gather_in_dataset_order(self.test_predictions)
            attention = {branch: {} for branch in self.hparams.branches}
            for shard in gather_objects(self.test_attention):
                for branch, weights in shard.items():
                    attention[branch].update(weights)
            self.test_attention = attention
            self._write_test_outputs(stage_loss)

    def _write_test_outputs(self, stage_loss):
        """``test_results.json`` (metrics, per-utterance predictions) and ``attention.pt``, by the main process."""
        out = self.hparams.output_folder
        truths = [p["true"] for p in self.test_predictions]
        metrics = classification_metrics(truths, [p["pred"] for p in self.test_predictions], labels=list(TARGET_CODES))
        extra = {
            "recipe": "MLEE", "method": self.hparams.method, "label_type": describe_label(self.hparams),
            "training_set": self.hparams.training_set, "fold": self.hparams.fold, "seed": self.hparams.seed,
            "init_seed": self.hparams.init_seed,
            "test_loss": float(stage_loss), "corpus": next(iter(self.split_info)),
            "split": self.split_info, "tested_checkpoint": "best_dev" if self.has_dev else "last_epoch",
        }
        encoder = unwrap(self.modules[f"{self.hparams.branches[0]}_encoder"])
        frame_shift_s = self.hparams.hop_length / 1000.0 * encoder.frames_per_step
        if if_main_process():
            write_test_results(os.path.join(out, "test_results.json"), metrics, self.test_predictions, extra)
            torch.save(
                {"frame_shift_s": frame_shift_s, "method": self.hparams.method,
                 "label_type": describe_label(self.hparams), "branches": self.test_attention},
                os.path.join(out, "attention.pt"),
            )
        self.hparams.train_logger.log_stats(
            stats_meta={"epoch loaded": self.hparams.epoch_counter.current},
            test_stats={"loss": stage_loss, "WA": metrics["wa"], "UA": metrics["ua"]},
        )


def unwrap(module):
    """The module inside :class:`~emo_lobes.lobes.frozen.Frozen` and DDP wrappers, or the module itself."""
    module = unwrap_module(module)
    return unwrap_module(module.module) if isinstance(module, Frozen) else module


def describe_label(hparams):
    """The 'label' column of Table 3: ``hard``/``soft`` for dominant-recognition training, ``-`` for MLEE only.

    ``hparams`` is the hparams dict or the Brain's ``hparams`` namespace.
    """
    values = hparams if isinstance(hparams, dict) else vars(hparams)
    return "-" if values["method"] == "mlee" else values["label_type"]


def check_options(hparams):
    """Fail with one line on an unknown method, label type or training set."""
    for key, allowed in (("method", METHODS), ("label_type", LABEL_TYPES), ("training_set", TRAINING_SETS)):
        if hparams[key] not in allowed:
            raise EmoLobesError(f"unknown {key} '{hparams[key]}'", f"use one of {', '.join(allowed)}")


def keeps_training_utterance(hparams):
    """``{manifest key: test}`` choosing the training utterances a method learns from (Section 4.1).

    Hard targets need a dominant target emotion; soft targets need at least one target annotation; MLEE uses
    every utterance of the training set (``None``: no filter).
    """
    if hparams["method"] == "mlee":
        return None
    if hparams["label_type"] == "hard":
        return {"hard_index": lambda index: index >= 0}
    return {"target_votes": lambda votes: sum(votes) > 0}


def dataio_prep(hparams, data_root):
    """Datasets of one fold: audio (speed-perturbed copies resampled on the fly) and the method's targets.

    Arguments
    ---------
    hparams : dict
        The loaded hparams (``prep_folder`` holds the manifests).
    data_root : str
        The corpus root (the declaration's folder), filling the manifests' ``{data_root}``.

    Returns
    -------
    dict
        ``train``, ``valid``, ``test`` DynamicItemDatasets with outputs ``id``, ``sig``, ``target`` (one-hot,
        soft target or existence vector, by method and label type), ``hard_index``, ``rel_wav`` and ``corpus``;
        ``valid`` is ``None`` without a dev set.
    """
    sample_rate = hparams["sample_rate"]
    perturbers = {}

    @sb.utils.data_pipeline.takes("wav", "speed")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav, speed):
        sig = load_audio(wav, sample_rate)
        if speed != 1.0:
            key = round(float(speed), 4)
            if key not in perturbers:
                perturbers[key] = SpeedPerturb(orig_freq=sample_rate, speeds=[100.0 * key])
            sig = perturbers[key](sig.unsqueeze(0)).squeeze(0)
        return sig

    method, label_type = hparams["method"], hparams["label_type"]

    @sb.utils.data_pipeline.takes("hard_index", "soft_target", "existence")
    @sb.utils.data_pipeline.provides("target")
    def target_pipeline(hard_index, soft_target, existence):
        if method == "mlee":
            return torch.tensor(existence, dtype=torch.float)
        if label_type == "soft":
            return torch.tensor(soft_target, dtype=torch.float)
        return torch.nn.functional.one_hot(torch.tensor(hard_index), len(TARGET_CODES)).float()

    prep = hparams["prep_folder"]
    manifests = {"train": f"train_{hparams['training_set']}.json", "valid": "dev.json", "test": "test.json"}
    datasets = {}
    for name, manifest in manifests.items():
        if name == "valid" and not load_manifest(os.path.join(prep, manifest)):  # no dev set (dev: none)
            datasets[name] = None
            continue
        dataset = sb.dataio.dataset.DynamicItemDataset.from_json(
            os.path.join(prep, manifest), replacements={"data_root": data_root})
        if name == "train" and keeps_training_utterance(hparams) is not None:
            dataset = dataset.filtered_sorted(key_test=keeps_training_utterance(hparams))
        dataset.add_dynamic_item(audio_pipeline)
        dataset.add_dynamic_item(target_pipeline)
        dataset.set_output_keys(["id", "sig", "target", "hard_index", "rel_wav", "corpus"])
        datasets[name] = dataset
    if len(datasets["train"]) == 0:
        raise EmoLobesError(f"no training utterance left for method {method} with {label_type} targets",
                            "check the prep report (existence_ratios.md) and the training_set option")
    return datasets


def training_weights(train_set, hparams):
    """Class weights from the training targets: inverse frequencies (Section 4.1).

    Returns ``{"class_weights": [K]}`` for softmax training and ``{"existence_weights": ([K], [K])}`` (existent,
    non-existent) for MLEE.
    """
    entries = [train_set.data[utt_id] for utt_id in train_set.data_ids]
    if hparams["method"] == "mlee":
        return {"existence_weights": existence_class_weights(torch.tensor([e["existence"] for e in entries]))}
    if hparams["label_type"] == "soft":
        targets = torch.tensor([e["soft_target"] for e in entries])
    else:
        targets = torch.nn.functional.one_hot(torch.tensor([e["hard_index"] for e in entries]), len(TARGET_CODES))
    return {"class_weights": soft_class_weights(targets)}


def experiment_folder(folder, fold, key, kind):
    """The experiment folder of fold ``fold``: ``folder`` itself or its ``fold_<fold>/`` (a fold runner's output)."""
    hparams_file = "mlee.yaml" if kind == "mlee" else "dominant_hard.yaml"
    fix = f"train the {kind} model of fold {fold} first (hparams/{hparams_file}) and pass its output folder as --{key}"
    if not folder:
        raise EmoLobesError(f"{key} is not set", fix)
    for candidate in (folder, os.path.join(folder, f"fold_{fold}")):
        if os.path.isfile(os.path.join(candidate, EXPERIMENT_FILE)):
            return candidate
    raise EmoLobesError(f"{key}={folder} holds no {EXPERIMENT_FILE} (nor fold_{fold}/{EXPERIMENT_FILE})", fix)


def load_pretrained_branch(hparams, branch):
    """Load the best-dev encoder and normaliser of a finished pre-training run into a frozen branch.

    Arguments
    ---------
    hparams : dict
        Holds ``pretrained_<branch>_folder``, ``<branch>_encoder_pretrained`` and
        ``<branch>_normalizer_pretrained`` (the modules inside the ``Frozen`` wrappers).
    branch : str
        ``mlee`` or ``dominant``.

    Returns
    -------
    dict
        Where the weights came from (recorded in ``experiment.json``).
    """
    key, kind = f"pretrained_{branch}_folder", BRANCH_SOURCES[branch]
    folder = experiment_folder(hparams.get(key), hparams["fold"], key, kind)
    info_path = os.path.join(folder, EXPERIMENT_FILE)
    fix = f"pass the output folder of a finished {kind} run (hparams/{'mlee.yaml' if kind == 'mlee' else 'dominant_hard.yaml'})"
    try:
        with open(info_path, encoding="utf-8") as info_file:
            info = json.load(info_file)
    except (OSError, ValueError) as error:
        raise EmoLobesError(f"{key}={folder}: {EXPERIMENT_FILE} cannot be read ({error})", fix) from None
    if not isinstance(info, dict) or info.get("recipe") != "MLEE" or not info.get("method"):
        what = ("records no method" if isinstance(info, dict) and info.get("recipe") == "MLEE"
                else "was not written by the MLEE recipe (no recipe: MLEE, no method)")
        raise EmoLobesError(f"{key}={folder} is not an MLEE run's folder: its {EXPERIMENT_FILE} {what}", fix)
    if info["method"] != kind:
        raise EmoLobesError(f"{key}={folder} is a '{info['method']}' experiment, not a '{kind}' one", fix)
    if info.get("fold") != hparams["fold"]:
        raise EmoLobesError(
            f"{key}={folder} was trained on fold {info.get('fold')}, this run is fold {hparams['fold']} "
            "(its test speaker would be in the pre-training data)", f"pass the {kind} run of fold {hparams['fold']}")
    if not info.get("finished"):
        raise EmoLobesError(f"the {kind} run in {folder} has not finished", "run it to the end (test_results.json)")
    if "data" in hparams:  # what the branch saw: the run's data settings (``data_settings``)
        recorded = info.get("data") or {}
        for data_key in DATA_KEYS:
            if recorded.get(data_key) != hparams["data"][data_key]:
                raise EmoLobesError(
                    f"{key}={folder} was trained with {data_key}={json.dumps(recorded.get(data_key))}, this run "
                    f"has {data_key}={json.dumps(hparams['data'][data_key])} (its dev or test speaker could be in "
                    "the pre-training data)", f"pass the {kind} run trained with this run's {data_key}")
    different = [k for k in ENCODER_KEYS if info.get("encoder", {}).get(k) != hparams[k]]
    if different:
        raise EmoLobesError(
            f"encoder settings {', '.join(different)} differ from the pre-trained {kind} run in {folder}",
            "pass the same " + " ".join(f"--{k}={json.dumps(info['encoder'].get(k), separators=(',', ':'))}"
                                        for k in different))
    save = os.path.join(folder, "save")
    checkpoint = None
    if os.path.isdir(save):
        checkpointer = AtomicCheckpointer(save, recoverables={
            f"{branch}_encoder": hparams[f"{branch}_encoder_pretrained"],
            f"{branch}_normalizer": hparams[f"{branch}_normalizer_pretrained"],
        })
        with_dev = any("loss" in c.meta for c in checkpointer.list_checkpoints())
        # the best-dev one that loads; a run without a dev set tested its newest (last epoch)
        checkpoint = checkpointer.recover_if_possible(min_key="loss" if with_dev else None)
    if checkpoint is None:
        raise EmoLobesError(f"no checkpoint in {save}", f"re-run the {kind} experiment of fold {hparams['fold']}")
    return {"folder": os.path.abspath(folder), "checkpoint": str(checkpoint.path),
            "training_set": info.get("training_set"), "label_type": info.get("label_type"),
            "init_seed": info.get("init_seed"), "test_speakers": info.get("test_speakers"),
            "dev_speakers": info.get("dev_speakers")}


def check_pretrained_speakers(pretrained, split):
    """Refuse a pre-trained branch whose prepared fold had other dev or test speakers than this run's."""
    for branch, source in pretrained.items():
        for part in ("test_speakers", "dev_speakers"):
            if sorted(source.get(part) or []) != sorted(split[part]):
                raise EmoLobesError(
                    f"the pre-trained {branch} run in {source['folder']} had {part}={source.get(part)}, this run "
                    f"has {part}={split[part]}", f"pass the {branch} run of this run's split")


def data_settings(hparams, declaration):
    """The settings that decide what a run trained on (:data:`DATA_KEYS`), recorded and compared by two-step runs.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> hp = {"seed": 1, "training_set": "all", "include_self_evaluations": False, "speed_factors": [0.9],
    ...       "improvised_only": True}
    >>> data_settings(hp, SimpleNamespace(split={"method": "loso", "dev": "session_partner"}))["dev_rule"]
    'session_partner'
    """
    settings = {k: hparams[k] for k in DATA_KEYS if k not in ("dev_rule", "split")}
    settings["speed_factors"] = [float(f) for f in settings["speed_factors"]]
    settings["split"] = json.loads(json.dumps(declaration.split))
    settings["dev_rule"] = declaration.split.get("dev")
    return settings


def init_name(hparams):
    """The name a run's initial weights are drawn under: the method, with the label type where it has one.

    Example
    -------
    >>> init_name({"method": "mlee", "label_type": "hard"}), init_name({"method": "dominant", "label_type": "soft"})
    ('mlee', 'dominant_soft')
    """
    return "mlee" if hparams["method"] == "mlee" else f"{hparams['method']}_{hparams['label_type']}"


def init_seed(seed, name):
    """The seed of a method's initial weights and training randomness, from the run seed and the method's name.

    Every method (so every pre-trained branch, and the new classifier of a two-step run) starts from weights
    of its own, reproducibly: the same ``(seed, name)`` always gives the same seed.

    Example
    -------
    >>> init_seed(1986, "mlee") == init_seed(1986, "mlee"), init_seed(1986, "mlee") == init_seed(1986, "dominant_hard")
    (True, False)
    """
    digest = hashlib.sha256(f"{seed}:{name}".encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % (2 ** 31 - 1)


def initialise_modules(hparams):
    """Re-seed with :func:`init_seed` and draw fresh initial weights for every trainable module.

    The hparams file built all modules under the one run seed, in the same order for every method; this
    re-draws them (``reset_parameters`` of each submodule, in module order) under the method's own seed.
    Frozen branches are left alone (their weights are loaded from the pre-trained run).

    Returns
    -------
    int
        The seed used (recorded in ``experiment.json`` and ``test_results.json``).
    """
    seed = init_seed(hparams["seed"], init_name(hparams))
    seed_everything(seed)
    for name, module in hparams["modules"].items():
        if isinstance(module, Frozen):
            continue
        for submodule in module.modules():
            if hasattr(submodule, "reset_parameters"):
                submodule.reset_parameters()
    return seed


def write_experiment_info(hparams, split, pretrained, finished=False, results=None):
    """``experiment.json``: what this output folder holds, read by two-step runs to check their sources."""
    info = {
        "recipe": "MLEE", "method": hparams["method"], "label_type": describe_label(hparams),
        "training_set": hparams["training_set"], "fold": hparams["fold"], "seed": hparams["seed"],
        "test_speakers": split["test_speakers"], "dev_speakers": split["dev_speakers"],
        "encoder": {k: hparams[k] for k in ENCODER_KEYS}, "data": hparams["data"], "init_seed": hparams["init_seed"],
        "pretrained": pretrained, "finished": finished,
    }
    if results is not None:
        info.update(wa=results["wa"], ua=results["ua"])
    write_json_atomic(info, os.path.join(hparams["output_folder"], EXPERIMENT_FILE))


if __name__ == "__main__":
    install_excepthook()
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)  # torchrun: join the process group (no-op for a single process)
    hparams = load_hparams_checked(hparams_file, overrides)
    lock_output_folder(hparams["output_folder"])  # a second run on this folder is refused in one line
    check_options(hparams)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides)
    install_excepthook()  # again: create_experiment_directory installs SpeechBrain's logging hook over ours
    options = prepare_options(hparams)
    hparams["data"] = data_settings(hparams, options["declaration"])
    hparams["init_seed"] = initialise_modules(hparams)  # this method's own initial weights
    # two-step methods: load (and check) the frozen encoders first, so a wrong folder fails before data prep
    pretrained = {branch: load_pretrained_branch(hparams, branch) for branch in hparams["frozen_branches"]}

    run_on_main(prepare_mlee, kwargs=options)
    split_path = os.path.join(hparams["prep_folder"], "split.json")
    if not os.path.isfile(split_path):
        raise EmoLobesError(f"no prepared fold in {hparams['prep_folder']}", "run once without --skip_prep=True")
    with open(split_path, encoding="utf-8") as split_file:
        split = json.load(split_file)
    check_pretrained_speakers(pretrained, split)

    datasets = dataio_prep(hparams, options["declaration"].folder)
    brain = MLEEBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.has_dev = datasets["valid"] is not None
    brain.split_info = {options["declaration"].name: split["info"]}
    for name, value in training_weights(datasets["train"], hparams).items():
        value = tuple(v.to(brain.device) for v in value) if isinstance(value, tuple) else value.to(brain.device)
        setattr(brain, name, value)
    run_on_main(write_experiment_info, args=[hparams, split, pretrained])

    brain.fit(
        brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"], valid_loader_kwargs=hparams["test_dataloader_opts"])
    # the best dev loss's checkpoint; without a dev set the newest one (the last epoch)
    brain.evaluate(datasets["test"], min_key="loss" if brain.has_dev else None,
                   test_loader_kwargs=hparams["test_dataloader_opts"])
    if if_main_process():
        with open(os.path.join(hparams["output_folder"], "test_results.json"), encoding="utf-8") as results_file:
            write_experiment_info(hparams, split, pretrained, finished=True, results=json.load(results_file))
    package_after_run(hparams["output_folder"])  # <output_folder>/model: EmotionClassifier.from_hparams
    leave_process_group()
