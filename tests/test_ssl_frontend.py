"""wav2vec2 front-end: a tiny random model saved locally, loaded by path with the hub offline; frozen, fine-tuned."""
import json
import os

import huggingface_hub.constants
import pytest
import torch

from emo_lobes.errors import EmoLobesError
from emo_lobes.lobes.ssl_frontend import SSLFrontend, write_tiny_wav2vec2


@pytest.fixture(autouse=True)
def hub_offline(monkeypatch):
    """The Hugging Face hub is unreachable: make every load go through the offline code path."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_wav2vec2(str(tmp_path_factory.mktemp("tiny_wav2vec2")), seed=0)


def test_tiny_model_is_saved_like_a_hub_model(tiny_model, tmp_path):
    names = set(os.listdir(tiny_model))
    assert {"config.json", "preprocessor_config.json"} <= names
    assert any(name.endswith((".safetensors", ".bin")) for name in names)
    config = json.load(open(os.path.join(tiny_model, "config.json")))
    assert config["model_type"] == "wav2vec2" and config["do_stable_layer_norm"] is True
    again = write_tiny_wav2vec2(str(tmp_path / "again"), seed=0)  # same seed, same weights
    first, second = SSLFrontend(tiny_model), SSLFrontend(again)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name


def test_frozen_frontend_loaded_by_path_offline(tiny_model):
    frontend = SSLFrontend(tiny_model)
    assert all(not p.requires_grad for p in frontend.parameters())
    frontend.train()  # a Brain calls train() every epoch: a frozen front-end must stay in eval mode
    assert not frontend.training and not frontend.wav2vec2.model.training
    wavs = torch.randn(2, 16000)
    out = frontend(wavs, torch.tensor([1.0, 0.5]))
    assert out.shape == (2, 49, 32) and not out.requires_grad
    assert torch.equal(out, frontend(wavs, torch.tensor([1.0, 0.5])))  # deterministic: no dropout


def test_finetuning_trains_transformer_not_feature_encoder(tiny_model):
    frontend = SSLFrontend(tiny_model, freeze=False, freeze_feature_encoder=True)
    frontend.train()
    assert frontend.training
    model = frontend.wav2vec2.model
    assert all(not p.requires_grad for p in model.feature_extractor.parameters())
    assert all(p.requires_grad for p in model.encoder.parameters())
    frontend(torch.randn(2, 8000)).pow(2).mean().backward()
    assert all(p.grad is None for p in model.feature_extractor.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_layer_choice_and_bad_layer(tiny_model):
    wav = torch.randn(1, 8000)
    frontend = SSLFrontend(tiny_model)
    last = frontend(wav)
    top = SSLFrontend(tiny_model, layer=2)(wav)  # layer 2 of 2, before the encoder's final layer norm
    with torch.no_grad():
        assert torch.allclose(frontend.wav2vec2.model.encoder.layer_norm(top), last, atol=1e-5)
    assert not torch.allclose(SSLFrontend(tiny_model, layer=0)(wav), top)
    with pytest.raises(EmoLobesError, match="layer 5 asked for"):
        SSLFrontend(tiny_model, layer=5)


def test_unreachable_hub_model_is_one_line_error(tmp_path):
    with pytest.raises(EmoLobesError, match="cannot load wav2vec2 model 'no-such-org/no-such-model'") as info:
        SSLFrontend("no-such-org/no-such-model", save_path=str(tmp_path / "hub"))
    assert "--ssl_source" in str(info.value) and "\n" not in str(info.value)
