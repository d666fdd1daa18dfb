"""Export: tiny MLEE, SelectiveMTL, EmoNet and log-mel EmotionEmbeddings model folders, exported to TorchScript and
ONNX, give PyTorch's numbers.

Each exported file runs (``torch.jit.load``, ``onnxruntime``) on a padded batch of three synthetic IEMOCAP files of
different lengths (another batch size and length than the trace's example) and must give ``exp(out_prob)`` of
``EmotionClassifier.classify_batch`` within 1e-4, for the batch and for one file alone; a frozen-front-end
EmotionEmbeddings model that trims silence (or has a frozen SSL front-end) is refused in one line. EmoNet exports as
shipped (5 s segments) and, with 1 s segments, cuts and averages in the exported file the segments the recipe's test
cuts in its loop.
"""
import glob
import os
import subprocess
import sys

import pytest
import torch

from emo_lobes.data.audio import load_audio
from emo_lobes.data.synthetic import write_corpus
from emo_lobes.errors import EmoLobesError
from emo_lobes.inference.classifier import EmotionClassifier
from emo_lobes.inference.export import export_model, export_refusal, load_exported

pytest.importorskip("onnxruntime")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
MLEE_TINY = ["--speed_factors=[]", "--num_workers=0", "--cnn_channels=[2,2,2]", "--lstm_size=4", "--attention_size=4",
             "--dense_size=4", "--max_frequency=1000", "--number_of_epochs=1", "--noprogressbar"]
SELECTIVEMTL_TINY = ["--corpus=iemocap", "--number_of_epochs=1", "--lstm_size=8", "--lstm_layers=2",
                     "--attention_size=8", "--attention_heads=2", "--dense1_size=16", "--dense2_size=8",
                     "--max_duration=2.0", "--batch_size=64"]
# EmoNet as shipped: eval_segment_duration 5 s
EMONET_TINY = ["--max_epochs=1", "--patience=1", "--stem_channels=4", "--stack_channels=[8, 8, 16]",
               "--attention_size=8", "--head_hidden_size=8", "--batch_size=16", "--eval_batch_size=32",
               "--default_split={k: 4}", "--noprogressbar"]


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory):
    """``<output_folder>/model`` of finished tiny MLEE, SelectiveMTL and EmoNet runs (trained at the same time), and
    the synthetic IEMOCAP of the first two."""
    root = tmp_path_factory.mktemp("export")
    data = root / "data"
    iemocap = write_corpus("iemocap", str(data), seed=0)
    urdu = write_corpus("urdu", str(data), seed=0)
    commands = {
        "MLEE": ["recipes/MLEE/train.py", "recipes/MLEE/hparams/mlee.yaml", f"--data_folder={iemocap}", *MLEE_TINY],
        "SelectiveMTL": ["recipes/SelectiveMTL/train.py", "recipes/SelectiveMTL/hparams/baseline.yaml",
                         f"--data_folder={data}", *SELECTIVEMTL_TINY],
        "EmoNet": ["recipes/EmoNet/train.py", "recipes/EmoNet/hparams/scratch.yaml", f"--data_folder={urdu}",
                   *EMONET_TINY],
    }
    runs = {name: subprocess.Popen([sys.executable, *command, f"--output_folder={root / name}"], cwd=ROOT, env=ENV,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name, command in commands.items()}
    for name, run in runs.items():
        output = run.communicate()[0]
        assert run.returncode == 0, output[-3000:]
    folders = {name: root / name / "model" for name in commands}
    # an untrained two-corpus log-mel EmotionEmbeddings model (frozen Fbank): the export runs it on the padded batch
    from emo_lobes.inference.adapters.emotionembeddings import _toy_experiment
    from emo_lobes.inference.packaging import write_model_package

    (root / "EmotionEmbeddings").mkdir()
    folders["EmotionEmbeddings"] = write_model_package(_toy_experiment(str(root / "EmotionEmbeddings")))
    return folders, iemocap


def _padded_batch_for_check():
    generator = torch.Generator().manual_seed(0)
    wavs = 0.1 * torch.randn(2, 16000, generator=generator)
    wavs[1, 9000:] = 0
    return wavs, torch.tensor([1.0, 9000 / 16000])


def padded_test_batch(data_folder, count=3):
    """``count`` synthetic files of different lengths at 16 kHz, zero-padded, and their relative lengths."""
    by_length = {}
    for path in sorted(glob.glob(os.path.join(data_folder, "**", "*.wav"), recursive=True)):
        wav = load_audio(path, 16000)
        by_length.setdefault(len(wav), wav)
        if len(by_length) == count:
            break
    wavs = list(by_length.values())
    lengths = torch.tensor([len(w) for w in wavs], dtype=torch.float32)
    assert len(set(lengths.tolist())) == count
    return torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True), lengths / lengths.max()


@pytest.mark.parametrize("recipe", ["MLEE", "SelectiveMTL", "EmoNet", "EmotionEmbeddings"])
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_exported_model_gives_the_pytorch_probabilities_on_a_padded_batch(model_folders, tmp_path, recipe, fmt):
    folders, data_folder = model_folders
    output = str(tmp_path / f"{recipe}.{fmt}")
    path, worst = export_model(str(folders[recipe]), fmt, output)
    assert path == output and os.path.getsize(output) > 0 and worst <= 1e-4
    wavs, wav_lens = padded_test_batch(data_folder)
    classifier = EmotionClassifier.from_hparams(source=str(folders[recipe]))
    expected = classifier.classify_batch(wavs, wav_lens)[0].exp()
    with torch.no_grad():
        exported = load_exported(output, fmt)(wavs, wav_lens)
    assert exported.shape == expected.shape == (3, len(classifier.labels))
    assert torch.allclose(exported, expected, atol=1e-4, rtol=0), (exported - expected).abs().max()
    # the probabilities of each file are those of the file alone, not of the padded batch's length
    first = int(round(float(wav_lens[1]) * wavs.shape[1]))
    with torch.no_grad():
        alone = load_exported(output, fmt)(wavs[1:2, :first], torch.ones(1))
    assert torch.allclose(alone[0], expected[1], atol=1e-4, rtol=0)


def test_export_command_writes_beside_the_model_and_refuses_a_per_utterance_front_end(model_folders, tmp_path):
    folders, _ = model_folders
    proc = subprocess.run([sys.executable, "tools/export.py", str(folders["MLEE"]), "--format", "torchscript"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[export] torchscript model written to" in proc.stdout
    assert os.path.isfile(folders["MLEE"] / "model.pt")
    # a log-mel EmotionEmbeddings model that trims each file's silence (a Python loop per utterance): refused
    import shutil

    package = str(tmp_path / "ee_trimmed")
    shutil.copytree(folders["EmotionEmbeddings"], package)
    # (moved away from its experiment folder, the package loads and gives the same numbers: it carries its labels)
    wavs, wav_lens = _padded_batch_for_check()
    original = EmotionClassifier.from_hparams(source=str(folders["EmotionEmbeddings"])).classify_batch(wavs, wav_lens)
    moved = EmotionClassifier.from_hparams(source=package).classify_batch(wavs, wav_lens)
    assert torch.equal(original[0], moved[0]) and moved[3] == original[3]
    with open(os.path.join(package, "inference.yaml"), "a", encoding="utf-8") as yaml_file:
        yaml_file.write("trim_silence_db: 40\n")
    proc = subprocess.run([sys.executable, "tools/export.py", package, "--format", "onnx",
                           "--output", str(tmp_path / "ee.onnx")], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: EmotionEmbeddings models cannot be exported: it trims each utterance's "
                                  "silence alone")
    assert not os.path.exists(tmp_path / "ee.onnx")
    # a frozen front-end that is not a plain Fbank (an SSL model sees a batch's padding) runs per utterance: refused
    ee = EmotionClassifier.from_hparams(source=str(folders["EmotionEmbeddings"]))
    ee.adapter.hparams["frontend"] = torch.nn.Identity()
    assert export_refusal(ee.adapter).startswith("EmotionEmbeddings models cannot be exported: its frozen SSL "
                                                 "front-end runs on each utterance alone")
    with pytest.raises(EmoLobesError, match="unknown export format 'tflite'"):
        export_model(package, "tflite", str(tmp_path / "x"))


def _emonet_with_segments(folders, tmp_path, seconds):
    # the EmoNet package with eval_segment_duration set to `seconds` (the synthetic clips are shorter than 5 s)
    import shutil

    package = tmp_path / f"emonet_{seconds}s"
    shutil.copytree(folders["EmoNet"], package)
    yaml_path = package / "inference.yaml"
    text = yaml_path.read_text(encoding="utf-8")
    assert "eval_segment_duration: 5.0\n" in text
    yaml_path.write_text(text.replace("eval_segment_duration: 5.0\n", f"eval_segment_duration: {seconds}\n"),
                         encoding="utf-8")
    return str(package)


def test_emonet_segments_at_inference_are_the_clips_cut_and_scored_alone(model_folders, tmp_path):
    """classify_batch (fixed grid, exportable) gives, per utterance of a padded batch, the mean probabilities of its
    segments (k = ceil(n / 1 s) of ceil(n / k) samples) each scored alone."""
    import math

    folders, _ = model_folders
    classifier = EmotionClassifier.from_hparams(source=_emonet_with_segments(folders, tmp_path, 1.0))
    generator = torch.Generator().manual_seed(3)
    lengths = [41000, 16000, 9000, 23999]  # 3, 1, 1 and 2 segments of 1 s
    clips = [0.1 * torch.randn(length, generator=generator) for length in lengths]
    wavs = torch.nn.utils.rnn.pad_sequence(clips, batch_first=True)
    wav_lens = torch.tensor(lengths, dtype=torch.float32) / max(lengths)
    # the same files with eval_segment_duration: null score a segment as a whole clip
    whole = EmotionClassifier.from_hparams(source=_emonet_with_segments(folders, tmp_path, "null"))
    with torch.no_grad():
        batch = classifier.classify_batch(wavs, wav_lens)[0].exp()
        for row, clip in enumerate(clips):
            k = math.ceil(len(clip) / 16000)
            size = math.ceil(len(clip) / k)
            alone = [whole.classify_batch(clip[start:start + size][None], torch.ones(1))[0].exp()
                     for start in range(0, len(clip), size)]
            assert len(alone) == (3, 1, 1, 2)[row]
            assert torch.allclose(batch[row], torch.cat(alone).mean(dim=0), atol=1e-5), row


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_emonet_exports_its_segmenting(model_folders, tmp_path, fmt):
    """With 1 s segments the exported file cuts as many segments as each input needs: export_model's check runs
    batches of 3, 1.25, 2.06 s (and 0.56, 0.1 s) against classify_batch; one 4.2 s file alone too."""
    folders, _ = model_folders
    package = _emonet_with_segments(folders, tmp_path, 1.0)
    output = str(tmp_path / f"emonet.{fmt}")
    path, worst = export_model(package, fmt, output)
    assert worst <= 1e-4
    wav = 0.1 * torch.randn(1, 67200, generator=torch.Generator().manual_seed(5))
    expected = EmotionClassifier.from_hparams(source=package).classify_batch(wav, torch.ones(1))[0].exp()
    with torch.no_grad():
        exported = load_exported(path, fmt)(wav, torch.ones(1))
    assert torch.allclose(exported, expected, atol=1e-4, rtol=0), (exported - expected).abs().max()
