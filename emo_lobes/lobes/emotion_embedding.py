"""The shared emotion model (GRU or Transformer, last frame = emotion embedding) and one classifier head per corpus.

Alisamir, Ringeval, Portet, "Multi-corpus Affect Recognition with Emotion Embeddings and Self-Supervised
Representations of Speech", Section III-C (Fig. 1) and IV-A.

Authors: emo-lobes contributors.
"""
import torch
import torch.nn as nn
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding
from speechbrain.nnet.activations import Softmax
from speechbrain.nnet.linear import Linear

from emo_lobes.errors import EmoLobesError

#: The emotion models of the paper's grid search (Section IV-A).
MODEL_TYPES = ("gru", "transformer")
#: The paper's size grid: (layers, units); 1 x 64 was the best (Section IV-A).
SIZE_GRID = ((1, 64), (2, 128), (4, 256))


def frame_counts(lengths, max_frames):
    """Valid frames per utterance from SpeechBrain relative lengths (at least one).

    Arguments
    ---------
    lengths : torch.Tensor
        ``[batch]`` relative lengths in (0, 1].
    max_frames : int
        Frames of the padded batch.

    Returns
    -------
    torch.Tensor
        ``[batch]`` int64 counts.

    Example
    -------
    >>> frame_counts(torch.tensor([1.0, 0.5, 0.01]), 10).tolist()
    [10, 5, 1]
    """
    return torch.round(lengths.float() * max_frames).long().clamp(1, max_frames)


class EmotionEmbeddingModel(nn.Module):
    """The shared emotion model: a GRU (or a Transformer encoder) whose last frame's output is the embedding.

    Section III-C: "we can use a GRU for the emotion model and pick the last frame's output as the emotion
    embedding". The last frame is each utterance's last valid frame (padding is skipped: packed sequences for
    the GRU, a key padding mask for the Transformer).

    Arguments
    ---------
    input_size : int
        Size of one acoustic frame (wav2vec2 hidden size, number of mel bands).
    model_type : str
        ``gru`` (default) or ``transformer`` (8 heads in the paper).
    num_layers : int
        Layers (1, 2 or 4 in the paper's grid).
    hidden_size : int
        Units, which is also the embedding size (64, 128 or 256 in the paper's grid).
    num_heads : int
        Attention heads of the Transformer.
    dropout : float
        Dropout between layers (the paper gives none).

    Example
    -------
    >>> model = EmotionEmbeddingModel(32)
    >>> feats = torch.randn(3, 20, 32)
    >>> emb = model(feats, torch.tensor([1.0, 0.5, 0.25]))
    >>> emb.shape, model.embedding_size
    (torch.Size([3, 64]), 64)
    >>> bool(torch.allclose(emb[1], model(feats[1:2, :10], torch.ones(1))[0], atol=1e-6))  # padding ignored
    True
    >>> EmotionEmbeddingModel(32, "transformer", num_layers=2, hidden_size=128)(feats, torch.ones(3)).shape
    torch.Size([3, 128])
    """

    def __init__(self, input_size, model_type="gru", num_layers=1, hidden_size=64, num_heads=8, dropout=0.0):
        super().__init__()
        if model_type not in MODEL_TYPES:
            raise EmoLobesError(f"unknown emotion model '{model_type}'", f"use one of {', '.join(MODEL_TYPES)}")
        if model_type == "transformer" and hidden_size % num_heads:
            raise EmoLobesError(f"hidden size {hidden_size} is not a multiple of {num_heads} heads",
                                "choose a hidden size divisible by the number of heads")
        self.model_type = model_type
        self.embedding_size = int(hidden_size)
        if model_type == "gru":
            self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                              dropout=dropout if num_layers > 1 else 0.0)
        else:
            self.input_projection = Linear(input_size=input_size, n_neurons=hidden_size)
            self.positional_encoding = PositionalEncoding(hidden_size)
            layer = nn.TransformerEncoderLayer(hidden_size, num_heads, dim_feedforward=4 * hidden_size,
                                               dropout=dropout, batch_first=True)
            self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def forward(self, feats, lengths):
        """Emotion embeddings of a padded batch.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, input_size]``.
        lengths : torch.Tensor
            ``[batch]`` relative lengths.

        Returns
        -------
        torch.Tensor
            ``[batch, hidden_size]``: each utterance's output at its last valid frame.
        """
        counts = frame_counts(lengths, feats.shape[1])
        if self.model_type == "gru" and torch.jit.is_tracing():
            # an export (TorchScript / ONNX trace; ONNX has no packed sequences): the same numbers, since a
            # forward GRU's output at the last valid frame has not yet seen the padding that follows it
            out, _ = self.gru(feats)
            return out[torch.arange(out.shape[0], device=out.device), counts - 1]
        if self.model_type == "gru":
            packed = nn.utils.rnn.pack_padded_sequence(feats, counts.cpu(), batch_first=True, enforce_sorted=False)
            _, last_hidden = self.gru(packed)
            return last_hidden[-1]  # top layer's state after each utterance's last valid frame
        x = self.input_projection(feats)
        x = x + self.positional_encoding(x)
        padding = ~length_to_mask(counts, max_len=feats.shape[1], device=feats.device).bool()
        out = self.transformer(x, src_key_padding_mask=padding)
        return out[torch.arange(out.shape[0], device=out.device), counts - 1]


class CorpusHeads(nn.Module):
    """One classifier per corpus over that corpus's own labels: Linear then log-softmax (Section III-C, item 3).

    Arguments
    ---------
    input_size : int
        Emotion embedding size.
    classes_per_corpus : dict
        ``{corpus name: number of classes}``.

    Example
    -------
    >>> heads = CorpusHeads(64, {"cafe": 7, "emodb": 7, "gemep": 12})
    >>> emb = torch.randn(4, 64)
    >>> heads(emb, "gemep").shape, sorted(heads.corpora)
    (torch.Size([4, 12]), ['cafe', 'emodb', 'gemep'])
    >>> loss = heads.routed_loss(emb, ["cafe", "cafe", "emodb", "cafe"], torch.tensor([0, 3, 6, 1]))
    >>> bool(loss == heads(emb, ["cafe", "cafe", "emodb", "cafe"], torch.tensor([0, 3, 6, 1])))  # through forward
    True
    >>> loss.backward()
    >>> heads.heads["gemep"].w.weight.grad is None, heads.heads["cafe"].w.weight.grad.abs().sum() > 0
    (True, tensor(True))
    """

    def __init__(self, input_size, classes_per_corpus):
        super().__init__()
        if not classes_per_corpus:
            raise EmoLobesError("no corpus to build a classifier head for", "list at least one training corpus")
        self.heads = nn.ModuleDict()
        for corpus, n_classes in sorted(classes_per_corpus.items()):
            if "." in corpus or not corpus:
                raise EmoLobesError(f"corpus name '{corpus}' cannot name a head", "use a name without dots")
            self.heads[corpus] = Linear(input_size=input_size, n_neurons=int(n_classes))
        self.log_softmax = Softmax(apply_log=True)

    @property
    def corpora(self):
        """The corpora that have a head."""
        return list(self.heads.keys())

    def forward(self, embeddings, corpus, targets=None):
        """Log class probabilities of ``corpus``'s labels for every embedding; with ``targets``, the routed loss.

        The loss is reachable through ``forward`` so that a ``DistributedDataParallel`` wrapper runs it: DDP then
        sees which heads the batch used (the others get no gradient, as in a single process).

        Arguments
        ---------
        embeddings : torch.Tensor
            ``[batch, input_size]``.
        corpus : str or list of str
            Whose head to use; with ``targets``, the corpus of each utterance.
        targets : torch.Tensor, optional
            ``[batch]`` class indices: return :meth:`routed_loss` instead.

        Returns
        -------
        torch.Tensor
            ``[batch, n_classes of corpus]``, or the scalar loss.
        """
        if targets is not None:
            return self.routed_loss(embeddings, corpus, targets)
        if corpus not in self.heads:
            raise EmoLobesError(f"no classifier head for corpus '{corpus}'", f"use one of {', '.join(self.corpora)}")
        return self.log_softmax(self.heads[corpus](embeddings))

    def routed_loss(self, embeddings, corpora, targets):
        """Mean negative log-likelihood, each utterance through its own corpus's head only (Section III-D).

        A batch may mix corpora: utterances are grouped by corpus, each group goes through its head, and the
        summed losses are divided by the batch size. Heads of corpora absent from the batch get no gradient.

        Arguments
        ---------
        embeddings : torch.Tensor
            ``[batch, input_size]``.
        corpora : list of str
            The corpus of each utterance.
        targets : torch.Tensor
            ``[batch]`` class indices in each utterance's own corpus's label set.

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        total = embeddings.new_zeros(())
        for corpus in sorted(set(corpora)):
            index = torch.tensor([i for i, c in enumerate(corpora) if c == corpus], device=embeddings.device)
            log_probs = self.forward(embeddings[index], corpus)
            total = total + nn.functional.nll_loss(log_probs, targets[index], reduction="sum")
        return total / len(corpora)


def emotion_embedding_modules(hparams, classes_per_corpus):
    """The trained modules of an EmotionEmbeddings experiment, built from its hparams (training and inference).

    Arguments
    ---------
    hparams : dict
        The recipe's loaded hparams: ``frontend``, ``feature_size`` (``None``: the front-end's ``output_size``),
        ``emotion_model`` and ``heads`` (partials), ``feature_normalization`` (a module or ``None``) and
        ``freeze_frontend``.
    classes_per_corpus : dict
        ``{training corpus: number of its labels}``, one head each.

    Returns
    -------
    dict
        ``{name: module}`` of every module the checkpoints hold: ``emotion_model``, ``heads``, and
        ``feature_normalization`` (when used) and ``frontend`` (when trained).

    Example
    -------
    >>> from functools import partial
    >>> from speechbrain.lobes.features import Fbank
    >>> hparams = {"frontend": Fbank(n_mels=40), "feature_size": 40, "feature_normalization": None,
    ...            "freeze_frontend": True, "heads": CorpusHeads,
    ...            "emotion_model": partial(EmotionEmbeddingModel, hidden_size=16)}
    >>> modules = emotion_embedding_modules(hparams, {"cafe": 7, "emodb": 7})
    >>> sorted(modules), modules["heads"].corpora, modules["emotion_model"].embedding_size
    (['emotion_model', 'heads'], ['cafe', 'emodb'], 16)
    """
    feature_size = hparams["feature_size"] or hparams["frontend"].output_size
    emotion_model = hparams["emotion_model"](input_size=feature_size)
    heads = hparams["heads"](input_size=emotion_model.embedding_size, classes_per_corpus=classes_per_corpus)
    modules = {"emotion_model": emotion_model, "heads": heads}
    if hparams["feature_normalization"] is not None:
        modules["feature_normalization"] = hparams["feature_normalization"]
    if not hparams["freeze_frontend"]:
        modules["frontend"] = hparams["frontend"]
    return modules
