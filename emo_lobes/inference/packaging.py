"""A trained experiment as a model folder anyone can load (``EmotionClassifier.from_hparams``) or upload to a hub.

``<output_folder>/model/`` holds what inference needs and nothing else:

- ``inference.yaml``: the experiment's ``hyperparams.yaml`` (checked at load: only ``emo_lobes``, ``speechbrain``
  and ``torch`` may be built from it, see :mod:`emo_lobes.inference.safe_hparams`);
- ``<module>.ckpt``: the weights of each module the tested checkpoint holds (tensors only; optimiser, counters and
  random states are left out);
- ``labels.json``: the classes in output order; ``model.json``: the recipe, the modules and where they came from;
- ``README.md``: a model card (recipe, paper, corpora, split, classes, test metrics, how to load).

Every recipe writes it at the end of a run (:func:`package_after_run`); ``python tools/package_model.py FOLDER``
does it for an existing experiment. Models whose front-end is a pretrained SSL model load that model from the
source its yaml names (a hub id or a local folder), as training did.
"""
import json
import os
import shutil
import time

from speechbrain.utils.fetching import LocalStrategy, fetch

from emo_lobes.errors import EmoLobesError
from emo_lobes.inference.classifier import (HPARAMS_FILE, _read_json, checkpoint_modules, experiment_parts,
                                           tested_checkpoint)

#: The package's files.
MODEL_FOLDER, INFERENCE_YAML, LABELS_FILE, MODEL_INFO, MODEL_CARD = (
    "model", "inference.yaml", "labels.json", "model.json", "README.md")
#: The papers behind the recipes, for the model card.
PAPERS = {
    "EmoNet": "M. Gerczuk et al., EmoNet: A Transfer Learning Framework for Multi-Corpus Speech Emotion Recognition, "
              "IEEE Trans. Affective Computing, 2023",
    "EmotionEmbeddings": "S. Alisamir, F. Ringeval, F. Portet, Multi-Corpus Affect Recognition with Emotion Embeddings "
                         "and Self-Supervised Representations of Speech, ACII 2022",
    "LanguageMTL": "S. Goel, H. Beigi, Cross Lingual Cross Corpus Speech Emotion Recognition, arXiv:2003.07996, 2020",
    "MLEE": "A. Ando et al., Speech Emotion Recognition Based on Multi-Label Emotion Existence Model, Interspeech 2019",
    "SelectiveMTL": "H. Zhang et al., Selective Multi-Task Learning for Speech Emotion Recognition Using Corpora of "
                    "Different Styles, ICASSP 2022",
}


def write_model_package(experiment_folder, package_folder=None):
    """Write the model folder of a finished experiment (its tested checkpoint) and return its path.

    Arguments
    ---------
    experiment_folder : str
        A recipe's output folder (``hyperparams.yaml``, ``save/``, ``test_results.json``).
    package_folder : str, optional
        Where to write (default ``<experiment_folder>/model``); replaced as a whole, atomically.

    Returns
    -------
    str
        The package folder.
    """
    adapter, checkpointer = experiment_parts(experiment_folder)
    checkpoint = tested_checkpoint(checkpointer, adapter)
    modules = sorted(checkpoint_modules(checkpointer))
    results = _read_json(os.path.join(experiment_folder, "test_results.json"))
    package_folder = package_folder or os.path.join(experiment_folder, MODEL_FOLDER)
    staging = f"{package_folder}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    shutil.copyfile(os.path.join(experiment_folder, HPARAMS_FILE), os.path.join(staging, INFERENCE_YAML))
    for name in modules:
        shutil.copyfile(checkpoint.paramfiles[name], os.path.join(staging, f"{name}.ckpt"))
    extra = type(adapter).package_files(experiment_folder)
    for relative in extra:
        os.makedirs(os.path.dirname(os.path.join(staging, relative)), exist_ok=True)
        shutil.copyfile(os.path.join(experiment_folder, relative), os.path.join(staging, relative))
    recipe = results.get("recipe") or _read_json(os.path.join(experiment_folder, "experiment.json")).get("recipe")
    rate = getattr(adapter, "waveform_rate", None) or adapter.sample_rate
    info = {"recipe": recipe, "modules": modules, "labels": adapter.labels, "sample_rate": rate,
            "checkpoint": os.path.basename(checkpoint.path), "checkpoint_meta": _plain(checkpoint.meta),
            "experiment": os.path.abspath(experiment_folder), "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "files": sorted([INFERENCE_YAML, LABELS_FILE, MODEL_CARD, *(f"{name}.ckpt" for name in modules), *extra])}
    _write_json(os.path.join(staging, MODEL_INFO), info)
    _write_json(os.path.join(staging, LABELS_FILE), {"labels": adapter.labels})
    with open(os.path.join(staging, MODEL_CARD), "w", encoding="utf-8") as card:
        card.write(model_card(info, results))
    if os.path.isdir(package_folder):
        shutil.rmtree(package_folder)
    os.replace(staging, package_folder)
    return package_folder


def package_after_run(experiment_folder):
    """Write ``<experiment_folder>/model`` at the end of a recipe run (main process); say it in one line.

    A failure is reported in one line and does not fail the run, whose results are already written.

    Arguments
    ---------
    experiment_folder : str
        The run's output folder.

    Returns
    -------
    str or None
        The package folder, or ``None`` when none was written.
    """
    from speechbrain.utils.distributed import if_main_process

    if not if_main_process():
        return None
    try:
        folder = write_model_package(experiment_folder)
    except (EmoLobesError, OSError, KeyError, ValueError) as err:
        print(f"[package] no model folder for {experiment_folder}: {err}", flush=True)
        return None
    print(f"[package] model folder {folder} (load: EmotionClassifier.from_hparams(source='{folder}'))", flush=True)
    return folder


def fetch_model_package(source, savedir=None):
    """Fetch a model package's files with SpeechBrain's ``fetch``: ``{"hparams", "labels", "model", "weights"}``.

    Arguments
    ---------
    source : str
        A local package folder, or a hub id.
    savedir : str, optional
        Where the files go (a local folder is read in place when ``None``).

    Returns
    -------
    dict
        Local paths: ``hparams`` (``inference.yaml``), ``labels``, ``model`` (``model.json``) and
        ``weights`` (``{module: path}``).
    """
    local = os.path.isdir(source)
    if not local and savedir is None:
        raise EmoLobesError(f"model source {source} is not a local folder and no savedir is given",
                            "pass savedir= (where the downloaded files go), or a local model folder")
    if local and not os.path.isfile(os.path.join(source, MODEL_INFO)):
        raise EmoLobesError(f"{source} is not a model folder (no {MODEL_INFO})",
                            "give <output_folder>/model of a finished run, or package one with tools/package_model.py")

    def get(name):
        if local and savedir is None:
            return os.path.join(source, name)
        os.makedirs(os.path.dirname(os.path.join(savedir, name)), exist_ok=True)
        return str(fetch(name, source=source, savedir=savedir, save_filename=name,
                         local_strategy=LocalStrategy.SYMLINK))

    model_info = get(MODEL_INFO)
    info = _read_json(model_info)
    modules = info.get("modules") or []
    # every file once, sub-folders kept (EmoNet's per-domain checkpoints)
    names = info.get("files") or [INFERENCE_YAML, LABELS_FILE, *(f"{name}.ckpt" for name in modules)]
    fetched = {name: get(name) for name in names}
    return {"model": model_info, "hparams": fetched[INFERENCE_YAML], "labels": fetched[LABELS_FILE],
            "weights": {name: fetched[f"{name}.ckpt"] for name in modules}}


def model_card(info, results):
    """The model card (``README.md``) of a package, from its ``model.json`` info and the run's test results.

    Example
    -------
    >>> card = model_card({"recipe": "MLEE", "labels": ["neu", "ang"], "modules": ["model"], "sample_rate": 16000},
    ...                   {"ua": 0.5, "wa": 0.6, "n": 10, "corpus": "iemocap", "split": {"method": "loso"}})
    >>> card.splitlines()[0], "UA 50.0 %" in card
    ('# MLEE emotion model', True)
    """
    split = results.get("split") or {}
    if isinstance(split, dict) and len(split) == 1 and isinstance(next(iter(split.values())), dict):
        split = next(iter(split.values()))  # {corpus: split info}
    if isinstance(split, dict):
        split = {key: split[key] for key in ("name", "method", "fold", "test_speakers", "dev_speakers", "n")
                 if key in split}
    metrics = (f"UA {100 * results['ua']:.1f} %, WA {100 * results['wa']:.1f} %, macro-F1 "
               f"{100 * results.get('macro_f1', float('nan')):.1f} % on {results.get('n')} test utterances"
               if "ua" in results else "no test results were found")
    lines = [
        f"# {info.get('recipe')} emotion model", "",
        f"- Recipe: `recipes/{info.get('recipe')}/` of emo-lobes; paper: {PAPERS.get(info.get('recipe'), 'n/a')}.",
        f"- Corpora: {results.get('corpus') or results.get('corpora') or 'see inference.yaml (corpora)'}.",
        f"- Split: {json.dumps(_plain(split)) if split else 'see inference.yaml'}.",
        f"- Classes (output order): {', '.join(info.get('labels') or [])}.",
        f"- Test: {metrics}.",
        f"- Input: mono audio at {info.get('sample_rate')} Hz (other rates and stereo are converted at load).",
        f"- Modules: {', '.join(info.get('modules') or [])}; checkpoint {info.get('checkpoint')}.", "",
        "## Load", "", "```python", "from emo_lobes.inference.classifier import EmotionClassifier",
        "classifier = EmotionClassifier.from_hparams(source=\"<this folder or its hub id>\", savedir=\"pretrained\")",
        "print(classifier.classify_file(\"speech.wav\")[\"label\"])",
        "out_prob, score, index, text_lab = classifier.classify_batch(wavs, wav_lens)", "```", "",
    ]
    return "\n".join(lines)


def _plain(value):
    # JSON-safe copy of checkpoint metadata and split info
    return json.loads(json.dumps(value, default=str))


def _write_json(path, data):
    with open(path, "w", encoding="utf-8") as fout:
        json.dump(data, fout, indent=2)
        fout.write("\n")
