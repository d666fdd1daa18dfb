"""CNN-BLSTM-attention spectrogram encoder and dense classifier of the MLEE paper (Table 2), masked for padding."""
import torch
import torch.nn as nn
from speechbrain.dataio.dataio import length_to_mask
from speechbrain.nnet.linear import Linear


def conv_output_length(length, kernel_size, stride, padding):
    """Output length of a convolution or pooling along one axis (PyTorch's floor formula).

    Arguments
    ---------
    length : int or torch.Tensor
        Input length(s).
    kernel_size, stride, padding : int
        The layer's settings along that axis (``padding`` on each side).

    Returns
    -------
    int or torch.Tensor
        ``floor((length + 2 * padding - kernel_size) / stride) + 1``.

    Example
    -------
    >>> conv_output_length(400, 16, 2, 8), conv_output_length(torch.tensor([7, 8]), 2, 2, 0)
    (201, tensor([3, 4]))
    """
    return (length + 2 * padding - kernel_size) // stride + 1


class ConvBlock(nn.Module):
    """2-D convolution, batch norm, ReLU and max pooling on ``[batch, channels, time, freq]`` maps.

    Convolutions zero-pad ``kernel // 2`` on each side; frames past each utterance's output length are set to
    zero after pooling, so the next block sees exactly the zero padding it would see for that utterance alone.

    Arguments
    ---------
    in_channels : int
        Input channels.
    out_channels : int
        Convolution channels.
    kernel_size : tuple of int
        ``(time, freq)`` kernel.
    stride : tuple of int
        ``(time, freq)`` stride.
    pool_size : tuple of int
        ``(time, freq)`` max-pooling window (and stride).

    Example
    -------
    >>> block = ConvBlock(1, 16, (12, 16), (2, 2))
    >>> out, lengths = block(torch.randn(3, 1, 100, 400), torch.tensor([100, 60, 31]))
    >>> out.shape, lengths.tolist()
    (torch.Size([3, 16, 25, 100]), [25, 15, 8])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=(1, 1), pool_size=(2, 2)):
        super().__init__()
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.padding = tuple(k // 2 for k in self.kernel_size)
        self.pool_size = tuple(pool_size)
        # torch's Conv2d with explicit zero padding: SpeechBrain's Conv2d "same" pads by reflection by default,
        # which would make the last frames of an utterance depend on the padding of the batch.
        self.conv = nn.Conv2d(in_channels, out_channels, self.kernel_size, self.stride, self.padding)
        self.norm = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU()
        self.pool = nn.MaxPool2d(self.pool_size)

    def output_size(self, size, axis):
        """Output size along ``axis`` (0: time, 1: frequency) for an input of ``size`` (int or tensor)."""
        size = conv_output_length(size, self.kernel_size[axis], self.stride[axis], self.padding[axis])
        return conv_output_length(size, self.pool_size[axis], self.pool_size[axis], 0)

    def forward(self, x, lengths):
        """Apply the block.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, in_channels, time, freq]``, zero past each utterance's length.
        lengths : torch.Tensor
            ``[batch]`` absolute input lengths (frames).

        Returns
        -------
        x : torch.Tensor
            ``[batch, out_channels, time', freq']``, zero past each output length.
        lengths : torch.Tensor
            ``[batch]`` absolute output lengths (at least 1).
        """
        x = self.pool(self.activation(self.norm(self.conv(x))))
        lengths = self.output_size(lengths, 0).clamp(min=1)
        mask = length_to_mask(lengths, max_len=x.shape[2], dtype=x.dtype, device=x.device)
        return x * mask[:, None, :, None], lengths


class MaskedAttentionPooling(nn.Module):
    """Self-attentive pooling over time, one head: ``a = softmax(w2 tanh(W1 h_t))``, output ``sum_t a_t h_t``.

    Padded frames get zero weight. SpeechBrain's ``AttentionPooling`` has neither a mask nor the ``tanh``
    hidden layer, so this small module is written here.

    Arguments
    ---------
    input_size : int
        Feature size of ``h_t``.
    attention_size : int
        Hidden size of the scoring layer ``W1``.

    Example
    -------
    >>> pool = MaskedAttentionPooling(256, 64)
    >>> pooled, weights = pool(torch.randn(2, 7, 256), torch.tensor([7, 3]))
    >>> pooled.shape, weights.shape, weights.sum(1).round(decimals=4).tolist(), weights[1, 3:].tolist()
    (torch.Size([2, 256]), torch.Size([2, 7]), [1.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    """

    def __init__(self, input_size, attention_size=64):
        super().__init__()
        self.hidden = Linear(input_size=input_size, n_neurons=attention_size)
        self.score = Linear(input_size=attention_size, n_neurons=1, bias=False)

    def forward(self, x, lengths):
        """Pool ``x`` over time.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, time, features]``.
        lengths : torch.Tensor
            ``[batch]`` absolute lengths (frames).

        Returns
        -------
        pooled : torch.Tensor
            ``[batch, features]``.
        weights : torch.Tensor
            ``[batch, time]`` attention weights, summing to one over each utterance's frames, zero on padding.
        """
        scores = self.score(torch.tanh(self.hidden(x))).squeeze(-1)
        mask = length_to_mask(lengths, max_len=x.shape[1], device=x.device).bool()
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(weights.unsqueeze(1), x).squeeze(1), weights


class ConvBLSTMAttentionEncoder(nn.Module):
    """Spectrogram encoder of Table 2: three conv blocks, a one-layer BLSTM and masked self-attention pooling.

    Kernels and strides are ``(time, freq)``. With the paper's 400-bin input, the blocks give
    ``[B, 32, T/16, 25]`` maps (first conv stride 2, then three 2x2 poolings), flattened to 800 features per
    step (160 ms) for the BLSTM, whose outputs (``2 * lstm_size``) are pooled by attention into one vector.
    Variable lengths are handled exactly: padded frames are zeroed between blocks, the BLSTM runs on packed
    sequences and attention is masked, so (in eval mode) an utterance's output does not depend on the batch.

    Arguments
    ---------
    n_bins : int
        Frequency bins of the input.
    channels : list of int
        Output channels of the conv blocks.
    kernel_sizes : list of tuple
        ``(time, freq)`` kernel of each block.
    strides : list of tuple
        ``(time, freq)`` stride of each block's convolution.
    pool_size : tuple of int
        Max-pooling window after each convolution.
    lstm_size : int
        BLSTM hidden size per direction.
    attention_size : int
        Hidden size of the attention scoring layer.

    Example
    -------
    >>> encoder = ConvBLSTMAttentionEncoder().eval()
    >>> feats = torch.randn(2, 300, 400)
    >>> embeddings, attention = encoder(feats, torch.tensor([1.0, 0.5]))
    >>> embeddings.shape, attention.shape, encoder.output_size, encoder.frames_per_step
    (torch.Size([2, 256]), torch.Size([2, 19]), 256, 16)
    >>> encoder.output_lengths(torch.tensor([300, 150])).tolist()
    [19, 9]
    """

    def __init__(
        self,
        n_bins=400,
        channels=(16, 24, 32),
        kernel_sizes=((12, 16), (8, 12), (5, 7)),
        strides=((2, 2), (1, 1), (1, 1)),
        pool_size=(2, 2),
        lstm_size=128,
        attention_size=64,
    ):
        super().__init__()
        if not len(channels) == len(kernel_sizes) == len(strides):
            raise ValueError("channels, kernel_sizes and strides need one entry per conv block")
        blocks, in_channels, freq = [], 1, n_bins
        for out_channels, kernel, stride in zip(channels, kernel_sizes, strides):
            block = ConvBlock(in_channels, out_channels, kernel, stride, pool_size)
            freq = block.output_size(freq, 1)
            if freq < 1:
                raise ValueError(f"{n_bins} frequency bins are too few for these kernels and poolings")
            blocks.append(block)
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.min_frames = self._min_frames()
        self.frames_per_step = strides[0][0] * pool_size[0] ** len(channels)
        # torch's LSTM with pack_padded_sequence on absolute lengths: SpeechBrain's LSTM wrapper truncates
        # relative lengths times the padded size, which can drop the last frame.
        self.blstm = nn.LSTM(in_channels * freq, lstm_size, batch_first=True, bidirectional=True)
        self.attention = MaskedAttentionPooling(2 * lstm_size, attention_size)
        self.output_size = 2 * lstm_size

    def _min_frames(self):
        """Fewest input frames for which every block still outputs at least one frame."""
        frames = 1
        while True:
            size = frames
            for block in self.blocks:
                size = conv_output_length(size, block.kernel_size[0], block.stride[0], block.padding[0])
                if size < block.pool_size[0]:
                    break
                size = conv_output_length(size, block.pool_size[0], block.pool_size[0], 0)
            else:
                return frames
            frames += 1

    def output_lengths(self, lengths):
        """Attention steps of utterances of ``lengths`` input frames (``[batch]`` integer tensor)."""
        lengths = lengths.clamp(min=1)
        for block in self.blocks:
            lengths = block.output_size(lengths, 0).clamp(min=1)
        return lengths

    def forward(self, feats, lengths=None):
        """Encode a padded batch of spectrograms.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, n_bins]``.
        lengths : torch.Tensor, optional
            ``[batch]`` relative lengths (SpeechBrain convention); ``None``: all full length.

        Returns
        -------
        embeddings : torch.Tensor
            ``[batch, output_size]`` fixed-length utterance vectors.
        attention : torch.Tensor
            ``[batch, steps]`` attention weights over time (zero on padding), one step per
            ``frames_per_step`` input frames.
        """
        batch, frames, _ = feats.shape
        if lengths is None:
            lengths = torch.ones(batch, device=feats.device)
        abs_lengths = torch.round(lengths * frames).long().clamp(min=1)
        mask = length_to_mask(abs_lengths, max_len=frames, dtype=feats.dtype, device=feats.device)
        x = (feats * mask.unsqueeze(-1)).unsqueeze(1)
        if frames < self.min_frames:
            x = nn.functional.pad(x, (0, 0, 0, self.min_frames - frames))
        for block in self.blocks:
            x, abs_lengths = block(x, abs_lengths)
        x = x.permute(0, 2, 1, 3).flatten(2)
        packed = nn.utils.rnn.pack_padded_sequence(x, abs_lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed, _ = self.blstm(packed)
        x, _ = nn.utils.rnn.pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])
        return self.attention(x, abs_lengths)


class DenseClassifier(nn.Module):
    """Classifier of Table 2: a dense layer with ReLU, then a dense output layer (logits; no activation).

    The output activation belongs to the loss: softmax for dominant recognition, sigmoid for MLEE.

    Arguments
    ---------
    input_size : int
        Size of the encoder output (the sum of both encoders' sizes in fusion).
    hidden_size : int
        Units of the hidden dense layer.
    n_classes : int
        Outputs.

    Example
    -------
    >>> DenseClassifier(512, 64, 4)(torch.randn(3, 512)).shape
    torch.Size([3, 4])
    """

    def __init__(self, input_size, hidden_size=64, n_classes=4):
        super().__init__()
        self.hidden = Linear(input_size=input_size, n_neurons=hidden_size)
        self.activation = nn.ReLU()
        self.output = Linear(input_size=hidden_size, n_neurons=n_classes)

    def forward(self, embeddings):
        """``[batch, input_size]`` -> ``[batch, n_classes]`` logits."""
        return self.output(self.activation(self.hidden(embeddings)))
