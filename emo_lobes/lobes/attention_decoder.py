"""Tripathi & Beigi's speech model: a BiLSTM, a bidirectional Bahdanau attention decoder, flatten, dense, softmax.

The language-ID paper (Section 6.2) reproduces "the same LSTM model as their best performing model" on their IEMOCAP
setting (55.65 % accuracy). Neither paper spells the model out; it is the speech-only model of the authors' public
code (github.com/Samarth-Tripathi/IEMOCAP-Emotion-Detection, ``Speech.ipynb``), read there and written here in
PyTorch: ``Bidirectional(LSTM(128, return_sequences=True))`` on ``(100, 34)`` frames,
``Bidirectional(AttentionDecoder(128, 128))``, ``Flatten``, ``Dense(512)`` + ReLU, ``Dense(4)`` + softmax, Keras's
initialisers (Glorot-uniform kernels, orthogonal recurrent weights, zero biases, LSTM forget bias 1).
Nothing in SpeechBrain or torch has this decoder (an attention GRU-like recurrence whose every step emits a softmax),
so it is ours.
"""
import math

import torch
from torch import nn

from speechbrain.nnet.activations import Softmax


def _glorot_uniform_(tensor):
    # Keras's glorot_uniform: fans of a matrix are its two sizes; a vector's are both sqrt(size) (Keras 2's rule).
    fan_in, fan_out = tensor.shape if tensor.dim() == 2 else (math.sqrt(tensor.numel()),) * 2
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-limit, limit)


class BahdanauAttentionDecoder(nn.Module):
    """An attention decoder over a whole sequence (Bahdanau et al., 2014, Appendix 2), one softmax per step.

    At step ``t`` (as many steps as input frames), with state ``s`` and previous output ``y`` (zeros at first;
    ``s`` starts at ``tanh(x_1 W_s)``): attention weights ``a_j = softmax_j(v^T tanh(s W_a + x_j U_a + b_a))`` over
    every input frame, context ``c = sum_j a_j x_j``, GRU-like gates ``r, z = sigmoid(y W + s U + c C + b)``,
    proposal ``p = tanh(y W_p + (r * s) U_p + c C_p + b_p)``, output ``y_t = softmax(y W_o + s U_o + c C_o + b_o)``
    (from the previous state) and new state ``s = (1 - z) s + z p``. The step reads the input only through the
    attention, as in the authors' Keras layer.

    Arguments
    ---------
    input_size : int
        Channels of the input sequence.
    units : int
        Size of the state and of the attention.
    output_size : int
        Size of each step's softmax output.

    Example
    -------
    >>> decoder = BahdanauAttentionDecoder(input_size=6, units=4, output_size=3)
    >>> y = decoder(torch.randn(2, 5, 6))
    >>> y.shape, torch.allclose(y.sum(dim=-1), torch.ones(2, 5))
    (torch.Size([2, 5, 3]), True)
    >>> sum(p.numel() for p in BahdanauAttentionDecoder(256, 128, 128).parameters())   # Keras summary: 344,832
    344832
    """

    def __init__(self, input_size, units, output_size):
        super().__init__()
        self.v_a = nn.Parameter(torch.empty(units))
        self.w_a = nn.Parameter(torch.empty(units, units))
        self.u_a = nn.Parameter(torch.empty(input_size, units))
        self.b_a = nn.Parameter(torch.zeros(units))
        # the reset (r), update (z) and proposal (p) gates, and the output (o): weights of y, s and the context
        self.gates = nn.ParameterDict()
        for gate, size in (("r", units), ("z", units), ("p", units), ("o", output_size)):
            self.gates[f"w_{gate}"] = nn.Parameter(torch.empty(output_size, size))
            self.gates[f"u_{gate}"] = nn.Parameter(torch.empty(units, size))
            self.gates[f"c_{gate}"] = nn.Parameter(torch.empty(input_size, size))
            self.gates[f"b_{gate}"] = nn.Parameter(torch.zeros(size))
        self.w_s = nn.Parameter(torch.empty(input_size, units))
        self.output_size = output_size
        self.reset_parameters()

    def reset_parameters(self):
        """Keras's initialisers of the authors' layer: Glorot-uniform attention, orthogonal gates, zero biases."""
        for weight in (self.v_a, self.w_a, self.u_a):
            _glorot_uniform_(weight)
        for name, weight in self.gates.items():
            if name.startswith("b_"):
                nn.init.zeros_(weight)
            else:
                nn.init.orthogonal_(weight)
        nn.init.orthogonal_(self.w_s)
        nn.init.zeros_(self.b_a)

    def _gate(self, name, y, s, context):
        g = self.gates
        return y @ g[f"w_{name}"] + s @ g[f"u_{name}"] + context @ g[f"c_{name}"] + g[f"b_{name}"]

    def forward(self, x):
        """``[batch, time, input_size]`` -> ``[batch, time, output_size]`` step outputs (each sums to 1)."""
        keys = x @ self.u_a + self.b_a  # [batch, time, units], the same at every step
        state = torch.tanh(x[:, 0] @ self.w_s)
        output = x.new_zeros(x.shape[0], self.output_size)
        outputs = []
        for _ in range(x.shape[1]):
            scores = torch.tanh(keys + (state @ self.w_a)[:, None, :]) @ self.v_a  # [batch, time]
            context = torch.bmm(torch.softmax(scores, dim=1)[:, None, :], x)[:, 0]
            reset = torch.sigmoid(self._gate("r", output, state, context))
            update = torch.sigmoid(self._gate("z", output, state, context))
            proposal = torch.tanh(self._gate("p", output, reset * state, context))
            output = torch.softmax(self._gate("o", output, state, context), dim=-1)
            state = (1 - update) * state + update * proposal
            outputs.append(output)
        return torch.stack(outputs, dim=1)


class AttentionDecoderClassifier(nn.Module):
    """Tripathi & Beigi's speech model on a fixed number of frames: BiLSTM -> bidirectional attention decoder ->
    flatten -> dense + ReLU -> emotion softmax.

    The backward LSTM reads the time-reversed sequence (Keras's ``Bidirectional``). The backward decoder is, as in the
    authors' Keras 2 layer, the same recurrence with its own weights: Keras computes its start state from the
    unreversed input (``x_1``) and its attention reads the unreversed sequence, so reversing only changes the order
    of its steps' outputs, which ``Bidirectional`` reverses back: here, its outputs reversed in time. Inputs are
    zero-padded or cut to ``n_frames`` (the flatten fixes the length; the authors' model reads the padding too).
    Parameters: 13,967,364 at the authors' sizes, the authors' Keras summary's 13,966,340 plus 1,024 from PyTorch's
    second LSTM bias (``bias_hh``, zero at start).

    Arguments
    ---------
    input_size : int
        Features per frame (34 short-term features).
    n_classes : int
        Emotion classes (4).
    n_frames : int
        Frames read (100).
    lstm_size : int
        LSTM cells per direction (128).
    decoder_units : int
        State size of each decoder direction (128).
    decoder_output_size : int
        Softmax size of each decoder step (128).
    dense_size : int
        The dense + ReLU layer (512).

    Example
    -------
    >>> model = AttentionDecoderClassifier(input_size=34, n_classes=4, n_frames=10, lstm_size=4, decoder_units=3,
    ...                                    decoder_output_size=5, dense_size=6)
    >>> log_probs = model(torch.randn(2, 7, 34))   # padded to 10 frames
    >>> log_probs.shape, torch.allclose(log_probs.exp().sum(dim=1), torch.ones(2))
    (torch.Size([2, 4]), True)
    >>> model.encode(torch.randn(2, 12, 34)).shape   # cut to 10 frames
    torch.Size([2, 6])
    >>> sum(p.numel() for p in AttentionDecoderClassifier(34, 4).parameters())
    13967364
    """

    def __init__(self, input_size, n_classes=4, n_frames=100, lstm_size=128, decoder_units=128,
                 decoder_output_size=128, dense_size=512):
        super().__init__()
        self.n_frames = n_frames
        self.lstm = nn.LSTM(input_size, lstm_size, batch_first=True, bidirectional=True)
        self.forward_decoder = BahdanauAttentionDecoder(2 * lstm_size, decoder_units, decoder_output_size)
        self.backward_decoder = BahdanauAttentionDecoder(2 * lstm_size, decoder_units, decoder_output_size)
        self.dense = nn.Sequential(nn.Linear(n_frames * 2 * decoder_output_size, dense_size), nn.ReLU())
        self.emotion_head = nn.Linear(dense_size, n_classes)
        self.language_head = None  # no language-ID task (LanguageMTL's multi-task mode needs LSTMClassifier)
        self.softmax = Softmax(apply_log=True)
        self.reset_parameters()

    def reset_parameters(self):
        """Keras's initialisers: Glorot-uniform kernels, orthogonal recurrent weights, zero biases, forget bias 1."""
        for name, weight in self.lstm.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(weight)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(weight)
            else:
                nn.init.zeros_(weight)
                if name.startswith("bias_ih"):  # gate order i, f, g, o as Keras's i, f, c, o
                    size = weight.shape[0] // 4
                    nn.init.ones_(weight[size:2 * size])
        for layer in (self.dense[0], self.emotion_head):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def encode(self, x, lengths=None):
        """The dense + ReLU layer's output ``[batch, dense_size]`` of ``[batch, frames, input_size]`` frames
        (``lengths`` is not used: every one of the ``n_frames`` frames is read, padding included)."""
        frames = x.shape[1]
        x = nn.functional.pad(x, (0, 0, 0, max(0, self.n_frames - frames)))[:, :self.n_frames]
        sequence, _ = self.lstm(x)
        forward = self.forward_decoder(sequence)
        backward = self.backward_decoder(sequence).flip(1)
        return self.dense(torch.cat([forward, backward], dim=-1).flatten(1))

    def classify_emotion(self, summary):
        """Emotion log-probabilities ``[batch, n_classes]`` from :meth:`encode`'s output."""
        return self.softmax(self.emotion_head(summary))

    def forward(self, x, lengths=None, with_language=False):
        """Emotion log-probabilities ``[batch, n_classes]`` (no language head: ``with_language`` must be False)."""
        if with_language:
            raise ValueError("AttentionDecoderClassifier has no language head: use LSTMClassifier for multi-task")
        return self.classify_emotion(self.encode(x, lengths))
