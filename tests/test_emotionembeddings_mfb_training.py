"""EmotionEmbeddings log-mel training path: what the GRU actually reads and learns from (synthetic EmoDB, < 20 s).

Guards what was checked when the log-mel GRU learned slowly on real speech: the global normalisation's statistics
are those of the cached training frames and are applied (zero mean, unit variance into the GRU), they stop after
epoch 1 (training-mode and eval-mode scores of the training set agree from epoch 2), the embedding is the state after
each utterance's own last valid frame (padding and batch-mates change nothing), the loss is a mean over utterances,
the silence trimming of the recommended configuration cuts silence only and is part of the cache key, and the
recommended configuration keeps the paper's model while naming its learning rate and trimming.
"""
import json
import os
import sys

import numpy as np
import pytest
import soundfile as sf
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.lobes.features import Fbank

from emo_lobes.data.audio import trim_silence
from emo_lobes.data.synthetic import write_corpus
from emo_lobes.features.frontend_cache import CachedFrozenFrontend
from emo_lobes.lobes.emotion_embedding import CorpusHeads, EmotionEmbeddingModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.benchmarks._common import load_recipe_modules  # noqa: E402

HPARAMS = os.path.join(ROOT, "recipes", "EmotionEmbeddings", "hparams")


@pytest.fixture(autouse=True)
def single_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def emodb_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    write_corpus("emodb", root, seed=0)
    return root


def load_hparams(name, overrides):
    with open(os.path.join(HPARAMS, name), encoding="utf-8") as fin:
        return load_hyperpyyaml(fin, overrides)


def build(emodb_root, tmp_path, **overrides):
    train = load_recipe_modules("EmotionEmbeddings", "train")[0]
    hparams = load_hparams("single_corpus_mfb.yaml", {
        "data_folder": emodb_root, "corpus": "emodb", "output_folder": str(tmp_path / "run"),
        "feature_cache_dir": str(tmp_path / "cache"), "hidden_size": 8, "batch_size": 16, **overrides})
    paths = train.prepare_emotion_embeddings(**train.prep_options(hparams))
    labels = {c: sorted(t) for c, t in json.load(open(paths["labels"])).items()}
    datasets = train.dataio_prep(hparams, paths, labels)
    brain = train.build_brain(hparams, {"device": "cpu", "noprogressbar": True}, labels)
    return train, hparams, datasets, brain


def train_set_loss(brain, dataset, training):
    # Mean loss over the training set without gradients, the modules in training or eval mode.
    loader = sb.dataio.dataloader.make_dataloader(dataset, batch_size=16)
    brain.modules.train(training)
    losses = []
    with torch.no_grad():
        for batch in loader:
            losses.append(float(brain.compute_objectives(brain.compute_forward(batch, sb.Stage.VALID), batch,
                                                         sb.Stage.VALID)))
    brain.modules.train(False)
    return float(np.mean(losses))


def test_global_normalisation_of_cached_frames_is_computed_applied_and_frozen(emodb_root, tmp_path):
    _, hparams, datasets, brain = build(emodb_root, tmp_path, number_of_epochs=1)
    loader = {"batch_size": 16}
    brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"], train_loader_kwargs=loader,
              valid_loader_kwargs=loader)
    norm = brain.modules.feature_normalization
    cached = brain.modules.cached_frontend
    frames = np.concatenate([cached.cache.get(datasets["train"].data[i]["wav"]) for i in datasets["train"].data_ids])
    # the statistics are those of the training set's cached frames (padding left out), nothing else
    assert abs(norm.count - frames.shape[0]) <= 0.01 * frames.shape[0]
    np.testing.assert_allclose(norm.glob_mean.numpy(), frames.mean(0), rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(norm.glob_std.numpy(), frames.std(0), rtol=1e-2, atol=1e-2)
    assert frames.std(0).mean() > 5  # raw log-mel in dB: unnormalised, the GRU would saturate
    # ... and applied: what reaches the GRU has zero mean and unit variance over the training set
    seen = []

    def valid_frames(module, args, output):  # the GRU's input frames, padding left out
        feats, lens = args
        valid = torch.arange(feats.shape[1]).unsqueeze(0) < torch.round(lens * feats.shape[1]).unsqueeze(1)
        seen.append(feats[valid])

    handle = brain.modules.emotion_model.register_forward_hook(valid_frames)
    count = norm.count
    eval_loss = train_set_loss(brain, datasets["train"], training=False)
    # epoch 2 on: training mode neither updates the statistics nor scores differently from eval mode
    brain.hparams.epoch_counter.current = 2
    train_loss = train_set_loss(brain, datasets["train"], training=True)
    handle.remove()
    assert norm.count == count and abs(train_loss - eval_loss) < 1e-5
    normalised = torch.cat(seen[:len(seen) // 2])
    assert normalised.mean(0).abs().max() < 0.05 and (normalised.std(0) - 1).abs().max() < 0.05
    # and saved with the checkpoint, so a resumed run or the inference adapter normalises the same way
    norm._save(str(tmp_path / "norm.ckpt"))
    state = torch.load(str(tmp_path / "norm.ckpt"))
    assert state["count"] == count and torch.equal(state["glob_mean"], norm.glob_mean)


def test_embedding_is_the_state_after_each_utterance_s_own_last_frame():
    torch.manual_seed(0)
    model = EmotionEmbeddingModel(40, hidden_size=16).eval()
    lengths_frames = [300, 120, 7, 250]
    utterances = [torch.randn(n, 40) for n in lengths_frames]
    padded = torch.nn.utils.rnn.pad_sequence(utterances, batch_first=True, padding_value=5.0)  # loud padding
    lens = torch.tensor(lengths_frames, dtype=torch.float32) / max(lengths_frames)
    batch = model(padded, lens)
    alone = torch.stack([model(u.unsqueeze(0), torch.ones(1))[0] for u in utterances])
    assert torch.allclose(batch, alone, atol=1e-5)  # padding and batch-mates change nothing
    _, last = model.gru(utterances[1].unsqueeze(0))
    assert torch.allclose(batch[1], last[-1, 0], atol=1e-5)  # the state after frame 120, not after frame 300
    assert not torch.allclose(batch[1], model.gru(padded[1:2])[1][-1, 0], atol=1e-3)


def test_loss_is_a_mean_over_utterances_not_frames():
    heads = CorpusHeads(4, {"a": 3})
    emb = torch.randn(5, 4)
    targets = torch.tensor([0, 1, 2, 0, 1])
    expected = torch.nn.functional.nll_loss(heads(emb, "a"), targets)
    assert torch.allclose(heads(emb, ["a"] * 5, targets), expected)


def test_silence_trimming_cuts_only_silence_and_keys_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    speech = 0.3 * np.sin(np.arange(12000) * 0.05) * (1 + 0.5 * np.sin(np.arange(12000) * 0.001))
    quiet = 1e-4 * rng.standard_normal(16000)
    wav = np.concatenate([quiet, speech, quiet[:8000], speech, quiet]).astype(np.float32)  # 1 s | ... | 1 s
    trimmed = trim_silence(torch.from_numpy(wav), 16000, 40.0)
    assert 32000 <= trimmed.shape[0] <= 32000 + 2 * (800 + 400)  # both ends cut, the inner pause kept
    path = str(tmp_path / "clip.wav")
    sf.write(path, wav, 16000)
    whole = CachedFrozenFrontend(Fbank(n_mels=40), "fbank40", str(tmp_path / "cache"))
    cut = CachedFrozenFrontend(Fbank(n_mels=40), "fbank40", str(tmp_path / "cache"), trim_db=40.0)
    assert whole.feature_name != cut.feature_name
    assert whole([path])[0].shape[1] == 1 + wav.shape[0] // 160
    assert cut([path])[0].shape[1] == 1 + trimmed.shape[0] // 160


def test_recommended_configuration_keeps_the_paper_model(tmp_path):
    overrides = {"data_folder": str(tmp_path), "output_folder": str(tmp_path / "run")}
    paper = load_hparams("single_corpus_mfb.yaml", overrides)
    recommended = load_hparams("single_corpus_mfb_recommended.yaml", overrides)
    assert paper["lr"] == 1e-4 and paper["trim_silence_db"] is None  # the paper's values stay as written
    assert recommended["lr"] in (1e-2, 1e-3, 1e-4)  # the paper's own grid
    for key in ("emotion_model_type", "num_layers", "hidden_size", "n_mels", "number_of_epochs", "batch_size",
                "normalization_type"):
        assert recommended[key] == paper[key], key
    header = open(os.path.join(HPARAMS, "single_corpus_mfb_recommended.yaml"), encoding="utf-8").read(2000)
    assert "lr" in header and "trim" in header
