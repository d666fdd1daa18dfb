"""Stacked LSTM emotion classifier of the Language-ID MTL paper (Section 4.1), with transfer and language heads.

Authors: emo-lobes contributors, after the cross-lingual SER paper with language ID as auxiliary task
(Sections 4.1-4.3, Figures 1-2).
"""
import torch
import torch.nn as nn
from speechbrain.nnet.activations import Softmax
from speechbrain.nnet.losses import nll_loss
from speechbrain.nnet.RNN import LSTM


def last_valid_frame(sequence, lengths=None):
    """The output at each sequence's last real frame (the last frame of the tensor when ``lengths`` is None).

    Arguments
    ---------
    sequence : torch.Tensor
        ``[batch, time, channels]``.
    lengths : torch.Tensor, optional
        Relative lengths in (0, 1], SpeechBrain's convention.

    Returns
    -------
    torch.Tensor
        ``[batch, channels]``.

    Example
    -------
    >>> seq = torch.arange(12.0).view(2, 3, 2)
    >>> last_valid_frame(seq, torch.tensor([1.0, 1 / 3]))
    tensor([[4., 5.],
            [6., 7.]])
    >>> last_valid_frame(seq)[1]
    tensor([10., 11.])
    """
    if lengths is None:
        return sequence[:, -1]
    steps = sequence.shape[1]
    last = (lengths.to(sequence.device) * steps).round().long().clamp(1, steps) - 1
    index = last.view(-1, 1, 1).expand(-1, 1, sequence.shape[2])
    return sequence.gather(1, index).squeeze(1)


def pad_to_frames(feats, lengths, n_frames):
    """Zero-pad a batch of frame sequences to at least ``n_frames`` frames, relative lengths rescaled to match.

    Section 4.1: with ``use_lengths: False`` every MFCC sequence is padded to exactly ``max_frames`` frames (the
    cache already clipped longer ones) and the LSTM reads all of them, as the paper's Keras model did.

    Arguments
    ---------
    feats : torch.Tensor
        ``[batch, frames, channels]``.
    lengths : torch.Tensor
        ``[batch]`` relative lengths.
    n_frames : int
        Frames after padding.

    Returns
    -------
    tuple
        ``(feats [batch, max(frames, n_frames), channels], lengths)``.

    Example
    -------
    >>> feats, lengths = pad_to_frames(torch.ones(2, 3, 13), torch.tensor([1.0, 2 / 3]), 6)
    >>> feats.shape, lengths.tolist(), float(feats[:, 3:].abs().sum())
    (torch.Size([2, 6, 13]), [0.5, 0.3333333432674408], 0.0)
    """
    frames = feats.shape[1]
    feats = nn.functional.pad(feats, (0, 0, 0, max(0, n_frames - frames)))
    return feats, lengths * frames / feats.shape[1]


class LSTMClassifier(nn.Module):
    """LSTM layers -> (optional extra dense layer) -> dense softmax over emotions; optional language-ID head.

    - Section 4.1: 2 LSTM layers of 128 cells, a dense layer of 5 with softmax.
    - Section 4.2 (transfer): ``extra_dense_size`` adds the dense layer "before the final dense layer with
      softmax"; :meth:`freeze_for_transfer` then leaves only that penultimate layer trainable.
    - Section 4.3 (multi-task, Figure 2): ``n_languages`` adds a second dense softmax head on the shared LSTM
      summary.

    The summary of an utterance is the LSTM output at its last real frame (the paper's Keras LSTM returns the
    output of its last step). With ``lengths`` the LSTM runs on packed sequences, so zero padding does not
    change it; without ``lengths`` every frame, padding included, is read, as in the paper.

    Arguments
    ---------
    input_size : int
        Features per frame (13 MFCCs, or 384 IS09 functionals as a one-frame sequence).
    n_classes : int
        Emotion classes (5).
    hidden_size : int
        LSTM cells per layer (128).
    num_layers : int
        LSTM layers (2).
    extra_dense_size : int
        Units of the extra (penultimate) dense + ReLU layer; 0 for none.
    n_languages : int
        Classes of the language-ID head; 0 for none.
    dropout : float
        Dropout between LSTM layers (the paper gives none).

    Example
    -------
    >>> model = LSTMClassifier(input_size=13, hidden_size=16, extra_dense_size=8, n_languages=4)
    >>> x, lengths = torch.randn(3, 120, 13), torch.tensor([1.0, 0.5, 0.25])
    >>> summary = model.encode(x, lengths)
    >>> summary.shape, model.classify_emotion(summary).shape, model.classify_language(summary).shape
    (torch.Size([3, 16]), torch.Size([3, 5]), torch.Size([3, 4]))
    >>> torch.allclose(model(x, lengths).exp().sum(dim=1), torch.ones(3))
    True
    >>> [t.shape for t in model(x, lengths, with_language=True)]
    [torch.Size([3, 5]), torch.Size([3, 4])]
    """

    def __init__(
        self, input_size, n_classes=5, hidden_size=128, num_layers=2, extra_dense_size=0, n_languages=0, dropout=0.0
    ):
        super().__init__()
        self.lstm = LSTM(hidden_size, input_size=input_size, num_layers=num_layers, dropout=dropout)
        self.extra_dense = None
        emotion_input = hidden_size
        if extra_dense_size:
            self.extra_dense = nn.Sequential(nn.Linear(hidden_size, extra_dense_size), nn.ReLU())
            emotion_input = extra_dense_size
        self.emotion_head = nn.Linear(emotion_input, n_classes)
        self.language_head = nn.Linear(hidden_size, n_languages) if n_languages else None
        self.softmax = Softmax(apply_log=True)
        self.encoder_frozen = False

    def encode(self, x, lengths=None):
        """The shared LSTM summary of a batch.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, time, input_size]``.
        lengths : torch.Tensor, optional
            Relative lengths; ``None`` reads every frame.

        Returns
        -------
        torch.Tensor
            ``[batch, hidden_size]``.
        """
        output, _ = self.lstm(x, lengths=lengths)
        return last_valid_frame(output, lengths)

    def classify_emotion(self, summary):
        """Emotion log-probabilities ``[batch, n_classes]`` from :meth:`encode`'s summary."""
        hidden = summary if self.extra_dense is None else self.extra_dense(summary)
        return self.softmax(self.emotion_head(hidden))

    def classify_language(self, summary):
        """Language-ID log-probabilities ``[batch, n_languages]`` from :meth:`encode`'s summary."""
        if self.language_head is None:
            raise ValueError("this LSTMClassifier has no language head (n_languages=0)")
        return self.softmax(self.language_head(summary))

    def forward(self, x, lengths=None, with_language=False):
        """Emotion log-probabilities ``[batch, n_classes]`` of a batch of feature sequences; with ``with_language``,
        ``(emotion, language)`` log-probabilities from the one shared summary (multi-task training calls the model
        this way, so that under DDP every trained parameter is reached through ``forward``)."""
        summary = self.encode(x, lengths)
        if with_language:
            return self.classify_emotion(summary), self.classify_language(summary)
        return self.classify_emotion(summary)

    def freeze_for_transfer(self, train_output_layer=False):
        """Freeze the LSTM (and the output layer) so that fine-tuning trains the penultimate dense layer only.

        Section 4.2: "freeze the weights of LSTM layers i.e. only trainable weights in the classifier remain
        those of the penultimate dense layer". The LSTM is also kept in eval mode from now on (no dropout).

        Arguments
        ---------
        train_output_layer : bool
            Also fine-tune the final softmax layer.

        Returns
        -------
        list of str
            Names of the parameters left trainable.

        Example
        -------
        >>> model = LSTMClassifier(input_size=13, hidden_size=8, extra_dense_size=4)
        >>> model.freeze_for_transfer()
        ['extra_dense.0.weight', 'extra_dense.0.bias']
        >>> _ = model.train()
        >>> model.lstm.training
        False
        """
        if self.extra_dense is None:
            raise ValueError("transfer needs the extra dense layer: build the model with extra_dense_size > 0")
        frozen = [self.lstm] + ([] if train_output_layer else [self.emotion_head])
        if self.language_head is not None:
            frozen.append(self.language_head)
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        self.encoder_frozen = True
        self.lstm.train(False)
        return [name for name, parameter in self.named_parameters() if parameter.requires_grad]

    def train(self, mode=True):
        """Set training mode; a frozen LSTM stays in eval mode."""
        super().train(mode)
        if self.encoder_frozen:
            self.lstm.train(False)
        return self


def multitask_loss(emotion_log_probs, emotion_targets, language_log_probs=None, language_targets=None,
                   language_weight=1.0):
    """Emotion NLL plus ``language_weight`` times the language-ID NLL (Section 4.3, Figure 2).

    The paper gives no weighting of the two tasks; 1.0 adds them as they are.

    Arguments
    ---------
    emotion_log_probs : torch.Tensor
        ``[batch, n_classes]`` log-probabilities.
    emotion_targets : torch.Tensor
        ``[batch]`` class indices.
    language_log_probs : torch.Tensor, optional
        ``[batch, n_languages]``; ``None`` gives the single-task loss.
    language_targets : torch.Tensor, optional
        ``[batch]`` language indices.
    language_weight : float
        Weight of the language term.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> emotion = torch.log_softmax(torch.zeros(2, 5), dim=1)
    >>> language = torch.log_softmax(torch.zeros(2, 4), dim=1)
    >>> targets = torch.tensor([0, 1])
    >>> round(float(multitask_loss(emotion, targets)), 4), round(float(torch.log(torch.tensor(5.0))), 4)
    (1.6094, 1.6094)
    >>> round(float(multitask_loss(emotion, targets, language, targets, 0.5)), 4)
    2.3026
    """
    loss = nll_loss(emotion_log_probs.unsqueeze(1), emotion_targets.view(-1, 1))
    if language_log_probs is not None:
        loss = loss + language_weight * nll_loss(language_log_probs.unsqueeze(1), language_targets.view(-1, 1))
    return loss
