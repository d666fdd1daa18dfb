#!/usr/bin/env python3
"""Emotion embeddings (Alisamir et al.): wav2vec2 or log-mel front-end, shared GRU, one head per corpus, cross-corpus.

Run (from the repo root, or from recipes/EmotionEmbeddings with hparams/<x>.yaml):
python recipes/EmotionEmbeddings/train.py recipes/EmotionEmbeddings/hparams/multi_corpus_w2v2.yaml \
    --data_folder=/data/emotion_corpora
python recipes/EmotionEmbeddings/train.py recipes/EmotionEmbeddings/hparams/single_corpus_w2v2.yaml \
    --data_folder=/data/emotion_corpora --corpus=emodb [--split_file=splits/emodb.json]

The corpora are declared in the hparams (``corpora``; the paper's CaFE, EmoDB, GEMEP and RAVDESS with their
Section III-A speaker splits; any other corpus emo_lobes parses by its name). Every training corpus keeps its
own labels and its own Linear + log-softmax head over the shared emotion model; each test utterance of every
evaluation corpus goes through every head (cross-corpus, Table III). With a dev set the best dev-UAR epoch is
tested; with ``dev: none`` every epoch is trained and the last one tested. Outputs in the output folder:
test_results.json (within-corpus UAR per corpus, cross-corpus pairs, the splits, per-utterance predictions through
every head), splits/<corpus>.json (the split of each corpus, a split file), embeddings.npz (test emotion
embeddings, for plot_embeddings.py) and cross_corpus.md.

Several processes: ``torchrun --nproc_per_node=N recipes/EmotionEmbeddings/train.py <hparams> ...`` (add
``--distributed_backend=gloo --device=cpu`` on CPU); dev and test predictions are gathered over the processes.
"""
import json
import os
import sys

import numpy as np
import speechbrain as sb
import torch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import ddp_init_group, if_main_process, run_on_main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import prepare_emotion_embeddings, run_declarations  # noqa: E402

from emo_lobes.data.audio import load_audio, trim_silence  # noqa: E402
from emo_lobes.training.brain import EmoLobesBrain, unwrap_module  # noqa: E402
from emo_lobes.evaluation.cross_corpus import score_all_pairs, summarize_pairs  # noqa: E402
from emo_lobes.inference.packaging import package_after_run  # noqa: E402
from emo_lobes.training.distributed import gather_in_dataset_order, leave_process_group  # noqa: E402
from emo_lobes.errors import EmoLobesError, install_excepthook  # noqa: E402
from emo_lobes.features.frontend_cache import CachedFrozenFrontend, call_frontend  # noqa: E402
from emo_lobes.training.hparams_check import load_hparams_checked  # noqa: E402
from emo_lobes.training.run_lock import lock_output_folder  # noqa: E402
from emo_lobes.lobes.emotion_embedding import emotion_embedding_modules  # noqa: E402
from emo_lobes.data.declarations import check_corpus_folders  # noqa: E402
from emo_lobes.data.manifest import assert_not_inside, load_manifest, write_text_atomic  # noqa: E402
from emo_lobes.evaluation.metrics import classification_metrics, write_test_results  # noqa: E402
from emo_lobes.evaluation.tables import markdown_table, mean_std  # noqa: E402


#: Decimals of the per-utterance probabilities in test_results.json.
PROBABILITY_DECIMALS = 5


class EmotionEmbeddingBrain(EmoLobesBrain):
    """Front-end -> shared emotion model -> the utterance's own corpus head (training); every head (testing).

    Extra attributes set in ``__main__``: ``labels`` (``{corpus: sorted labels}``) and ``label_emotions``
    (``{corpus: {label: emotion}}``) of every corpus used. Under torchrun each process trains on its shard and
    evaluates its shard of dev and test; the dev UAR (which picks the checkpoint) and the test metrics are
    computed on the predictions of all processes. Without a dev set (``dev: none``) each epoch's checkpoint
    replaces the previous one and the last is tested.
    """

    def compute_forward(self, batch, stage):
        """Acoustic frames (cached frozen front-end, or the trainable one on the waveforms) -> emotion embeddings."""
        batch = batch.to(self.device)
        if self.hparams.freeze_frontend:
            if self.augmentation.augments_waveforms:
                raise EmoLobesError("wav_augment is on, but the frozen front-end's features are cached",
                                    "pass --freeze_frontend=False to compute them per batch, or use --feature_augment")
            feats, lens = self.modules.cached_frontend(batch.wav)
            feats, lens = feats.to(self.device), lens.to(self.device)
        else:
            wavs, lens = batch.sig
            wavs, lens = self.augmentation.waveforms(wavs, lens, stage)  # off in the paper
            feats = call_frontend(self.modules.frontend, wavs, lens)  # Fbank takes the waveforms only
            frontend = unwrap_module(self.modules.frontend)
            if hasattr(frontend, "frame_lengths"):  # exact valid frames (wav2vec2's strides are not proportional)
                lens = frontend.frame_lengths(lens, wavs.shape[1], feats.shape[1])
        if "feature_normalization" in self.modules:  # global statistics, gathered in the first epoch
            feats = self.modules.feature_normalization(feats, lens, epoch=self.hparams.epoch_counter.current)
        feats = self.augmentation.features(feats, lens, stage)  # off in the paper
        return self.modules.emotion_model(feats, lens)

    def compute_objectives(self, embeddings, batch, stage):
        """NLL of each utterance through its own corpus's head (Section III-D); outside training, record every
        head's prediction (and, when testing, the embedding) of every utterance."""
        corpora = list(batch.corpus)
        targets = batch.target_index.data[:, 0].to(self.device)
        heads, names = self.modules.heads, unwrap_module(self.modules.heads).corpora
        trained = [i for i, corpus in enumerate(corpora) if corpus in names]
        if trained:  # through the (DDP) module's forward: the routed loss
            loss = heads(embeddings[trained], [corpora[i] for i in trained], targets[trained])
        else:  # an evaluation-only corpus (single-corpus model tested across corpora): no own head
            loss = embeddings.sum() * 0.0
        if stage != sb.Stage.TRAIN:
            with torch.no_grad():
                probabilities = {head: heads(embeddings, head).exp() for head in names}
            for i, (utt_id, wav, corpus, label) in enumerate(zip(batch.utt_id, batch.rel_wav, corpora,
                                                                 batch.target)):
                predicted = {head: self.labels[head][int(probabilities[head][i].argmax())] for head in names}
                outcome = {"id": utt_id, "wav": wav, "corpus": corpus, "true": label, "pred": predicted.get(corpus),
                           "heads": predicted}
                if stage == sb.Stage.TEST:
                    outcome["probs"] = None if corpus not in names else [
                        round(float(p), PROBABILITY_DECIMALS) for p in probabilities[corpus][i]]
                    outcome["embedding"] = embeddings[i].detach().float().cpu().numpy()
                self.outcomes.append(outcome)
        return loss

    def _fit_valid(self, valid_set, epoch, enable):
        """SpeechBrain's dev pass; without a dev set, log the epoch and keep its checkpoint (the last is tested).

        Saved here, after SpeechBrain has reset the step count of the finished epoch, so a run resumed from it
        starts the next epoch as an uninterrupted run does.
        """
        if valid_set is not None:
            return super()._fit_valid(valid_set, epoch, enable)
        self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch}, train_stats=self.train_stats)
        self.checkpointer.save_and_keep_only(meta={"epoch": epoch}, max_keys=["epoch"])
        return None

    def on_stage_start(self, stage, epoch=None):
        """Reset the collected predictions."""
        self.outcomes = []

    def corpus_metrics(self, outcomes=None):
        """Within-corpus metrics of the collected (or given) predictions, per corpus with a head (own head only)."""
        metrics = {}
        for corpus in unwrap_module(self.modules.heads).corpora:
            mine = [o for o in (self.outcomes if outcomes is None else outcomes) if o["corpus"] == corpus]
            if mine:
                metrics[corpus] = classification_metrics([o["true"] for o in mine], [o["pred"] for o in mine],
                                                         labels=self.labels[corpus])
        return metrics

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log losses and dev UAR (mean over corpora and per corpus); keep the checkpoint with the best dev UAR.

        Dev and test losses are averaged and predictions gathered over all processes first.
        """
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": round(stage_loss, 4)}
            return
        stage_loss = self.loss_over_processes(stage_loss)
        self.outcomes = gather_in_dataset_order(self.outcomes)
        metrics = self.corpus_metrics()
        mean_uar = float(np.mean([m["ua"] for m in metrics.values()])) if metrics else 0.0
        stats = {"loss": round(stage_loss, 4), "UAR": round(mean_uar, 4)}
        if len(metrics) > 1:
            stats.update({f"UAR_{corpus}": round(m["ua"], 4) for corpus, m in metrics.items()})
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch}, train_stats=self.train_stats, valid_stats=stats)
            self.checkpointer.save_and_keep_only(meta={"UAR": mean_uar, "epoch": epoch}, max_keys=["UAR"])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats)
            self.test_outcomes = list(self.outcomes)
            self.test_loss = float(stage_loss)


def dataio_prep(hparams, paths, labels):
    """Train, dev and test datasets over all corpora: ``wav`` path (and ``rel_wav``, relative to its corpus root),
    the corpus's own utterance id, corpus, the head's class ``target`` and its index in the corpus's label list,
    and (trainable front-end only) the waveform ``sig`` read at the recipe's rate (its leading and trailing
    silence cut when ``trim_silence_db`` is set).

    Arguments
    ---------
    hparams : dict
        The loaded hparams.
    paths : dict
        :func:`prepare_emotion_embeddings` output.
    labels : dict
        ``{corpus: sorted labels}``.

    Returns
    -------
    dict
        ``{"train", "valid", "test"}`` datasets (``valid`` is ``None`` without a dev set).
    """

    @sb.utils.data_pipeline.takes("corpus", "target")
    @sb.utils.data_pipeline.provides("target_index")
    def label_pipeline(corpus, target):
        return torch.LongTensor([labels[corpus].index(target)])

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        signal = load_audio(wav, hparams["sample_rate"])
        if hparams.get("trim_silence_db") is not None:  # leading and trailing silence cut (off by default)
            signal = trim_silence(signal, hparams["sample_rate"], hparams["trim_silence_db"])
        return signal

    output_keys = ["id", "utt_id", "wav", "rel_wav", "corpus", "target", "target_index"]
    pipelines = [label_pipeline]
    if not hparams["freeze_frontend"]:
        pipelines.append(audio_pipeline)
        output_keys.append("sig")
    datasets = {}
    for part in ("train", "valid", "test"):
        data = {}
        for corpus, path in sorted(paths[part].items()):
            data.update(load_manifest(path, data_root=paths["roots"][corpus]))
        datasets[part] = DynamicItemDataset(data, dynamic_items=pipelines, output_keys=output_keys) if data else None
    return datasets


def prep_options(hparams):
    """The arguments of :func:`prepare_emotion_embeddings` for a run: its corpora declared (``corpora``,
    ``train_corpora``, ``eval_corpora``, and for a single training corpus ``split_file`` / ``split``), its folders.

    Arguments
    ---------
    hparams : dict
        The loaded hparams.

    Returns
    -------
    dict
        Keyword arguments (``declarations`` holds ``{name: CorpusDeclaration}``).

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> hparams = {"corpora": {}, "data_folder": root, "corpus": "emovo", "train_corpora": ["emovo"],
    ...            "eval_corpora": ["emovo"], "split_file": None, "split": {}, "fold": 2, "seed": 0,
    ...            "balance_corpora": True, "output_folder": "out", "prep_folder": "out/prep"}
    >>> options = prep_options(hparams)
    >>> options["declarations"]["emovo"].folder == root, options["declarations"]["emovo"].split, options["fold"]
    (True, {}, 2)
    """
    declarations = run_declarations(hparams["corpora"], hparams["data_folder"], hparams["train_corpora"],
                                    hparams["eval_corpora"], split_file=hparams["split_file"],
                                    split=hparams.get("split"))
    return {"declarations": declarations, "save_folder": hparams["prep_folder"],
            "train_corpora": hparams["train_corpora"], "eval_corpora": hparams["eval_corpora"], "fold": hparams["fold"],
            "seed": hparams["seed"], "balance": hparams["balance_corpora"], "split_folder": hparams["output_folder"]}


def build_frontend_modules(hparams):
    """The front-end as the Brain uses it: wrapped in the on-disk cache when frozen, trainable otherwise.

    Returns
    -------
    dict
        ``{"cached_frontend": ...}`` or ``{"frontend": ...}``.
    """
    frontend = hparams["frontend"]
    if hparams["freeze_frontend"]:
        cache_dir = hparams["feature_cache_dir"] if hparams["cache_frontend"] else None
        return {"cached_frontend": CachedFrozenFrontend(frontend, hparams["frontend_id"], cache_dir,
                                                        layer=hparams.get("ssl_layer"),
                                                        sample_rate=hparams["sample_rate"],
                                                        trim_db=hparams.get("trim_silence_db"))}
    return {"frontend": frontend}


def build_brain(hparams, run_opts, labels):
    """The Brain with its modules (front-end, emotion model, one head per training corpus) and checkpointer.

    The trained modules (:func:`emo_lobes.lobes.emotion_embedding.emotion_embedding_modules`, which the
    inference adapter builds the same way) are added to the hparams' checkpointer, beside the epoch counter and
    the random generators' state.
    """
    trained = emotion_embedding_modules(hparams, {c: len(labels[c]) for c in hparams["train_corpora"]})
    checkpointer = hparams["checkpointer"]
    for name, module in trained.items():
        checkpointer.add_recoverable(name, module)
    modules = {**trained, **build_frontend_modules(hparams)}
    brain = EmotionEmbeddingBrain(modules=modules, opt_class=hparams["opt_class"], hparams=hparams,
                                  run_opts=run_opts, checkpointer=checkpointer)
    brain.labels = labels
    return brain


def write_outcomes(brain, hparams, label_emotions, split_info, with_dev=True):
    """Write test_results.json, embeddings.npz and cross_corpus.md from the test predictions (main process only).

    Every process computes the metrics (they are returned); only the main process writes the files.
    ``split_info`` (``{corpus: CorpusData.split_info()}``) goes into test_results.json; ``with_dev`` says which
    checkpoint was tested (best dev UAR, or the last epoch).
    """
    outcomes = brain.test_outcomes
    per_corpus = brain.corpus_metrics(outcomes)
    train_corpora = list(hparams["train_corpora"])
    own = [o for o in outcomes if o["corpus"] in train_corpora]
    if len(train_corpora) == 1:  # a single corpus: its own metrics at the top
        top = per_corpus[train_corpora[0]]
    else:  # several: pooled over corpus-qualified labels; the per-corpus UARs are in per_corpus
        top = classification_metrics([f"{o['corpus']}:{o['true']}" for o in own],
                                     [f"{o['corpus']}:{o['pred']}" for o in own],
                                     labels=[f"{c}:{label}" for c in train_corpora for label in brain.labels[c]])
    pairs = score_all_pairs(outcomes, label_emotions)
    summary = summarize_pairs(pairs)
    predictions = [{k: o[k] for k in ("id", "wav", "corpus", "true", "pred", "probs", "heads")} for o in outcomes]
    extra = {
        "recipe": "EmotionEmbeddings", "setting": hparams["setting"], "train_corpora": train_corpora,
        "eval_corpora": list(hparams["eval_corpora"]),
        "per_corpus": per_corpus, "mean_corpus_ua": float(np.mean([m["ua"] for m in per_corpus.values()])),
        "cross_corpus": {"pairs": pairs, "summary": summary}, "label_emotions": label_emotions,
        "frontend": hparams["frontend_id"], "freeze_frontend": hparams["freeze_frontend"], "split": split_info,
        "tested_checkpoint": "best dev UAR" if with_dev else "last epoch (no dev set)",
        "checkpoint_key": "UAR" if with_dev else "epoch",
        "fold": hparams["fold"], "seed": hparams["seed"], "test_loss": brain.test_loss,
    }
    if not if_main_process():
        return top, per_corpus, summary
    output_folder = hparams["output_folder"]
    write_test_results(os.path.join(output_folder, "test_results.json"), top, predictions, extra=extra)
    correct = np.array([o["pred"] is not None and o["pred"] == o["true"] for o in outcomes])
    np.savez(os.path.join(output_folder, "embeddings.npz"), ids=np.array([o["id"] for o in outcomes]),
             corpus=np.array([o["corpus"] for o in outcomes]), label=np.array([o["true"] for o in outcomes]),
             emotion=np.array([label_emotions[o["corpus"]][o["true"]] for o in outcomes]), correct=correct,
             embedding=np.stack([o["embedding"] for o in outcomes]))
    rows = [[p["source"], p["head"], p["n"], 100 * p["sentiment_ua"],
             None if p["shared_ua"] is None else 100 * p["shared_ua"], ", ".join(p["shared_classes"])] for p in pairs]
    text = markdown_table(["utterances of", "through head", "n", "UAR neg/neu/pos %", "UAR shared %", "shared"], rows)
    cells = [[mode, where, mean_std(summary[mode][where]["mean"], summary[mode][where]["std"]),
              summary[mode][where]["n"]] for mode in ("sentiment", "shared") for where in ("within", "cross")]
    text += "\n\n" + markdown_table(["mode", "pairs", "UAR % mean ± std", "n pairs"], cells)
    write_text_atomic(text + "\n", os.path.join(output_folder, "cross_corpus.md"))
    return top, per_corpus, summary


if __name__ == "__main__":
    install_excepthook()
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    ddp_init_group(run_opts)  # torchrun: join the process group (no-op for a single process)
    hparams = load_hparams_checked(hparams_file, overrides)
    lock_output_folder(hparams["output_folder"])  # a second run on this folder is refused in one line
    options = prep_options(hparams)
    check_corpus_folders(options["declarations"], hparams["data_folder"])
    for declaration in options["declarations"].values():  # checked before anything is written
        assert_not_inside(hparams["output_folder"], declaration.folder)
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"], hyperparams_to_save=hparams_file,
                                   overrides=overrides)
    install_excepthook()  # again: create_experiment_directory installs SpeechBrain's logging hook over ours
    run_on_main(prepare_emotion_embeddings, kwargs=dict(options, skip_prep=hparams["skip_prep"]))
    paths = prepare_emotion_embeddings(**options, skip_prep=True)  # the paths only, on every process
    if not os.path.isfile(paths["labels"]):
        raise EmoLobesError(f"no prepared data in {hparams['prep_folder']}", "run once without --skip_prep=True")
    with open(paths["labels"], encoding="utf-8") as labels_file:
        label_emotions = json.load(labels_file)
    with open(paths["split"], encoding="utf-8") as split_file:
        split_info = json.load(split_file)
    labels = {corpus: sorted(table) for corpus, table in label_emotions.items()}
    datasets = dataio_prep(hparams, paths, labels)
    brain = build_brain(hparams, run_opts, labels)
    brain.label_emotions = label_emotions
    with_dev = datasets["valid"] is not None  # dev: none -> fixed epochs, the last one tested
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
              train_loader_kwargs=hparams["train_dataloader_options"],
              valid_loader_kwargs=hparams["eval_dataloader_options"])
    brain.evaluate(datasets["test"], max_key="UAR" if with_dev else "epoch",
                   test_loader_kwargs=hparams["eval_dataloader_options"])
    top, per_corpus, summary = write_outcomes(brain, hparams, label_emotions, split_info, with_dev)
    if if_main_process():
        print("[EmotionEmbeddings] test UAR per corpus: "
              + ", ".join(f"{c} {100 * m['ua']:.1f}%" for c, m in per_corpus.items())
              + f"; cross-corpus UAR neg/neu/pos {mean_std(summary['sentiment']['cross']['mean'], None)}%, "
              + f"shared classes {mean_std(summary['shared']['cross']['mean'], None)}%")
    package_after_run(hparams["output_folder"])  # <output_folder>/model: EmotionClassifier.from_hparams
    leave_process_group()
