"""One split, every recipe: a split file, an EmoBox fold and SpeechBrain manifests decide what each recipe tests.

The same IEMOCAP split file is given to EmoNet (scratch), LanguageMTL (single corpus), EmotionEmbeddings (single
corpus) and SelectiveMTL (with its CSV spontaneous corpus); an EmoBox fold of EmoDB, written in EmoBox's format, to
EmoNet and LanguageMTL; SpeechBrain IEMOCAP recipe manifests to EmoNet and SelectiveMTL's baseline. Each run must
test exactly the utterances its split lists (of the classes the recipe uses), compared by the ``wav`` of its
``test_results.json`` predictions.
"""
import json
import os
import subprocess
import sys

import pytest

from emo_lobes.data.declarations import declare_corpora, load_corpus_split, read_corpus
from emo_lobes.data.synthetic import write_all
from split_checks import tested_wavs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
#: The recipes' tiny configurations (as in each recipe's own tests), one epoch each.
EMONET = ["recipes/EmoNet/train.py", "recipes/EmoNet/hparams/scratch.yaml", "--stem_channels=4",
          "--stack_channels=[8, 8, 16]", "--attention_size=8", "--head_hidden_size=8", "--batch_size=16",
          "--eval_batch_size=32", "--max_epochs=1", "--noprogressbar"]
LANGUAGEMTL = ["recipes/LanguageMTL/train.py", "recipes/LanguageMTL/hparams/single_corpus.yaml", "--hidden_size=8",
               "--number_of_epochs=1", "--batch_size=16", "--noprogressbar", "--cpu_threads=1"]
EMOTIONEMBEDDINGS = ["recipes/EmotionEmbeddings/train.py", "recipes/EmotionEmbeddings/hparams/single_corpus_mfb.yaml",
                     "--hidden_size=8", "--batch_size=16", "--number_of_epochs=1", "--noprogressbar", "--device=cpu"]
SELECTIVEMTL_TINY = ["--number_of_epochs=1", "--lstm_size=8", "--lstm_layers=2", "--attention_size=8",
                     "--attention_heads=2", "--dense1_size=16", "--dense2_size=8", "--max_duration=2.0",
                     "--batch_size=64", "--noprogressbar"]
#: The classes every recipe keeps (excited is happy in EmoNet and SelectiveMTL but its own class, dropped, in LanguageMTL,
#: so the shared split file lists no excited utterance).
FOUR_CLASSES = {"emotions": ["neutral", "happy", "sad", "angry"]}
LANGUAGEMTL_CLASSES = {"happy", "sad", "fear", "angry", "neutral"}


def run_all(commands):
    """Run ``{name: argv}`` two at a time (2 cores); fail with the tail of a failed run's output."""
    names = list(commands)
    for start in range(0, len(names), 2):
        running = {name: subprocess.Popen([sys.executable, *commands[name]], cwd=ROOT, env=ENV, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                   for name in names[start:start + 2]}
        for name, run in running.items():
            output = run.communicate(timeout=1500)[0]
            assert run.returncode == 0, f"{name}: {output[-3000:]}"


def write_emobox_fold(folder, records, test_speakers):
    """EmoDB's fold 1 in EmoBox's format: fold_1/emodb_{train,test}_fold_1.jsonl, paths of EmoBox's download."""
    os.makedirs(os.path.join(folder, "fold_1"))
    for part in ("train", "test"):
        with open(os.path.join(folder, "fold_1", f"emodb_{part}_fold_1.jsonl"), "w", encoding="utf-8") as handle:
            for record in records:
                if (record["speaker"] in test_speakers) == (part == "test"):
                    handle.write(json.dumps({
                        "key": f"emodb-{record['id']}", "dataset": "emodb", "type": "raw", "task": "category",
                        "wav": f"downloads/emodb/{record['wav']}", "sample_rate": 16000, "channel": 1,
                        "length": record["duration"], "emo": record["label"]}) + "\n")
    return folder


def write_speechbrain_manifests(folder, records, dev_speakers, test_speakers, corpus_root):
    """SpeechBrain's IEMOCAP recipe manifests (train/valid/test.json: wav, length, emo) from another download."""
    os.makedirs(folder)
    parts = {"train": [], "valid": [], "test": []}
    for record in records:
        part = "test" if record["speaker"] in test_speakers else "valid" if record["speaker"] in dev_speakers else "train"
        parts[part].append(record)
    for part, chosen in parts.items():
        manifest = {r["id"]: {"wav": f"/mnt/elsewhere/IEMOCAP_full_release/{r['wav']}", "length": r["duration"],
                              "emo": r["emotion"][:3]} for r in chosen}
        with open(os.path.join(folder, f"{part}.json"), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle)
    return {r["wav"] for r in parts["test"]}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Synthetic corpora, the three split forms, and every recipe run on them."""
    work = tmp_path_factory.mktemp("shared_splits")
    data = work / "data"
    folders = write_all(str(data), names=["iemocap", "emodb", "spont"])
    iemocap = declare_corpora({"iemocap": dict(FOUR_CLASSES, split={"method": "speaker_kfold", "k": 5})},
                              str(data), ["iemocap"])["iemocap"]
    split = load_corpus_split(iemocap, fold=1)
    split_file = split.write_split(str(work / "made"))
    emodb_records = read_corpus(declare_corpora({}, folders["emodb"], ["emodb"])["emodb"])[0]
    emodb_speakers = sorted({r["speaker"] for r in emodb_records})
    emobox = write_emobox_fold(str(work / "EmoBox" / "data" / "emodb"), emodb_records, set(emodb_speakers[:2]))
    speakers = sorted({r["speaker"] for r in split.records})
    speechbrain_test = write_speechbrain_manifests(str(work / "sb_manifests"), split.records, {speakers[0]},
                                                   {speakers[1], speakers[2]}, folders["iemocap"])
    out = work / "runs"
    cache = f"--feature_cache_folder={work / 'cache'}"
    iemocap_root = f"--data_folder={folders['iemocap']}"
    commands = {
        "emonet": [*EMONET, "--corpus=iemocap", iemocap_root, f"--split_file={split_file}", f"--output_folder={out / 'emonet'}"],
        "languagemtl": [*LANGUAGEMTL, "--corpus=iemocap", iemocap_root, f"--split_file={split_file}", cache,
                        f"--output_folder={out / 'languagemtl'}"],
        "emotionembeddings": [*EMOTIONEMBEDDINGS, "--corpus=iemocap", iemocap_root, f"--split_file={split_file}",
                              f"--output_folder={out / 'emotionembeddings'}", f"--feature_cache_dir={work / 'fcache'}"],
        "selectivemtl": ["recipes/SelectiveMTL/train.py", "recipes/SelectiveMTL/hparams/mtl.yaml", f"--data_folder={data}",
                         f"--corpora={{iemocap: {{split: {{file: {split_file}, method: null, dev: null}}}}}}",
                         f"--output_folder={out / 'selectivemtl'}", *SELECTIVEMTL_TINY],
        "emonet_emobox": [*EMONET, "--corpus=emodb", f"--data_folder={folders['emodb']}", f"--split_file={emobox}",
                          f"--output_folder={out / 'emonet_emobox'}"],
        "languagemtl_emobox": [*LANGUAGEMTL, "--corpus=emodb", f"--data_folder={folders['emodb']}",
                               f"--split_file={emobox}", cache, f"--output_folder={out / 'languagemtl_emobox'}"],
        "emonet_speechbrain": [*EMONET, "--corpus=iemocap", iemocap_root, f"--split_file={work / 'sb_manifests'}",
                               f"--output_folder={out / 'emonet_speechbrain'}"],
        "selectivemtl_speechbrain": ["recipes/SelectiveMTL/train.py", "recipes/SelectiveMTL/hparams/baseline.yaml",
                                     "--corpus=iemocap", iemocap_root, f"--split_file={work / 'sb_manifests'}",
                                     f"--output_folder={out / 'selectivemtl_speechbrain'}", *SELECTIVEMTL_TINY],
    }
    run_all(commands)
    with open(split_file, encoding="utf-8") as handle:
        file_test = set(json.load(handle)["test"])
    emobox_test = {r["wav"] for r in emodb_records if r["speaker"] in emodb_speakers[:2]}
    emobox_test_five = {r["wav"] for r in emodb_records
                        if r["speaker"] in emodb_speakers[:2] and r["emotion"] in LANGUAGEMTL_CLASSES}
    return {"out": out, "file_test": file_test, "emobox_test": emobox_test, "emobox_test_five": emobox_test_five,
            "speechbrain_test": speechbrain_test}


@pytest.mark.parametrize("run", ["emonet", "languagemtl", "emotionembeddings", "selectivemtl"])
def test_the_same_split_file_makes_every_recipe_test_the_same_utterances(shared, run):
    tested = tested_wavs(shared["out"] / run, corpus="iemocap")
    assert tested == shared["file_test"]
    with open(shared["out"] / run / "splits" / "iemocap.json", encoding="utf-8") as handle:
        assert set(json.load(handle)["test"]) >= tested  # the run's copy of its split lists what it tested


@pytest.mark.parametrize("run, expected", [("emonet_emobox", "emobox_test"), ("languagemtl_emobox", "emobox_test_five")])
def test_an_emobox_fold_decides_what_two_recipes_test(shared, run, expected):
    assert tested_wavs(shared["out"] / run, corpus="emodb") == shared[expected]


@pytest.mark.parametrize("run", ["emonet_speechbrain", "selectivemtl_speechbrain"])
def test_speechbrain_manifests_decide_what_two_recipes_test(shared, run):
    assert tested_wavs(shared["out"] / run, corpus="iemocap") == shared["speechbrain_test"]
