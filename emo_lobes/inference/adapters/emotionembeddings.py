"""Inference adapter of the EmotionEmbeddings recipe: waveform -> front-end -> shared emotion model -> corpus heads."""
import json
import os

import torch

from emo_lobes.data.audio import trim_silence
from emo_lobes.errors import EmoLobesError
from emo_lobes.features.frontend_cache import (batch_matches_utterances, call_frontend, fbank_frame_lengths,
                                               utterance_frames)
from emo_lobes.inference.classifier import EmotionClassifier, RecipeAdapter, register_adapter  # noqa: F401 (examples)
from emo_lobes.lobes.emotion_embedding import emotion_embedding_modules


def head_labels(experiment_folder):
    """``{corpus: sorted labels}`` of every corpus of a finished run (``label_emotions`` of its test_results.json).

    Arguments
    ---------
    experiment_folder : str
        The run's output folder.

    Returns
    -------
    dict
        The labels of each corpus, in the order of its head's outputs.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> results = {"recipe": "EmotionEmbeddings", "label_emotions": {"emodb": {"W": "angry", "A": "fear"}}}
    >>> _ = open(os.path.join(folder, "test_results.json"), "w").write(json.dumps(results))
    >>> head_labels(folder)
    {'emodb': ['A', 'W']}
    """
    tables = _finished_results(experiment_folder)["label_emotions"]
    return {corpus: sorted(table) for corpus, table in tables.items()}


def _results_folder(checkpoints_dir):
    # A model package holds test_results.json beside its weights (checkpoints_dir is the package); an experiment
    # holds it above save/.
    folder = os.path.abspath(str(checkpoints_dir))
    return folder if os.path.isfile(os.path.join(folder, "test_results.json")) else os.path.dirname(folder)


def _finished_results(experiment_folder):
    # The run's test_results.json, refused in one line when the run did not finish.
    path = os.path.join(experiment_folder, "test_results.json")
    try:
        with open(path, encoding="utf-8") as fin:
            results = json.load(fin)
        if not isinstance(results.get("label_emotions"), dict):
            raise KeyError("label_emotions")
    except (OSError, ValueError, KeyError, AttributeError):
        raise EmoLobesError(f"{experiment_folder} holds no finished EmotionEmbeddings run (no label_emotions in "
                            "test_results.json)", "give the output folder of a train.py run that finished") from None
    return results


@register_adapter("EmotionEmbeddings")
class EmotionEmbeddingsAdapter(RecipeAdapter):
    """EmotionEmbeddings (recipes/EmotionEmbeddings): front-end -> emotion model -> embedding -> every corpus head.

    The front-end is rebuilt from the experiment's hparams (log mel filterbank, or wav2vec2 from its
    ``ssl_source``: a hub id or a local folder; a fine-tuned one is filled from the checkpoint). A frozen SSL
    front-end runs on each file alone, as the recipe's cache computed it; a frozen log-mel ``Fbank`` runs on the
    padded batch, which gives each file the same frames (``batch_matches_utterances``). The emotion model's output
    (the last frame of the GRU) is the **emotion embedding**; ``label`` and ``probabilities`` are those of one head
    (:attr:`head`, default the first training corpus; :meth:`use_head` picks another), and ``heads`` holds every
    head's (``{corpus: {"label", "probabilities"}}``). The checkpoint is the one the run tested: the best dev UAR,
    or the last epoch for a run without a dev set (``checkpoint_key`` of its ``test_results.json``).

    Arguments
    ---------
    hparams : dict
        The experiment's loaded ``hyperparams.yaml`` (its checkpointer on the experiment's ``save/``).
    labels : list of str
        Ignored: each head's labels come from the experiment's ``test_results.json``.

    Example
    -------
    >>> import tempfile
    >>> from speechbrain.lobes.features import Fbank
    >>> from emo_lobes.training.checkpoints import AtomicCheckpointer
    >>> from emo_lobes.lobes.emotion_embedding import CorpusHeads, EmotionEmbeddingModel
    >>> folder = tempfile.mkdtemp()
    >>> tables = {"cafe": {"Joie": "happy", "Colère": "angry"}, "emodb": {"F": "happy", "W": "angry", "T": "sad"}}
    >>> _ = open(os.path.join(folder, "test_results.json"), "w").write(json.dumps({"label_emotions": tables}))
    >>> hparams = {"checkpointer": AtomicCheckpointer(os.path.join(folder, "save")), "sample_rate": 16000,
    ...            "train_corpora": ["cafe", "emodb"], "frontend": Fbank(n_mels=40), "feature_size": 40,
    ...            "feature_normalization": None, "freeze_frontend": True, "heads": CorpusHeads,
    ...            "emotion_model": lambda input_size: EmotionEmbeddingModel(input_size, hidden_size=8)}
    >>> adapter = EmotionEmbeddingsAdapter(hparams)
    >>> probabilities, predicted, embeddings, every = adapter.scores(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> adapter.labels, probabilities.shape, embeddings.shape   # the first training corpus's head
    (['Colère', 'Joie'], torch.Size([2, 2]), torch.Size([2, 8]))
    >>> {corpus: (labels, tuple(p.shape)) for corpus, (labels, p) in every.items()}
    {'cafe': (['Colère', 'Joie'], (2, 2)), 'emodb': (['F', 'T', 'W'], (2, 3))}
    >>> adapter.use_head("emodb"); adapter.labels, adapter.scores(torch.randn(1, 8000), torch.ones(1))[0].shape
    (['F', 'T', 'W'], torch.Size([1, 3]))
    >>> sorted(hparams["checkpointer"].recoverables)   # filled from the best checkpoint by from_experiment
    ['emotion_model', 'heads']
    """

    best_checkpoint = {"max_key": "UAR"}

    def __init__(self, hparams, labels=None):
        experiment = _results_folder(hparams["checkpointer"].checkpoints_dir)
        self.corpus_labels = head_labels(experiment)
        self.best_checkpoint = {"max_key": _finished_results(experiment).get("checkpoint_key", "UAR")}
        self.train_corpora = list(hparams["train_corpora"])
        missing = [corpus for corpus in self.train_corpora if corpus not in self.corpus_labels]
        if missing:
            raise EmoLobesError(f"no labels of {', '.join(missing)} in {experiment}/test_results.json",
                                "give the output folder of a train.py run that finished")
        self.trained = emotion_embedding_modules(
            hparams, {corpus: len(self.corpus_labels[corpus]) for corpus in self.train_corpora})
        for name, module in self.trained.items():  # filled from the best checkpoint (tensors only) by the caller
            hparams["checkpointer"].add_recoverable(name, module)
        self.head = self.train_corpora[0]
        super().__init__(hparams, self.corpus_labels[self.head])

    @classmethod
    def package_files(cls, experiment_folder):
        """``test_results.json``: each head's labels and the tested checkpoint's key, for a model folder that is
        loaded away from its experiment (copied, or from a hub)."""
        return ["test_results.json"]

    def use_head(self, corpus):
        """Make ``label`` and ``probabilities`` those of ``corpus``'s head (a training corpus of the run).

        ``EmotionClassifier.from_experiment(folder, head=corpus)`` and ``tools/classify.py --head`` call it.

        Example
        -------
        >>> import tempfile, soundfile as sf
        >>> folder = _toy_experiment(tempfile.mkdtemp())   # an untrained two-corpus log-mel experiment
        >>> classifier = EmotionClassifier.from_experiment(folder, head="emodb")
        >>> wav = os.path.join(folder, "a.wav"); sf.write(wav, torch.randn(8000).numpy() * 0.1, 16000)
        >>> result = classifier.classify_file(wav)
        >>> sorted(result["probabilities"]), result["label"] in ("F", "W"), result["embedding"].shape
        (['F', 'W'], True, torch.Size([8]))
        >>> {corpus: sorted(head["probabilities"]) for corpus, head in result["heads"].items()}   # every head
        {'cafe': ['Colère', 'Joie', 'Peur'], 'emodb': ['F', 'W']}
        """
        if corpus not in self.train_corpora:
            raise EmoLobesError(f"no classifier head for corpus '{corpus}'",
                                f"use one of {', '.join(self.train_corpora)}")
        self.head = corpus
        self.labels = list(self.corpus_labels[corpus])

    def modules(self):
        return {"frontend": self.hparams["frontend"], **self.trained}

    def embeddings(self, wavs, wav_lens):
        """Emotion embeddings ``[batch, hidden_size]`` of padded waveforms ``[batch, samples]``."""
        frontend = self.hparams["frontend"]
        trim_db = self.hparams.get("trim_silence_db")
        if trim_db is not None:  # as the recipe: each waveform without its leading and trailing silence
            samples = torch.round(wav_lens * wavs.shape[1]).long().clamp(min=1)
            trimmed = [trim_silence(wavs[i, :int(samples[i])], self.hparams["sample_rate"], trim_db)
                       for i in range(len(wavs))]
            counts = torch.tensor([t.shape[0] for t in trimmed], dtype=torch.float32, device=wavs.device)
            wavs, wav_lens = torch.nn.utils.rnn.pad_sequence(trimmed, batch_first=True), counts / counts.max()
        frozen = self.hparams["freeze_frontend"]
        if frozen and not batch_matches_utterances(frontend):
            # each file alone, unpadded, as the recipe's cache computed it (an SSL model sees a batch's padding)
            samples = torch.round(wav_lens * wavs.shape[1]).long().clamp(min=1)
            frames = [utterance_frames(frontend, wavs[i, :int(samples[i])]) for i in range(len(wavs))]
            counts = torch.tensor([f.shape[0] for f in frames], dtype=torch.float32, device=wavs.device)
            feats, lens = torch.nn.utils.rnn.pad_sequence(frames, batch_first=True), counts / counts.max()
        else:
            feats, lens = call_frontend(frontend, wavs, wav_lens), wav_lens  # Fbank takes the waveforms only
            if hasattr(frontend, "frame_lengths"):  # as the recipe: exact valid frames of each utterance
                lens = frontend.frame_lengths(wav_lens, wavs.shape[1], feats.shape[1])
            elif frozen:  # a log-mel Fbank: the batch gives each file's own frames; their counts as the cache's
                lens = fbank_frame_lengths(frontend, wav_lens, wavs.shape[1], feats.shape[1])
        if "feature_normalization" in self.trained:
            feats = self.trained["feature_normalization"](feats, lens)
        return self.trained["emotion_model"](feats, lens)

    def scores(self, wavs, wav_lens):
        """The chosen head's probabilities and predictions, the embeddings, and every head's probabilities."""
        embeddings = self.embeddings(wavs, wav_lens)
        heads = self.trained["heads"]
        every = {corpus: (self.corpus_labels[corpus], heads(embeddings, corpus).exp()) for corpus in heads.corpora}
        probabilities = every[self.head][1]
        return probabilities, probabilities.argmax(dim=-1), embeddings, every


def _toy_experiment(folder):
    # An untrained two-corpus log-mel experiment folder (hyperparams.yaml, test_results.json, one checkpoint), for
    # the example of use_head: what a finished run leaves, minus the training.
    text = """sample_rate: 16000
train_corpora: [cafe, emodb]
freeze_frontend: True
feature_size: 40
feature_normalization: null
frontend: !new:speechbrain.lobes.features.Fbank {n_mels: 40}
emotion_model: !name:emo_lobes.lobes.emotion_embedding.EmotionEmbeddingModel {hidden_size: 8}
heads: !name:emo_lobes.lobes.emotion_embedding.CorpusHeads
checkpointer: !new:emo_lobes.training.checkpoints.AtomicCheckpointer {checkpoints_dir: save}
"""
    with open(os.path.join(folder, "hyperparams.yaml"), "w", encoding="utf-8") as out:
        out.write(text)
    tables = {"cafe": {"Joie": "happy", "Colère": "angry", "Peur": "fear"}, "emodb": {"F": "happy", "W": "angry"}}
    with open(os.path.join(folder, "test_results.json"), "w", encoding="utf-8") as out:
        json.dump({"recipe": "EmotionEmbeddings", "label_emotions": tables}, out)
    from hyperpyyaml import load_hyperpyyaml

    hparams = load_hyperpyyaml(text, {"checkpointer": {"checkpoints_dir": os.path.join(folder, "save")}})
    EmotionEmbeddingsAdapter(hparams)
    hparams["checkpointer"].save_checkpoint(meta={"UAR": 0.5})
    return folder
