"""Overrides of the wrong type or given twice end in one line; result files get the user's umask, not mkstemp's 0600."""
import os

import pytest
import speechbrain as sb

from emo_lobes.data.manifest import write_json_atomic
from emo_lobes.errors import EmoLobesError
from emo_lobes.training.hparams_check import load_hparams_checked

HPARAMS = """seed: 0
data_folder: !PLACEHOLDER
number_of_epochs: 30
batch_size: 8
lr_levels: [0.1, 0.01]
output_folder: !ref <data_folder>/../out
"""


@pytest.fixture
def hparams_file(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text(HPARAMS)
    (tmp_path / "data").mkdir()
    return str(path)


@pytest.mark.parametrize("flag, kind", [("--number_of_epochs=abc", "an integer"), ("--batch_size=abc", "an integer"),
                                        ("--lr_levels=abc", "a list")])
def test_an_override_of_the_wrong_type_is_refused_in_one_line(hparams_file, flag, kind):
    _, run_opts, overrides = sb.parse_arguments([hparams_file, f"--data_folder={os.path.dirname(hparams_file)}/data",
                                                 flag])
    with pytest.raises(EmoLobesError) as err:
        load_hparams_checked(hparams_file, overrides)
    assert str(err.value).startswith(f"{flag} is not {kind}") and "\n" not in str(err.value)


def test_the_same_override_twice_names_the_key_not_the_yaml_syntax(hparams_file):
    data = f"--data_folder={os.path.dirname(hparams_file)}/data"
    _, _, overrides = sb.parse_arguments([hparams_file, data, "--batch_size=4", "--batch_size=2"])
    with pytest.raises(EmoLobesError) as err:
        load_hparams_checked(hparams_file, overrides)
    assert "batch_size twice" in err.value.problem and "--batch_size=... once" in err.value.fix


def test_numbers_for_numbers_and_null_still_pass(hparams_file):
    data = os.path.join(os.path.dirname(hparams_file), "data")
    hparams = load_hparams_checked(hparams_file, f"data_folder: {data}\nnumber_of_epochs: 2\nlr_levels: [1, 0.5]\n")
    assert hparams["number_of_epochs"] == 2 and hparams["lr_levels"] == [1, 0.5]


def test_result_files_get_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_json_atomic({"ua": 0.5}, str(tmp_path / "test_results.json"))
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644


@pytest.mark.parametrize("where", ["data", "data/exp"])
def test_an_output_folder_in_the_data_folder_is_refused_before_anything_is_written(hparams_file, where):
    root = os.path.dirname(hparams_file)
    before = sorted(os.listdir(os.path.join(root, "data")))
    with pytest.raises(EmoLobesError) as err:
        load_hparams_checked(hparams_file, f"data_folder: {root}/data\noutput_folder: {root}/{where}\n")
    assert "inside the data folder" in err.value.problem
    assert sorted(os.listdir(os.path.join(root, "data"))) == before


def test_an_absolute_corpus_folder_is_read_only_too(tmp_path):
    path = tmp_path / "h.yaml"
    corpus = tmp_path / "calls"
    corpus.mkdir()
    path.write_text(f"data_folder: {tmp_path}/data\ncorpora: {{calls: {{parser: csv, folder: {corpus}}}}}\n"
                    f"output_folder: {corpus}/out\n")
    with pytest.raises(EmoLobesError) as err:
        load_hparams_checked(str(path))
    assert f"inside the data folder {corpus}" in err.value.problem and not (corpus / "out").exists()


def test_a_non_finite_training_loss_stops_in_one_line_naming_the_batch(tmp_path):
    import torch
    from speechbrain.dataio.dataset import DynamicItemDataset

    from emo_lobes.training.brain import EmoLobesBrain

    class Poisoned(EmoLobesBrain):
        def compute_forward(self, batch, stage):
            return self.modules.model(batch.x.data.float().unsqueeze(-1))

        def compute_objectives(self, predictions, batch, stage):
            return predictions.mean()

    data = {f"u{i}": {"x": float("nan") if i == 5 else 1.0} for i in range(8)}
    dataset = DynamicItemDataset(data)
    dataset.set_output_keys(["id", "x"])
    brain = Poisoned({"model": torch.nn.Linear(1, 1)}, lambda p: torch.optim.SGD(p, lr=0.1),
                     run_opts={"device": "cpu", "noprogressbar": True, "nonfinite_patience": 0})
    with pytest.raises(EmoLobesError) as err:
        brain.fit(range(1), dataset, train_loader_kwargs={"batch_size": 2})
    assert "the training loss is not finite in 1 batch" in err.value.problem and "u5" in err.value.problem


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_keeps_the_previous_one(tmp_path, monkeypatch):
    import errno

    import torch

    from emo_lobes.training.checkpoints import AtomicCheckpointer

    model = torch.nn.Linear(2, 2)
    checkpointer = AtomicCheckpointer(str(tmp_path / "save"), recoverables={"model": model})
    first = checkpointer.save_checkpoint()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(EmoLobesError) as err:
        checkpointer.save_checkpoint()
    assert "No space left on device" in err.value.problem and "previous checkpoint is kept" in err.value.problem
    assert [c.path for c in checkpointer.list_checkpoints()] == [first.path]
    assert not (tmp_path / "save" / ".staging").exists()


def test_max_grad_norm_zero_turns_clipping_off_and_a_negative_one_is_refused():
    import torch

    from emo_lobes.training.brain import EmoLobesBrain

    brain = EmoLobesBrain({"m": torch.nn.Linear(1, 1)}, run_opts={"device": "cpu", "max_grad_norm": 0})
    assert brain.max_grad_norm == float("inf")
    assert EmoLobesBrain({"m": torch.nn.Linear(1, 1)}, run_opts={"device": "cpu"}).max_grad_norm == 5.0
    with pytest.raises(EmoLobesError) as err:
        EmoLobesBrain({"m": torch.nn.Linear(1, 1)}, run_opts={"device": "cpu", "max_grad_norm": -1})
    assert "max_grad_norm is -1" in err.value.problem and "--max_grad_norm=0" in err.value.fix
