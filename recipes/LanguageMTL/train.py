#!/usr/bin/env python3
"""Language-ID MTL recipe: LSTM SER per corpus, transfer from IEMOCAP, emotion + language-ID multi-task, cross-corpus.

Run (from the repository root or from recipes/LanguageMTL):
    python recipes/LanguageMTL/train.py recipes/LanguageMTL/hparams/multitask.yaml --data_folder=synthetic_data
    python train.py hparams/single_corpus.yaml --data_folder=/data --corpus=emodb --features=IS09
    python train.py hparams/single_corpus.yaml --data_folder=/data/RAVDESS --corpus=ravdess --n_dev_speakers=1

``experiment`` (set by each hparams file) picks what is trained and tested:
``single_corpus`` (Table 2), ``transfer`` (Table 3), ``multitask`` (Table 4; ``task: emotion_only`` is its
single-task row), ``cross_corpus`` (Table 5) and ``tripathi_beigi`` (Section 6.2: a single-corpus run with its own
classes, features and model, ``hparams/tripathi_beigi.yaml``). One Brain serves them all. The corpora are the hparams'
declarations (``corpora``; ``--corpus=NAME`` in single-corpus runs, any corpus emo_lobes parses). By default there is
no dev set (the paper's protocol: ``n_dev_speakers: 0``, i.e. ``dev: none``; also a split file with an empty dev
list): a run trains ``number_of_epochs`` and tests the last epoch. ``--n_dev_speakers=1`` (not in the paper) draws a
dev speaker per corpus for early stopping and tests the best-dev checkpoint.
"""
import copy
import os
import sys

import speechbrain as sb
import torch
from speechbrain.utils.distributed import ddp_barrier, ddp_init_group, if_main_process, run_on_main

RECIPE_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(RECIPE_DIR)))
sys.path.insert(0, RECIPE_DIR)

from emo_lobes.data.declarations import check_corpus_folders  # noqa: E402
from emo_lobes.training.brain import EmoLobesBrain, unwrap_module  # noqa: E402
from emo_lobes.training.checkpoints import AtomicCheckpointer, RandomState  # noqa: E402
from emo_lobes.inference.packaging import package_after_run  # noqa: E402
from emo_lobes.training.distributed import gather_in_dataset_order, leave_process_group, sum_over_processes  # noqa: E402
from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.features.feature_cache import FRAME_FEATURES, feature_cache_for  # noqa: E402
from emo_lobes.lobes.lstm_classifier import multitask_loss, pad_to_frames  # noqa: E402
from emo_lobes.training.hparams_check import load_hparams_checked  # noqa: E402
from emo_lobes.training.run_lock import lock_output_folder  # noqa: E402
from emo_lobes.training.train_log import ResumableFileTrainLogger  # noqa: E402
from emo_lobes.data.manifest import assert_not_inside, load_manifest  # noqa: E402
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results  # noqa: E402
from make_tables import row_name  # noqa: E402
from prepare import (  # noqa: E402
    EMOTION_CLASSES, corpus_manifests, emotion_classes, prepare_language_mtl, read_corpus_info, run_declarations,
)

EXPERIMENTS = ("single_corpus", "transfer", "multitask", "cross_corpus", "tripathi_beigi")
TASKS = ("emotion_only", "multitask")
LANGUAGE_TARGETS = ("corpus", "language")


class LanguageMTLBrain(EmoLobesBrain):
    """Cached features -> global normalisation -> LSTM -> emotion head (and language-ID head when multi-task).

    The base class makes resumption exact; under torchrun each process scores its shard of the dev and test
    sets, and the error rate, language-ID accuracy, loss and test predictions are combined over all processes.
    Without a dev set each epoch ends with a checkpoint and the test reads the last one.
    """

    def fit(self, epoch_counter, train_set, valid_set=None, **kwargs):
        """SpeechBrain's ``fit``; an empty dev set counts as none (``self.with_dev`` says which)."""
        self.with_dev = valid_set is not None and len(valid_set) > 0
        return super().fit(epoch_counter, train_set, valid_set if self.with_dev else None, **kwargs)

    def _fit_valid(self, valid_set, epoch, enable):
        """SpeechBrain's dev pass; without a dev set, the epoch's log line and checkpoint (the last one is tested).

        Here rather than in ``on_stage_end(TRAIN)``: SpeechBrain resets its step count after that, and the
        checkpoint must hold the reset count, as one written after a dev pass does.
        """
        super()._fit_valid(valid_set, epoch, enable)
        if valid_set is None:
            self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch, "stage": self.hparams.stage_name},
                                                train_stats={"loss": self.train_loss})
            if self.checkpointer is not None:
                self.checkpointer.save_and_keep_only(meta={"train_loss": float(self.train_loss)}, num_to_keep=1)

    @property
    def classes(self):
        """The run's emotion classes, in the model's output order (:func:`prepare.emotion_classes`)."""
        return emotion_classes(vars(self.hparams))

    @property
    def best_key(self):
        """``min_key`` of the checkpoint to test: the lowest dev error, or ``None`` (the last) without dev."""
        return "error_rate" if getattr(self, "with_dev", True) else None

    def compute_forward(self, batch, stage):
        """Emotion log-probabilities and, in multi-task mode, language-ID log-probabilities (else ``None``)."""
        batch = batch.to(self.device)
        feats, lengths = batch.feats
        if not self.hparams.use_lengths and self.hparams.features in FRAME_FEATURES:
            # Section 4.1 (the default): every utterance zero-padded (the cache clipped longer ones) to exactly
            # max_frames x 13, and the LSTM reads every frame, padding included. use_lengths: True packs instead.
            feats, lengths = pad_to_frames(feats, lengths, self.hparams.max_frames)
        if "normalize" in self.modules:  # none in tripathi_beigi.yaml (the authors' code does not normalise)
            feats = self.modules.normalize(feats, lengths, epoch=self.hparams.epoch_counter.current)
        lengths = lengths if self.hparams.use_lengths else None
        if self.hparams.task == "multitask":  # through forward(): DDP sees both heads' parameters
            return self.modules.model(feats, lengths, with_language=True)
        return self.modules.model(feats, lengths), None

    def compute_objectives(self, predictions, batch, stage):
        """Emotion NLL, plus the weighted language-ID NLL in multi-task mode (Section 4.3)."""
        emotion, language = predictions
        emotion_targets = batch.emotion_index.data.view(-1).to(self.device)
        language_targets = batch.language_index.data.view(-1).to(self.device) if language is not None else None
        loss = multitask_loss(emotion, emotion_targets, language, language_targets, self.hparams.language_weight)
        if stage != sb.Stage.TRAIN:
            self.error_metrics.append(batch.id, emotion.unsqueeze(1), emotion_targets.view(-1, 1))
            if language is not None:
                self.language_correct += int((language.argmax(dim=1) == language_targets).sum())
                self.language_total += len(batch.id)
        if stage == sb.Stage.TEST:
            self._record_predictions(batch, emotion, language)
        return loss

    def _record_predictions(self, batch, emotion, language):
        """Keep each test utterance's true and predicted emotion (and language), with probabilities."""
        probabilities = emotion.exp().detach().cpu()
        classes = self.classes
        for index, utt_id in enumerate(batch.id):
            entry = {
                "id": utt_id,
                "wav": batch.rel_wav[index],
                "corpus": batch.corpus[index],
                "true": classes[int(batch.emotion_index.data[index])],
                "pred": classes[int(probabilities[index].argmax())],
                "probs": [round(float(p), 4) for p in probabilities[index]],
            }
            if language is not None:
                entry["language_true"] = self.hparams.language_classes[int(batch.language_index.data[index])]
                entry["language_pred"] = self.hparams.language_classes[int(language[index].argmax())]
            self.test_predictions.append(entry)

    def on_stage_start(self, stage, epoch=None):
        """Fresh error statistics and language-ID counts for dev and test; an empty prediction list for test."""
        if stage != sb.Stage.TRAIN:
            self.error_metrics = self.hparams.error_stats()
            self.language_correct, self.language_total = 0, 0
        if stage == sb.Stage.TEST:
            self.test_predictions = []

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log the epoch; on dev, feed early stopping and keep the checkpoint with the lowest error rate."""
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        stats = {"loss": self.loss_over_processes(stage_loss)}
        errors, utterances, language_correct, language_total = sum_over_processes([
            sum(float(score) for score in self.error_metrics.scores), len(self.error_metrics.scores),
            self.language_correct, self.language_total])
        stats["error_rate"] = errors / max(utterances, 1)
        if language_total:
            stats["language_accuracy"] = language_correct / language_total
        if stage == sb.Stage.TEST:
            self.test_predictions = gather_in_dataset_order(self.test_predictions)
        if stage == sb.Stage.VALID:
            self.hparams.epoch_counter.update_metric(stats["error_rate"])
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "stage": self.hparams.stage_name},
                train_stats={"loss": self.train_loss},
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(meta=stats, min_keys=["error_rate"])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"stage": self.hparams.stage_name, "epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )


def check_hparams(hparams):
    """Fail with one line on option values the recipe does not know, or an emotion or language head that does not fit.

    Arguments
    ---------
    hparams : dict
        The loaded hparams.

    Example
    -------
    >>> try:
    ...     check_hparams({"experiment": "zero_shot", "task": "multitask", "language_target": "corpus"})
    ... except EmoLobesError as e:
    ...     print(e)
    experiment=zero_shot is not an option. Fix: use one of single_corpus, transfer, multitask, cross_corpus, tripathi_beigi
    """
    choices = {"experiment": EXPERIMENTS, "task": TASKS, "language_target": LANGUAGE_TARGETS}
    for key, allowed in choices.items():
        if hparams[key] not in allowed:
            raise EmoLobesError(f"{key}={hparams[key]} is not an option", f"use one of {', '.join(allowed)}")
    classes = emotion_classes(hparams)
    if hparams["model"].emotion_head.out_features != len(classes):
        raise EmoLobesError(f"the emotion head has {hparams['model'].emotion_head.out_features} outputs for "
                            f"{len(classes)} classes ({', '.join(classes)})",
                            "set n_classes to the number of emotion_classes")
    if hparams["experiment"] == "transfer" and (hparams.get("normalize") is None
                                                or not hasattr(hparams["model"], "freeze_for_transfer")):
        raise EmoLobesError("the transfer experiment needs an LSTMClassifier and its normalize module",
                            "use hparams/transfer.yaml's model and normalize")
    if hparams["task"] == "multitask":
        head = hparams["model"].language_head
        if head is None or head.out_features != len(hparams["language_classes"]):
            raise EmoLobesError(
                f"the language head must have {len(hparams['language_classes'])} outputs (one per language_classes)",
                "set n_languages to the number of language_classes",
            )


def language_of(corpus, language_target, language=None):
    """The language-ID target of a record: its spoken language (ISO 639-1, the default: 4 classes over the paper's
    corpora) or, with ``language_target: corpus`` (not in the paper), its corpus (5 classes).

    Example
    -------
    >>> language_of("savee", "corpus", "en"), language_of("savee", "language", "en")
    ('savee', 'en')
    """
    return corpus if language_target == "corpus" else language


def dataio_prep(hparams, manifests, folders):
    """Datasets per corpus and part, plus ``pooled_train`` / ``pooled_valid`` over the training corpora.

    Each item gives ``feats`` (cached Kaldi MFCC frames ``[frames, 13]`` or openSMILE functionals ``[1, d]``),
    ``emotion_index``, ``language_index`` and ``corpus``. Features of every listed file are computed (or read
    from the cache) once here, so epochs only index them (exercised by the end-to-end tests and the benchmark).

    Arguments
    ---------
    hparams : dict
        The loaded hparams (``features``, ``feature_cache_folder``, ``language_classes`` ...).
    manifests : dict
        ``{corpus: {"train", "valid", "test"} manifest paths}`` from prepare.py.
    folders : dict
        ``{corpus: corpus root}`` (the declarations' folders).

    Returns
    -------
    dict
        ``{corpus: {part: DynamicItemDataset}, "pooled_train": ..., "pooled_valid": ...}`` (``None`` for an empty
        dev set); the pooled sets key utterances ``<corpus>/<id>``, so corpora whose ids coincide do not collide.
    """
    data = {corpus: {part: load_manifest(path, data_root=folders[corpus]) for part, path in parts.items()}
            for corpus, parts in manifests.items()}
    if hparams["task"] == "multitask":
        languages = {language_of(corpus, hparams["language_target"], entry.get("language"))
                     for corpus in data for entries in data[corpus].values()
                     for entry in entries.values()}
        missing = sorted(str(language) for language in languages - set(hparams["language_classes"]))
        if missing:
            raise EmoLobesError(f"language classes lack {', '.join(missing)}", "add them to language_classes")
    cache = feature_cache_for(hparams["features"], hparams["feature_cache_folder"], hparams["n_mfcc"],
                              hparams["max_frames"])
    for folder in folders.values():
        assert_not_inside(hparams["feature_cache_folder"], os.path.abspath(folder))
    paths = sorted({entry["wav"] for parts in data.values() for entries in parts.values() for entry in entries.values()})
    # the main process computes (or reads) every feature once; under torchrun the others then read its cache
    values = cache.get_many(paths) if if_main_process() else None
    ddp_barrier()
    if values is None:
        values = cache.get_many(paths)
    features = {}
    for path, value in zip(paths, values):
        tensor = torch.from_numpy(value).float()
        features[path] = tensor if tensor.dim() == 2 else tensor.unsqueeze(0)  # functionals: a 1-frame sequence
    if if_main_process():
        print(f"[features] {hparams['features']}: {cache.n_computed} computed, {cache.n_loaded} read from "
              f"{cache.folder}", flush=True)
    language_index = {name: i for i, name in enumerate(hparams["language_classes"])}
    classes = emotion_classes(hparams)

    @sb.utils.data_pipeline.takes("wav", "emotion", "corpus", "language")
    @sb.utils.data_pipeline.provides("feats", "emotion_index", "language_index")
    def feature_pipeline(wav, emotion, corpus, language):
        yield features[wav]
        yield torch.LongTensor([classes.index(emotion)])
        yield torch.LongTensor([language_index.get(language_of(corpus, hparams["language_target"], language), -1)])

    def make_dataset(entries):
        if not entries:  # an empty dev partition (dev: none)
            return None
        dataset = sb.dataio.dataset.DynamicItemDataset(entries)
        dataset.add_dynamic_item(feature_pipeline)
        dataset.set_output_keys(["id", "rel_wav", "feats", "emotion_index", "language_index", "corpus"])
        return dataset

    datasets = {corpus: {part: make_dataset(entries) for part, entries in parts.items()} for corpus, parts in data.items()}
    for part in ("train", "valid"):
        pooled = {f"{corpus}/{utt}": entry for corpus in hparams["train_corpora"]
                  for utt, entry in data[corpus][part].items()}
        datasets[f"pooled_{part}"] = make_dataset(pooled)
    return datasets


def evaluate_and_write(brain, dataset, out_folder, extra):
    """Test the best-dev checkpoint (the last one without dev) on ``dataset``; write ``<out_folder>/test_results.json``.

    Arguments
    ---------
    brain : LanguageMTLBrain
        A trained Brain with a checkpointer.
    dataset : DynamicItemDataset
        One corpus's test set (from :func:`dataio_prep`).
    out_folder : str
        Where the results go.
    extra : dict
        Metadata from :func:`run_metadata` plus ``corpus``.

    Returns
    -------
    list of dict
        The per-utterance predictions (exercised by the end-to-end tests).
    """
    brain.hparams.stage_name = f"test {extra.get('corpus', '')}".strip()
    brain.evaluate(dataset, min_key=brain.best_key, test_loader_kwargs=dict(brain.hparams.test_dataloader_options))
    predictions = list(brain.test_predictions)  # every process's, gathered in on_stage_end
    if if_main_process():
        write_results(out_folder, predictions, dict(extra, scope="corpus"), brain.classes)
    return predictions


def write_results(out_folder, predictions, extra, classes=EMOTION_CLASSES):
    """Write ``<out_folder>/test_results.json``: accuracy (WA), UA, F1, confusion, and language-ID accuracy.

    Arguments
    ---------
    out_folder : str
        Created when missing.
    predictions : list of dict
        ``id``, ``wav``, ``corpus``, ``true``, ``pred`` (and ``language_true`` / ``language_pred`` in multi-task
        mode).
    extra : dict
        Metadata (table, row, corpus, scope ...).

    Returns
    -------
    dict
        The metrics.

    Example
    -------
    >>> import tempfile
    >>> preds = [{"id": "a", "wav": "a.wav", "corpus": "emodb", "true": "sad", "pred": "sad", "language_true": "emodb",
    ...           "language_pred": "savee"}, {"id": "b", "wav": "b.wav", "corpus": "emodb", "true": "fear",
    ...           "pred": "sad", "language_true": "emodb", "language_pred": "emodb"}]
    >>> folder = tempfile.mkdtemp()
    >>> write_results(folder, preds, {"scope": "corpus"})["wa"]
    0.5
    >>> import json; json.load(open(os.path.join(folder, "test_results.json")))["language_accuracy"]
    0.5
    """
    metrics = classification_metrics([p["true"] for p in predictions], [p["pred"] for p in predictions],
                                     labels=list(classes))
    extra = dict(extra)
    with_language = [p for p in predictions if "language_pred" in p]
    if with_language:
        extra["language_accuracy"] = sum(p["language_pred"] == p["language_true"] for p in with_language) / len(
            with_language)
    os.makedirs(out_folder, exist_ok=True)
    write_test_results(out_folder, metrics, predictions, extra)
    return metrics


def corpus_summary(predictions, classes=EMOTION_CLASSES):
    """Accuracy, UA and count (and language-ID accuracy) per corpus of pooled predictions.

    Arguments
    ---------
    predictions : list of dict
        As in :func:`write_results`.

    Returns
    -------
    dict
        ``{corpus: {"wa", "ua", "n"[, "language_accuracy"]}}``.

    Example
    -------
    >>> corpus_summary([{"corpus": "savee", "true": "sad", "pred": "sad"},
    ...                 {"corpus": "emodb", "true": "sad", "pred": "fear"}])
    {'emodb': {'wa': 0.0, 'ua': 0.0, 'n': 1}, 'savee': {'wa': 1.0, 'ua': 1.0, 'n': 1}}
    """
    summary = {}
    for corpus in sorted({p["corpus"] for p in predictions}):
        chosen = [p for p in predictions if p["corpus"] == corpus]
        metrics = classification_metrics([p["true"] for p in chosen], [p["pred"] for p in chosen],
                                         labels=list(classes))
        summary[corpus] = {"wa": metrics["wa"], "ua": metrics["ua"], "n": metrics["n"]}
        if chosen and "language_pred" in chosen[0]:
            summary[corpus]["language_accuracy"] = sum(p["language_pred"] == p["language_true"] for p in chosen) / len(
                chosen)
    return summary


def run_metadata(hparams, experiment_stage=None, splits=None):
    """The keys every result file of this run carries (make_tables.py groups by ``table`` and ``row``).

    Arguments
    ---------
    hparams : dict
        The loaded hparams.
    experiment_stage : str, optional
        ``as_is`` or ``finetuned`` for the transfer experiment.
    splits : dict, optional
        ``{corpus: split info}`` (prep's ``CorpusData.split_info()``) of the corpora the file's results use.

    Returns
    -------
    dict
        ``recipe``, ``table``, ``row``, ``experiment``, ``task``, ``features``, ``classifier``, ``train_corpora``,
        ``split``, ``fold``, ``seed``.

    Example
    -------
    >>> meta = run_metadata({"experiment": "cross_corpus", "features": "IS09", "task": "emotion_only",
    ...                      "train_corpora": ["iemocap"], "fold": 1, "seed": 1}, splits={"iemocap": {"n": {}}})
    >>> meta["table"], meta["row"], list(meta["split"])
    ('5', 'IS09 + LSTM', ['iemocap'])
    """
    table, row = row_name(hparams["experiment"], hparams["features"], "lstm", task=hparams["task"],
                          stage=experiment_stage)
    return {"recipe": "LanguageMTL", "table": table, "row": row, "experiment": hparams["experiment"],
            "task": hparams["task"], "features": hparams["features"], "classifier": "lstm",
            "train_corpora": list(hparams["train_corpora"]), "split": dict(splits or {}), "fold": hparams["fold"],
            "seed": hparams["seed"]}


def fine_tune_modules(base_modules, hparams):
    """Copies of the trained base modules with the LSTM frozen and the normalisation statistics fixed.

    Arguments
    ---------
    base_modules : dict
        ``model`` (an :class:`LSTMClassifier` with an extra dense layer) and ``normalize``.
    hparams : dict
        Needs ``train_output_layer``.

    Returns
    -------
    tuple
        ``(modules, names of the trainable parameters)``; ``base_modules`` are left as they are.

    Example
    -------
    >>> from emo_lobes.lobes.lstm_classifier import LSTMClassifier
    >>> from speechbrain.processing.features import InputNormalization
    >>> base = {"model": LSTMClassifier(13, hidden_size=4, extra_dense_size=2), "normalize": InputNormalization()}
    >>> modules, trainable = fine_tune_modules(base, {"train_output_layer": True})
    >>> trainable, base["model"].lstm.rnn.weight_ih_l0.requires_grad
    (['extra_dense.0.weight', 'extra_dense.0.bias', 'emotion_head.weight', 'emotion_head.bias'], True)
    """
    modules = copy.deepcopy(base_modules)
    trainable = modules["model"].freeze_for_transfer(train_output_layer=hparams["train_output_layer"])
    modules["normalize"].update_until_epoch = 0  # the base model's statistics, never updated again
    return modules, trainable


if __name__ == "__main__":
    install_excepthook()
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)  # torchrun: join the process group (no-op for a single process)
    hparams = load_hparams_checked(hparams_file, overrides)
    lock_output_folder(hparams["output_folder"])  # a second run on this folder is refused in one line
    check_hparams(hparams)
    declarations = run_declarations(hparams)
    check_corpus_folders(declarations)  # before anything is written
    if hparams["task"] == "emotion_only" and hparams["model"].language_head is not None:
        hparams["model"].language_head.requires_grad_(False)  # unused: DDP needs a gradient for every trained weight
    if hparams.get("cpu_threads"):
        torch.set_num_threads(int(hparams["cpu_threads"]))
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"], hyperparams_to_save=hparams_file,
                                   overrides=overrides)
    install_excepthook()  # again: create_experiment_directory installs SpeechBrain's logging hook over ours
    run_on_main(prepare_language_mtl, kwargs={
        "declarations": declarations, "save_folder": hparams["prep_folder"], "fold": hparams["fold"],
        "seed": hparams["seed"], "output_folder": hparams["output_folder"], "skip_prep": hparams["skip_prep"],
        "classes": emotion_classes(hparams)})
    manifests = {corpus: corpus_manifests(hparams["prep_folder"], corpus) for corpus in declarations}
    splits = {corpus: read_corpus_info(hparams["prep_folder"], corpus)["split"] for corpus in declarations}
    datasets = dataio_prep(hparams, manifests, {name: decl.folder for name, decl in declarations.items()})
    hparams["stage_name"] = "train"

    brain = LanguageMTLBrain(modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
                             run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.fit(brain.hparams.epoch_counter, datasets["pooled_train"], datasets["pooled_valid"],
              train_loader_kwargs=dict(hparams["dataloader_options"]),
              valid_loader_kwargs=dict(hparams["test_dataloader_options"]))

    output = hparams["output_folder"]
    stage = "as_is" if hparams["experiment"] == "transfer" else None
    pooled_predictions = []
    for corpus in hparams["test_corpora"]:
        pooled_predictions += evaluate_and_write(brain, datasets[corpus]["test"],
                                                 os.path.join(output, "test" if stage is None else stage, corpus),
                                                 dict(run_metadata(hparams, stage, {corpus: splits[corpus]}),
                                                      corpus=corpus))
    per_corpus = {"test" if stage is None else stage: corpus_summary(pooled_predictions, brain.classes)}

    if hparams["experiment"] == "transfer":
        # Section 4.2: freeze the LSTM trained on IEMOCAP, fine-tune the penultimate dense layer per small corpus.
        brain.on_evaluate_start(min_key=brain.best_key)  # the best (or last) base checkpoint into brain.modules
        base_modules = {name: unwrap_module(brain.modules[name]) for name in ("model", "normalize")}
        finetuned_predictions = []
        for corpus in hparams["finetune_corpora"]:
            modules, trainable = fine_tune_modules(base_modules, hparams)
            counter = hparams["finetune_epoch_counter"]()
            corpus_folder = os.path.join(output, "finetune", corpus)
            checkpointer = AtomicCheckpointer(
                os.path.join(corpus_folder, "save"),
                recoverables={"model": modules["model"], "normalize": modules["normalize"], "counter": counter,
                              "rng": RandomState()})
            finetune_hparams = dict(hparams, epoch_counter=counter, stage_name=f"finetune {corpus}")
            finetune_hparams["train_logger"] = ResumableFileTrainLogger(
                os.path.join(corpus_folder, "train_log.txt"))
            finetuner = LanguageMTLBrain(modules=modules, opt_class=hparams["finetune_opt_class"],
                                         hparams=finetune_hparams, run_opts=run_opts, checkpointer=checkpointer)
            if if_main_process():
                print(f"[transfer] fine-tuning {', '.join(trainable)} on {corpus}", flush=True)
            finetuner.fit(counter, datasets[corpus]["train"], datasets[corpus]["valid"],
                          train_loader_kwargs=dict(hparams["dataloader_options"]),
                          valid_loader_kwargs=dict(hparams["test_dataloader_options"]))
            finetuned_predictions += evaluate_and_write(
                finetuner, datasets[corpus]["test"], corpus_folder,
                dict(run_metadata(hparams, "finetuned", {corpus: splits[corpus]}), corpus=corpus))
        per_corpus["finetuned"] = corpus_summary(finetuned_predictions, brain.classes)
        pooled_predictions = finetuned_predictions

    if if_main_process():
        metrics = write_results(output, pooled_predictions, dict(
            run_metadata(hparams, "finetuned" if stage else None, splits), scope="pooled", per_corpus=per_corpus),
            brain.classes)
        print(f"[test] {hparams['experiment']} ({hparams['task']}): accuracy {100 * metrics['wa']:.1f}%, "
              f"UA {100 * metrics['ua']:.1f}% over {metrics['n']} test utterances; per corpus: "
              + "; ".join(f"{name} {c}: {100 * v['wa']:.1f}%" for name, part in per_corpus.items()
                          for c, v in part.items()), flush=True)
    package_after_run(hparams["output_folder"])  # <output_folder>/model: EmotionClassifier.from_hparams
    leave_process_group()
