#!/usr/bin/env python3
"""Export a packaged model to TorchScript or ONNX: 16 kHz waveforms [batch, samples] + lengths -> probabilities.

Run: python tools/export.py results/MLEE/mlee/all/1986/fold_1/model --format onnx [--output mlee.onnx]

The exported model's inputs are ``wavs`` ``[batch, samples]`` (mono 16 kHz, zero-padded, the longest utterance
filling the batch) and ``wav_lens`` ``[batch]`` (relative lengths, the longest 1.0); its output is
``probabilities`` ``[batch, classes]`` in the order of the model folder's ``labels.json``, checked against
``EmotionClassifier.classify_batch`` (within 1e-4) on batches of other sizes before the tool reports success.
ONNX export and its check need ``pip install onnx onnxruntime`` (the ``export`` extra).

Exported: MLEE, SelectiveMTL, EmoNet (in its 5 s segments or on whole clips), EmotionEmbeddings with a log-mel
front-end. Refused in one line (see :mod:`emo_lobes.inference.export`): LanguageMTL (Kaldi MFCC, pyAudioAnalysis or
openSMILE features computed per utterance in Python, outside the graph), EmotionEmbeddings with a frozen SSL
front-end or silence trimming (each utterance alone, in a Python loop).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emo_lobes.errors import cli_errors  # noqa: E402
from emo_lobes.inference.export import FORMATS, export_model  # noqa: E402


@cli_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_folder", help="a packaged model (<output_folder>/model) or a hub id with --savedir")
    parser.add_argument("--format", required=True, choices=sorted(FORMATS))
    parser.add_argument("--output", default=None, help="default: <model_folder>/model<.pt|.onnx>")
    parser.add_argument("--savedir", default=None, help="where a hub model is fetched to")
    args = parser.parse_args(argv)
    output = args.output or os.path.join(args.model_folder, "model" + FORMATS[args.format])
    path, worst = export_model(args.model_folder, args.format, output, savedir=args.savedir)
    print(f"[export] {args.format} model written to {path} (inputs wavs [batch, samples] at 16 kHz, wav_lens "
          f"[batch]; output probabilities [batch, classes]; largest difference to PyTorch {worst:.1e})")
    return path


if __name__ == "__main__":
    main()
