"""EmoNet exact to its paper (issue 14): no gradient clipping, frozen batch norms of the head-only baseline, the
baselines' lr 0.01 (Section 5.2.2) and evaluation in segments of at most 5 s (Section 5.1), on synthetic data."""
import functools
import glob
import os
import sys

import pytest
import speechbrain as sb
import torch
import yaml
from speechbrain.dataio.batch import PaddedBatch

from emo_lobes.data.synthetic import write_corpus
from emo_lobes.errors import EmoLobesError
from emo_lobes.training.brain import EmoLobesBrain
from emo_lobes.training.lr_levels import PlateauLevelsEpochCounter
from run_checks import run_train_in_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.benchmarks._common import load_recipe_modules  # noqa: E402

RECIPE = os.path.join(ROOT, "recipes", "EmoNet")
HPARAMS_FILES = sorted(glob.glob(os.path.join(RECIPE, "hparams", "*.yaml")))
TINY = ["--blocks_per_stack=1", "--stem_channels=4", "--stack_channels=[8, 8, 16]", "--attention_size=8",
        "--head_hidden_size=8",
        "--batch_size=16", "--eval_batch_size=32", "--default_split={k: 4}", "--noprogressbar"]
TINY_ARCHITECTURE = {"stem_channels": 4, "stack_channels": [8, 8, 16], "blocks_per_stack": 1, "use_adapters": True,
                     "attention_size": 8, "attention_smoothing": 0.3, "shared_attention": True,
                     "head_hidden_size": 8, "dropout": 0.2}

train, = load_recipe_modules("EmoNet", "train")


def top_level_values(path, *keys):
    """The plain values of top-level ``keys`` in a hparams file (lines with YAML tags left out)."""
    lines = [line for line in open(path, encoding="utf-8") if line.startswith(tuple(f"{key}:" for key in keys))]
    return yaml.safe_load("".join(lines)) or {}


def run_train(hparams_name, *args):
    """Run EmoNet's train.py in this process."""
    run_train_in_process(RECIPE, hparams_name, *args)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("emonet_exact_synthetic"))
    return {name: write_corpus(name, root) for name in ("urdu", "emodb")}


@pytest.fixture(scope="module")
def scratch_run(corpora, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("emonet_exact_scratch"))
    run_train("scratch.yaml", f"--data_folder={corpora['urdu']}", f"--output_folder={out}", "--max_epochs=1",
              *TINY)
    return out


class Regression(EmoLobesBrain):
    def compute_forward(self, batch, stage):
        return self.modules.model(batch[0])

    def compute_objectives(self, predictions, batch, stage):
        return torch.nn.functional.mse_loss(predictions, batch[1])


def one_sgd_step(max_grad_norm):
    """Weight change and gradient norm of one SGD step (lr 1) with a gradient of norm far above 5."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    brain = Regression({"model": model}, lambda p: torch.optim.SGD(p, lr=1.0),
                       hparams={"max_grad_norm": max_grad_norm}, run_opts={"device": "cpu", "noprogressbar": True})
    brain.init_optimizers()
    batch = (torch.full((8, 4), 10.0), torch.full((8, 1), 100.0))
    before = model.weight.detach().clone()
    loss = brain.compute_objectives(brain.compute_forward(batch, sb.Stage.TRAIN), batch, sb.Stage.TRAIN)
    gradient = torch.autograd.grad(loss, model.weight)[0]
    brain.fit_batch(batch)
    return model.weight.detach() - before, gradient


def test_every_emonet_hparams_file_turns_gradient_clipping_off_and_a_step_is_not_clipped():
    for path in HPARAMS_FILES:
        assert top_level_values(path, "max_grad_norm") == {"max_grad_norm": 0}, path
    change, gradient = one_sgd_step(0)
    assert gradient.norm() > 100 and torch.allclose(change, -gradient)  # the full gradient, not rescaled
    clipped, _ = one_sgd_step(5.0)  # SpeechBrain's default rescales the whole gradient (weight and bias) to norm 5
    assert 4.0 < clipped.norm() <= 5.0 + 1e-4
    with pytest.raises(EmoLobesError, match="max_grad_norm is -1"):
        one_sgd_step(-1)


def test_baselines_start_at_lr_0_01_and_adapter_transfer_at_0_1(scratch_run):
    pretrained = train.load_shared_model(scratch_run, dict(TINY_ARCHITECTURE, n_mels=64))
    file_values = top_level_values(os.path.join(RECIPE, "hparams", "transfer.yaml"), "lr_levels", "baseline_lr_levels")
    assert file_values == {"lr_levels": [0.1, 0.01, 0.001], "baseline_lr_levels": [0.01, 0.001]}
    for tune, first_lr in (("adapters", 0.1), ("head", 0.01), ("all", 0.01)):
        hparams = dict(file_values, tune=tune, source_corpus=None, epoch_counter=functools.partial(
            PlateauLevelsEpochCounter, limit=10, patience=2, levels=file_values["lr_levels"]))
        model = train.build_emonet(TINY_ARCHITECTURE, [7])
        train.prepare_transfer(hparams, model, pretrained)
        assert hparams["lr_levels"][0] == first_lr and hparams["epoch_counter"]().lr == first_lr, tune


def _not_head(state):
    return {name: value for name, value in state.items() if not name.startswith("heads.")}


def test_head_only_baseline_keeps_backbone_batch_norm_statistics_and_trains_at_lr_0_01(scratch_run, corpora,
                                                                                        tmp_path):
    out = str(tmp_path / "head")
    run_train("transfer.yaml", "--corpus=emodb", f"--data_folder={corpora['emodb']}", "--tune=head",
              f"--pretrained_folder={scratch_run}", f"--output_folder={out}", "--max_epochs=1", *TINY)
    source = torch.load(os.path.join(scratch_run, train.SHARED_MODEL_FILE), weights_only=False)
    # the source corpus's adapters and batch norms go to domain 0 (their keys hold * for the domain index)
    start = dict(source["shared_state"], **{name.replace(".*.", ".0."): value
                                            for name, value in source["domain_states"]["urdu"].items()})
    final = torch.load(glob.glob(os.path.join(out, "save", "transfer", "CKPT*", "model.ckpt"))[-1])
    statistics = [name for name in start if name.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert statistics and all(not name.startswith("heads.") for name in statistics)
    # every backbone tensor, batch-norm statistics included, is byte-identical after the head-only epoch
    for name in _not_head(final):
        assert name in start and torch.equal(final[name], start[name]), name
    # while the head itself trained (its own batch norm too)
    head_stats = [name for name in final if name.startswith("heads.0") and name.endswith("running_mean")]
    assert head_stats and any(not torch.equal(final[name], torch.zeros_like(final[name])) for name in head_stats)
    log = open(os.path.join(out, "train_log.txt"), encoding="utf-8").read()
    assert "lr: 1.00e-02" in log and "lr: 1.00e-01" not in log  # SpeechBrain's log writes 0.01 as 1.00e-02


def _segment_brain(segment_duration):
    torch.manual_seed(0)
    model = train.build_emonet(TINY_ARCHITECTURE, [3]).eval()
    features = sb.lobes.features.Fbank(sample_rate=16000, n_mels=64, n_fft=512, win_length=32, hop_length=16)
    hparams = {"sample_rate": 16000, "hop_length": 16, "eval_segment_duration": segment_duration}
    brain = train.EmoNetBrain({"model": model, "compute_features": features}, hparams=hparams,
                              run_opts={"device": "cpu", "noprogressbar": True})
    brain.modules.eval()
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    return brain, seen


def test_evaluation_scores_long_clips_in_segments_of_at_most_5_s_by_default_or_whole_with_the_option():
    for path in HPARAMS_FILES:
        assert top_level_values(path, "eval_segment_duration") == {"eval_segment_duration": 5.0}, path
    generator = torch.Generator().manual_seed(0)
    long_clip, short_clip = torch.randn(12 * 16000, generator=generator), torch.randn(3 * 16000, generator=generator)
    batch = PaddedBatch([{"id": "long", "sig": long_clip, "domain": 0},
                         {"id": "short", "sig": short_clip, "domain": 0}])
    five_seconds_frames = 5 * 16000 // 256 + 1
    brain, seen = _segment_brain(5.0)
    with torch.no_grad():
        log_probs = brain.compute_forward(batch, sb.Stage.TEST)
    assert log_probs.shape == (2, 3) and brain.segments_scored == 3 + 1  # 12 s: three 4 s segments; 3 s: one
    assert seen and max(seen) <= five_seconds_frames
    # the long clip's probabilities are the mean of its segments' scored alone
    with torch.no_grad():
        alone = [brain.score_waveforms(brain.modules.model, long_clip[start:start + 4 * 16000][None],
                                       torch.ones(1), 0).exp() for start in range(0, 12 * 16000, 4 * 16000)]
    assert torch.allclose(log_probs[0].exp(), torch.cat(alone).mean(0), atol=1e-5)
    whole, seen_whole = _segment_brain(None)
    with torch.no_grad():
        whole_log_probs = whole.compute_forward(batch, sb.Stage.TEST)
    assert whole_log_probs.shape == (2, 3) and seen_whole == [12 * 16000 // 256 + 1]  # one pass, the whole clip


def test_table1_counts_and_mean_std_durations_of_each_corpus(corpora, tmp_path, capsys):
    import numpy as np

    from emo_lobes.data.corpora import parse_corpus

    corpus_table, = load_recipe_modules("EmoNet", "corpus_table")
    output = tmp_path / "table1.md"
    root = os.path.dirname(corpora["urdu"])
    corpus_table.main(["--data_folder", root, "--corpus", "[urdu, emodb]", "--output", str(output)])
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("|")[1].strip() == "name" and len(lines) == 2 + 2 and capsys.readouterr().out
    for name, line in zip(("urdu", "emodb"), lines[2:]):
        records = [r for r in parse_corpus(name, corpora[name]).records if r["emotion"] != "undecided"]
        durations = np.array([r["duration"] for r in records])
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[:4] == [name, str(len(records)), str(len({r["emotion"] for r in records})),
                             str(len({r["speaker"] for r in records}))], cells
        assert cells[5] == f"{durations.mean():.1f} ± {durations.std():.1f}"  # numpy's std: the population one
        assert cells[6] == f"{durations.sum() / 3600:.2f}"
    with pytest.raises(SystemExit) as stop:  # a missing corpus folder: one line, exit status 2
        corpus_table.main(["--data_folder", str(tmp_path / "none"), "--corpus", "emodb"])
    error = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(error) == 1 and "corpus folders missing" in error[0]


def test_inference_adapter_scores_segments_as_the_recipe_test_does():
    from types import SimpleNamespace

    from emo_lobes.inference.adapters.emonet import EmoNetAdapter

    generator = torch.Generator().manual_seed(1)
    clips = [torch.randn(11 * 16000, generator=generator), torch.randn(2 * 16000, generator=generator)]
    batch = PaddedBatch([{"id": str(i), "sig": clip, "domain": 0} for i, clip in enumerate(clips)])
    for segment in (5.0, None):
        brain, _ = _segment_brain(segment)
        adapter = SimpleNamespace(model=brain.modules.model, domain=0, hop_samples=256,
                                  hparams={"compute_features": brain.modules.compute_features, "sample_rate": 16000,
                                           "eval_segment_duration": segment})
        adapter._embed_and_score = lambda wavs, wav_lens: EmoNetAdapter._embed_and_score(adapter, wavs, wav_lens)
        with torch.no_grad():
            recipe = brain.compute_forward(batch, sb.Stage.TEST).exp()
            probabilities, predictions, embedding = EmoNetAdapter.scores(adapter, *batch.sig)
        assert torch.allclose(probabilities, recipe, atol=1e-5) and embedding.shape == (2, 16), segment
        assert predictions.tolist() == recipe.argmax(-1).tolist()


def test_recommended_scratch_is_the_paper_scratch_with_augmentation_only():
    """scratch_recommended.yaml = scratch.yaml but its augmentation switches and output folder (issue 13)."""
    def settings(name):
        lines = open(os.path.join(RECIPE, "hparams", name), encoding="utf-8").read().splitlines()
        return [line.split(" #")[0].rstrip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    paper, recommended = settings("scratch.yaml"), settings("scratch_recommended.yaml")
    changed = [(a, b) for a, b in zip(paper, recommended) if a != b]
    assert len(paper) == len(recommended)
    assert sorted(b.split(":")[0] for _, b in changed) == ["feature_augment", "output_folder", "wav_augment"]
    assert top_level_values(os.path.join(RECIPE, "hparams", "scratch.yaml"), "wav_augment", "feature_augment") == {
        "wav_augment": False, "feature_augment": False}
    assert top_level_values(os.path.join(RECIPE, "hparams", "scratch_recommended.yaml"), "wav_augment",
                            "feature_augment") == {"wav_augment": True, "feature_augment": True}
