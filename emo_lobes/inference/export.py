"""Export a packaged model to TorchScript or ONNX: 16 kHz waveforms and relative lengths -> class probabilities.

The exported model takes ``wavs`` ``[batch, samples]`` (mono, 16 kHz, zero-padded, the longest utterance filling
the batch as in SpeechBrain's padded batches) and ``wav_lens`` ``[batch]`` (relative lengths, the longest 1.0) and
returns ``probabilities`` ``[batch, classes]`` in ``labels.json`` order: ``exp(out_prob)`` of
``EmotionClassifier.classify_batch`` (for MLEE's ``method: mlee`` the per-class existence probabilities).
Command line: ``python tools/export.py MODEL_FOLDER --format torchscript|onnx [--output FILE]``.

How: :class:`ExportableEmotionModel` runs the recipe's adapter (:mod:`emo_lobes.inference.adapters`) on its
modules, and is **traced** (``torch.jit.trace``; ``torch.onnx.export`` traces too, with the TorchScript-based
exporter, opset 17, dynamic ``batch`` and ``samples`` axes). Tracing, not scripting: the adapters and SpeechBrain's
modules are Python over hparams dicts that ``torch.jit.script`` does not compile. Tracing records the tensor
operations of one example, so two things are done for it and one is checked after it:

- SpeechBrain's ``length_to_mask`` builds its mask with ``expand(len(lengths), ...)``, which a trace would freeze
  to the example's batch size; while tracing, the ``emo_lobes`` and ``speechbrain`` modules that imported it use an
  equal broadcasting one (:func:`broadcast_length_to_mask`). For ONNX, whose TorchScript exporter has no complex
  STFT, ``torch.stft`` runs with ``return_complex=False`` (the same numbers, real and imaginary parts last).
- Python branches on sizes are frozen: MLEE pads spectrograms shorter than its encoder's minimum, so its exported
  model appends that many frames of zeros to every batch (its masks make that padding change nothing); SelectiveMTL
  cuts the batch to ``max_duration`` with a constant slice.
- After writing, :func:`check_export` runs the exported file on padded batches of other sizes and lengths than the
  example and refuses (one line) when its probabilities differ from ``classify_batch``'s by more than ``1e-4``.

Exported (tested in ``tests/test_export.py``): **MLEE** (log power spectrogram -> CNN-BLSTM-attention),
**SelectiveMTL** (SpeechBrain Fbank -> Bi-LSTM-attention), **EmoNet** (Fbank -> Wide-ResNet -> 2D attention; the
chosen domain's head), in 5 s segments as shipped (``eval_segment_duration``: the segments are cut on a fixed grid
of tensor operations whose number of slots follows the input's length, and averaged over the valid ones:
:func:`emo_lobes.inference.adapters.emonet.segment_grid`) or on whole clips, and
**EmotionEmbeddings** with a log-mel front-end (the frozen ``Fbank`` runs on the padded batch, which gives each
utterance its own frames: :func:`emo_lobes.features.frontend_cache.batch_matches_utterances`; the GRU is traced
without packed sequences, which ONNX lacks: the same numbers). Refused, in one line naming the recipe and the
reason (:func:`export_refusal`):

- **LanguageMTL**: its features (the first Kaldi MFCC frames from ``torchaudio.compliance.kaldi``, which takes one
  waveform per call and does not compile with ``torch.jit.script`` (checked with torchaudio 2.11), pyAudioAnalysis
  frames in NumPy, or openSMILE functionals, C++ outside torch) are computed per utterance in a Python loop, outside
  any graph: a trace would freeze the batch size;
- **EmotionEmbeddings** with a frozen wav2vec2 front-end or ``trim_silence_db`` (the recommended log-mel file): the
  front-end (or the trimming) runs on each utterance alone in a Python loop, as the recipe's feature cache did; a
  fine-tuned wav2vec2 model (``freeze_frontend: False``) goes through the export and its check.
"""
import contextlib
import os
import sys
import types
import warnings

import torch

from emo_lobes.errors import EmoLobesError
from emo_lobes.features.frontend_cache import batch_matches_utterances

#: Export formats and the file suffix of each.
FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
#: Largest difference to ``classify_batch``'s probabilities an export may show.
TOLERANCE = 1e-4
ONNX_OPSET = 17  # the first opset with an STFT operator


def export_refusal(adapter):
    """Why the model of ``adapter`` cannot be exported (one line), or ``None`` when it can.

    Example
    -------
    >>> class Adapter:
    ...     recipe, hparams = "LanguageMTL", {"features": "mfcc"}
    >>> export_refusal(Adapter()).split(":")[0]
    'LanguageMTL models cannot be exported'
    >>> Adapter.recipe, Adapter.hparams = "MLEE", {}
    >>> export_refusal(Adapter()) is None
    True
    """
    recipe, hparams = adapter.recipe, adapter.hparams
    reason = None
    if recipe == "LanguageMTL":
        reason = ("its features (torchaudio.compliance.kaldi MFCC, one waveform per call and not scriptable; "
                  "pyAudioAnalysis frames in NumPy; or openSMILE functionals, C++ outside torch) are computed per "
                  "utterance in a Python loop, outside the model's graph")
    elif recipe == "EmotionEmbeddings" and hparams.get("trim_silence_db") is not None:
        reason = "it trims each utterance's silence alone, in a Python loop"
    elif recipe == "EmotionEmbeddings" and hparams.get("freeze_frontend") and not batch_matches_utterances(
            hparams["frontend"]):
        reason = ("its frozen SSL front-end runs on each utterance alone, in a Python loop (as the recipe's feature "
                  "cache), so the batch size would be frozen")
    return None if reason is None else f"{recipe} models cannot be exported: {reason}"


def broadcast_length_to_mask(length, max_len=None, dtype=None, device=None):
    """SpeechBrain's ``length_to_mask`` built by broadcasting, so a trace keeps the batch size dynamic.

    Example
    -------
    >>> from speechbrain.dataio.dataio import length_to_mask
    >>> lengths = torch.tensor([1, 3, 2])
    >>> torch.equal(broadcast_length_to_mask(lengths, 4), length_to_mask(lengths, 4))
    True
    """
    if max_len is None:
        max_len = length.max().long()
    mask = torch.arange(max_len, device=length.device, dtype=length.dtype)[None, :] < length[:, None]
    return mask.to(dtype=dtype or length.dtype, device=device or length.device)


@contextlib.contextmanager
def _traceable(onnx):
    # Swap in trace-friendly equivalents (see the module docstring) and put the originals back afterwards.
    from speechbrain.dataio import dataio

    swapped = [(module, "length_to_mask", dataio.length_to_mask)
               for name, module in list(sys.modules.items())
               if isinstance(module, types.ModuleType) and name.split(".")[0] in ("emo_lobes", "speechbrain")
               and vars(module).get("length_to_mask") is dataio.length_to_mask]
    if onnx:
        stft, view_as_real = torch.stft, torch.view_as_real
        swapped += [(torch, "stft", stft), (torch, "view_as_real", view_as_real)]
    try:
        for module, name, _ in swapped:
            if name == "length_to_mask":
                setattr(module, name, broadcast_length_to_mask)
        if onnx:
            torch.stft = lambda *args, **kwargs: stft(*args, **dict(kwargs, return_complex=False))
            torch.view_as_real = lambda x: view_as_real(x) if x.is_complex() else x
        yield
    finally:
        for module, name, original in swapped:
            setattr(module, name, original)


def _mlee_inputs(adapter, wavs, wav_lens):
    # Append the encoder's minimum of zero frames: its Python branch for short spectrograms is then never taken.
    frames = max(adapter.hparams[f"{branch}_encoder"].min_frames for branch in adapter.hparams["branches"])
    extra = frames * adapter.hparams["spectrogram"].hop_samples
    padded = torch.cat([wavs, wavs.new_zeros(wavs.shape[0], extra)], dim=1)
    return padded, wav_lens * wavs.shape[1] / padded.shape[1]


def _selectivemtl_inputs(adapter, wavs, wav_lens):
    # SelectiveMTLAdapter.batch_inputs with a constant slice: the first max_duration s.
    limit = int(adapter.max_duration * adapter.sample_rate)
    samples = torch.round(wav_lens * wavs.shape[1]).clamp(min=1, max=limit)
    wavs = wavs[:, :limit]
    return wavs, samples / wavs.shape[1]


#: Recipe -> traceable replacement of its adapter's ``batch_inputs``.
EXPORT_INPUTS = {"MLEE": _mlee_inputs, "SelectiveMTL": _selectivemtl_inputs}


class ExportableEmotionModel(torch.nn.Module):
    """A loaded model as one module: ``forward(wavs, wav_lens)`` -> class probabilities ``[batch, classes]``.

    Arguments
    ---------
    classifier : EmotionClassifier
        A loaded model (``EmotionClassifier.from_hparams``); its adapter's modules become this module's.

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.inference.classifier import EmotionClassifier
    >>> from emo_lobes.inference.adapters.emotionembeddings import _toy_experiment
    >>> model = ExportableEmotionModel(EmotionClassifier.from_experiment(_toy_experiment(tempfile.mkdtemp())))
    >>> model(torch.randn(2, 16000) * 0.1, torch.tensor([1.0, 0.5])).shape   # works in Python, not exportable
    torch.Size([2, 3])
    """

    def __init__(self, classifier):
        super().__init__()
        self.parts = torch.nn.ModuleDict(classifier.adapter.modules())
        self.adapter = classifier.adapter
        self.labels = list(classifier.labels)
        self.eval()

    def forward(self, wavs, wav_lens):
        inputs = EXPORT_INPUTS.get(self.adapter.recipe, type(self.adapter).batch_inputs)(self.adapter, wavs, wav_lens)
        return self.adapter.scores(*inputs)[0]


def _padded_batch(lengths, seed):
    generator = torch.Generator().manual_seed(seed)
    wavs = torch.zeros(len(lengths), max(lengths))
    for row, length in enumerate(lengths):
        wavs[row, :length] = 0.1 * torch.randn(length, generator=generator)
    return wavs, torch.tensor(lengths, dtype=torch.float32) / max(lengths)


def load_exported(path, fmt):
    """A function ``(wavs, wav_lens) -> probabilities`` (torch tensors) running an exported file.

    ONNX files run with ``onnxruntime`` (``pip install emo-lobes[export]``).
    """
    if fmt == "torchscript":
        module = torch.jit.load(path, map_location="cpu")
        return lambda wavs, wav_lens: module(wavs, wav_lens)
    try:
        import onnxruntime
    except ImportError:
        raise EmoLobesError("onnxruntime is not installed",
                            "pip install onnx onnxruntime (the 'export' extra)") from None
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return lambda wavs, wav_lens: torch.from_numpy(
        session.run(None, {"wavs": wavs.numpy(), "wav_lens": wav_lens.numpy()})[0])


def check_export(classifier, path, fmt, batches=((48000, 20000, 33000), (9000, 1600))):
    """The largest difference between an exported file's probabilities and ``classify_batch``'s, on padded batches
    of other sizes and lengths than the trace's example; refused in one line above :data:`TOLERANCE`."""
    run = load_exported(path, fmt)
    worst = 0.0
    for seed, lengths in enumerate(batches):
        wavs, wav_lens = _padded_batch(list(lengths), seed)
        expected = classifier.classify_batch(wavs, wav_lens)[0].exp()
        try:
            with torch.no_grad():
                worst = max(worst, float((run(wavs, wav_lens) - expected).abs().max()))
        except Exception as err:  # noqa: BLE001 (torch's and onnxruntime's runtime errors): a shape frozen by the trace
            worst = float("inf")
            detail = str(err).strip().splitlines()[-1][:200] if str(err).strip() else type(err).__name__
            break
    if not worst <= TOLERANCE:
        os.remove(path)  # no file that looks exported and is wrong
        found = f"fails ({detail})" if worst == float("inf") else f"gives probabilities {worst:.2g} away from PyTorch's"
        raise EmoLobesError(f"the {classifier.adapter.recipe} model exported to {fmt} {found} on other batch sizes",
                            "use the PyTorch model")
    return worst


def export_model(source, fmt, output, savedir=None):
    """Export the packaged model ``source`` (a model folder or hub id) to ``output``; returns ``(output, worst)``.

    Arguments
    ---------
    source : str
        As ``EmotionClassifier.from_hparams``'s.
    fmt : str
        ``torchscript`` or ``onnx``.
    output : str
        The file to write.
    savedir : str, optional
        As ``EmotionClassifier.from_hparams``'s.

    Returns
    -------
    tuple
        The written file and :func:`check_export`'s largest difference.
    """
    from emo_lobes.inference.classifier import EmotionClassifier

    if fmt not in FORMATS:
        raise EmoLobesError(f"unknown export format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    classifier = EmotionClassifier.from_hparams(source=source, savedir=savedir, device="cpu")
    refusal = export_refusal(classifier.adapter)
    if refusal:
        raise EmoLobesError(refusal, "use the PyTorch model (EmotionClassifier.from_hparams)")
    model = ExportableEmotionModel(classifier)
    example = _padded_batch([24000, 14000], seed=1986)
    with torch.no_grad(), _traceable(onnx=fmt == "onnx"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings on frozen Python values: check_export checks the result
        if fmt == "torchscript":
            traced = torch.jit.trace(model, example, check_trace=False)
            traced.save(output)
        else:
            if sys.modules.get("onnx") is None:
                try:
                    import onnx  # noqa: F401  (the TorchScript-based exporter writes through it)
                except ImportError:
                    raise EmoLobesError("onnx is not installed",
                                        "pip install onnx onnxruntime (the 'export' extra)") from None
            torch.onnx.export(model, example, output, dynamo=False, opset_version=ONNX_OPSET,
                              input_names=["wavs", "wav_lens"], output_names=["probabilities"],
                              dynamic_axes={"wavs": {0: "batch", 1: "samples"}, "wav_lens": {0: "batch"},
                                            "probabilities": {0: "batch"}})
    return output, check_export(classifier, output, fmt)
