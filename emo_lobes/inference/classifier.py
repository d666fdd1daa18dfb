"""Classify new audio with a trained experiment folder: label, class probabilities and the emotion embedding.

In SpeechBrain's style (``EncoderClassifier.from_hparams``), :meth:`EmotionClassifier.from_experiment` rebuilds
the modules from the experiment's saved ``hyperparams.yaml`` and fills them from its best-dev checkpoint, reading
tensors only (``torch.load(weights_only=True)``: no pickled code runs). The yaml's tags are checked first
(:mod:`emo_lobes.inference.safe_hparams`): a tag naming code outside ``emo_lobes``, ``speechbrain`` and ``torch``
(``!apply:os.system``...) is refused in one line and nothing runs::

    classifier = EmotionClassifier.from_experiment("results/MLEE/mlee/all/1986/fold_1", device="cpu")
    result = classifier.classify_file("speech.wav")   # {"path", "label", "probabilities", "embedding"}
    results = classifier.classify(["a.wav", "folder_of_wavs/"])

Each recipe says how audio becomes class scores in a small :class:`RecipeAdapter` registered under the recipe
name its experiment folders carry (``"recipe"`` in ``experiment.json`` or ``test_results.json``); the adapters
live in :mod:`emo_lobes.inference.adapters`, one module per recipe, registered with :func:`register_adapter`.
Command line: ``python tools/classify.py EXPERIMENT_FOLDER PATH... --output predictions.csv``.
"""
import json
import os

import torch
from speechbrain.dataio.batch import PaddedBatch

from emo_lobes.data.audio import load_audio
from emo_lobes.training.checkpoints import load_module_tensors
from emo_lobes.data.corpora.base import AUDIO_EXTENSIONS, find_audio_files
from emo_lobes.errors import EmoLobesError
from emo_lobes.progress import progress
from emo_lobes.inference.safe_hparams import check_hparams_tags, load_hparams_safely
from emo_lobes.training.hparams_check import hparams_keys

#: Recipe name -> adapter class (filled by :func:`register_adapter`).
ADAPTERS = {}
HPARAMS_FILE = "hyperparams.yaml"


def register_adapter(recipe):
    """Class decorator: make ``cls`` the :class:`RecipeAdapter` of experiments whose recipe is ``recipe``.

    Example
    -------
    >>> @register_adapter("Toy")
    ... class ToyAdapter(RecipeAdapter):
    ...     pass
    >>> ADAPTERS["Toy"] is ToyAdapter
    True
    >>> del ADAPTERS["Toy"]
    """

    def register(cls):
        ADAPTERS[recipe] = cls
        cls.recipe = recipe
        return cls

    return register


class RecipeAdapter:
    """How the modules of one recipe's experiment turn a batch of waveforms into class scores.

    Subclasses set :attr:`module_keys` (or override :meth:`modules`) and implement :meth:`scores`.

    Arguments
    ---------
    hparams : dict
        The experiment's loaded ``hyperparams.yaml``.
    labels : list of str
        Class names in output order (from the experiment's ``test_results.json`` when the adapter has none).

    Example
    -------
    >>> adapter = RecipeAdapter({"sample_rate": 8000}, ["neu", "ang"])
    >>> adapter.sample_rate, adapter.labels, adapter.best_checkpoint
    (8000, ['neu', 'ang'], {'min_key': 'loss'})
    """

    recipe = None
    #: ``Checkpointer.find_checkpoints`` arguments that pick the checkpoint the recipe tests.
    best_checkpoint = {"min_key": "loss"}

    def __init__(self, hparams, labels):
        self.hparams = hparams
        self.labels = list(labels)
        self.sample_rate = int(hparams.get("sample_rate", 16000))

    def modules(self):
        """``{name: module}`` the scores need (put in eval mode and on the device)."""
        return {}

    def load(self, path):
        """A file's waveform ``[samples]`` at the model's rate (mono, resampled)."""
        return load_audio(path, self.sample_rate)

    @classmethod
    def package_files(cls, experiment_folder):
        """Files of an experiment folder (relative paths) a model package must carry beyond the tested modules'
        weights, copied as they are (e.g. EmoNet's ``experiment.json`` and every domain's best checkpoint)."""
        return []

    def batch_inputs(self, wavs, wav_lens):
        """What :meth:`scores` takes, from a padded batch of waveforms at the model's rate (what :meth:`load` does
        per file, done per utterance of the batch); by default the waveforms themselves."""
        return wavs, wav_lens

    def scores(self, wavs, wav_lens):
        """Class probabilities ``[batch, classes]``, predicted indices ``[batch]`` and embeddings (or ``None``).

        An adapter whose model has other output heads (a style head, other corpora's heads) may return a fourth
        value, ``{head name: (class names, probabilities [batch, classes])}``: each result then carries them
        under ``heads``.
        """
        raise NotImplementedError


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as fin:
            return json.load(fin)
    except (OSError, ValueError):
        return {}


def experiment_recipe(folder):
    """The recipe that wrote an experiment folder (``"recipe"`` of ``experiment.json`` or ``test_results.json``).

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "test_results.json"), "w").write('{"recipe": "MLEE", "wa": 0.5}')
    >>> experiment_recipe(folder)
    'MLEE'
    """
    for name in ("experiment.json", "test_results.json"):
        recipe = _read_json(os.path.join(folder, name)).get("recipe")
        if recipe:
            return recipe
    return None


def _build_adapter(text, hparams_path, recipe, save_folder, labels):
    # The recipe's adapter over hparams loaded without side effects: no global seeding, the checkpointer on save_folder
    import emo_lobes.inference.adapters  # noqa: F401  (registers every recipe's adapter; imported here: they import us)

    if recipe not in ADAPTERS:
        raise EmoLobesError(f"no inference adapter for recipe {recipe!r} of {hparams_path}",
                            f"use a model of {', '.join(sorted(ADAPTERS))}, or pass recipe=")
    check_hparams_tags(text, hparams_path)  # before anything reads it: a received folder runs no code it names
    keys = hparams_keys(text)
    if "checkpointer" not in keys:
        raise EmoLobesError(f"{hparams_path} declares no checkpointer", "give a recipe's experiment or model folder")
    overrides = {key: None for key in keys if key.startswith("__")}
    overrides["checkpointer"] = {"checkpoints_dir": save_folder}
    hparams = load_hparams_safely(text, overrides, hparams_path)
    return ADAPTERS[recipe](hparams, labels), hparams["checkpointer"]


def checkpoint_modules(checkpointer):
    """``{name: module}`` of the checkpointer's recoverables that are torch modules: what inference loads."""
    return {name: obj for name, obj in checkpointer.recoverables.items() if isinstance(obj, torch.nn.Module)}


def tested_checkpoint(checkpointer, adapter):
    """The checkpoint the recipe tested: the adapter's best one (``best_checkpoint``) holding every module."""
    modules = checkpoint_modules(checkpointer)
    for checkpoint in checkpointer.find_checkpoints(**adapter.best_checkpoint):
        if all(name in checkpoint.paramfiles for name in modules):
            return checkpoint
    raise EmoLobesError(f"no complete checkpoint in {checkpointer.checkpoints_dir}",
                        "train the experiment until it writes its best-dev checkpoint")

def experiment_parts(folder, recipe=None):
    """``(adapter, checkpointer)`` of an experiment folder: its recipe's adapter over its checked
    ``hyperparams.yaml``, and the checkpointer on its ``save/`` (nothing loaded into the modules yet).

    Arguments
    ---------
    folder : str
        A recipe's output folder.
    recipe : str, optional
        The recipe, when the folder does not name it.

    Returns
    -------
    tuple
        ``(RecipeAdapter, Checkpointer)``.
    """
    hparams_path = os.path.join(folder, HPARAMS_FILE)
    if not os.path.isfile(hparams_path):
        raise EmoLobesError(f"{folder} is not an experiment folder (no {HPARAMS_FILE})",
                            "give the output folder of a finished train.py run")
    save_folder = os.path.join(os.path.abspath(folder), "save")
    if not os.path.isdir(save_folder):
        raise EmoLobesError(f"{folder} holds no checkpoint folder (save/)", "train the experiment first")
    with open(hparams_path, encoding="utf-8") as fin:
        text = fin.read()
    labels = _read_json(os.path.join(folder, "test_results.json")).get("labels") or []
    return _build_adapter(text, hparams_path, recipe or experiment_recipe(folder), save_folder, labels)


def package_parts(files):
    """``(adapter, checkpointer)`` of a fetched model package (``files`` from ``fetch_model_package``)."""
    with open(files["hparams"], encoding="utf-8") as fin:
        text = fin.read()
    info = _read_json(files["model"])
    labels = _read_json(files["labels"]).get("labels") or []
    root = os.path.dirname(files["hparams"])
    save_folder = os.path.join(root, "save") if os.path.isdir(os.path.join(root, "save")) else root
    return _build_adapter(text, files["hparams"], info.get("recipe"), save_folder, labels)


def audio_files(paths):
    """Audio files named by ``paths``: files as given, folders searched recursively (sorted), in order.

    In folders, hidden files (such as macOS ``._x.wav`` companions) are skipped, as the corpus parsers do.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "b"))
    >>> for name in ("b/2.flac", "1.wav", "._1.wav", "notes.txt"):
    ...     _ = open(os.path.join(root, name), "w").write("x")
    >>> [os.path.relpath(p, root) for p in audio_files([root])]
    ['1.wav', 'b/2.flac']
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found = []
    for path in map(str, paths):
        if os.path.isdir(path):
            found += [os.path.join(path, rel) for rel in find_audio_files(path, AUDIO_EXTENSIONS)]
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise EmoLobesError(f"{path} does not exist", "give audio files or folders holding them")
    return found


def head_result(labels, probabilities):
    """``{"label", "probabilities"}`` of one utterance from one output head's class probabilities.

    Example
    -------
    >>> head_result(["acted", "spontaneous"], torch.tensor([0.25, 0.75]))
    {'label': 'spontaneous', 'probabilities': {'acted': 0.25, 'spontaneous': 0.75}}
    """
    return {"label": labels[int(probabilities.argmax())],
            "probabilities": {label: float(p) for label, p in zip(labels, probabilities)}}


class EmotionClassifier:
    """A trained emo-lobes model that classifies audio files.

    Build it with :meth:`from_experiment`. Results are dicts with ``path``, ``label``, ``probabilities``
    (``{class: probability}``) and ``embedding`` (a 1-D tensor, or ``None`` when the recipe has none), and, when
    the model has other output heads, ``heads``: ``{head: {"label", "probabilities"}}``.

    Arguments
    ---------
    adapter : RecipeAdapter
        The recipe's adapter, its modules already loaded.
    device : str
        ``cpu`` or ``cuda[:i]``.
    batch_size : int
        Files classified together.
    """

    def __init__(self, adapter, device="cpu", batch_size=8):
        self.adapter = adapter
        self.device = device
        self.batch_size = int(batch_size)
        self.labels = adapter.labels
        #: Rate of the waveforms :meth:`classify_batch` and :meth:`encode_batch` take.
        self.sample_rate = getattr(adapter, "waveform_rate", None) or adapter.sample_rate
        for module in adapter.modules().values():
            module.to(device)
            module.eval()

    @classmethod
    def from_experiment(cls, folder, device="cpu", batch_size=8, recipe=None, head=None):
        """Rebuild the model of an experiment folder from its ``hyperparams.yaml`` and best-dev checkpoint.

        Arguments
        ---------
        folder : str
            A recipe's output folder (holding ``hyperparams.yaml`` and ``save/CKPT+*``).
        device : str
            Where to run.
        batch_size : int
            Files per forward pass.
        recipe : str, optional
            The recipe, when the folder does not name it.
        head : str, optional
            For models with one emotion head per corpus (EmotionEmbeddings, multi-domain EmoNet): the corpus whose
            head gives ``label`` and ``probabilities`` (default: the first); see :meth:`use_head`.

        Returns
        -------
        EmotionClassifier
        """
        adapter, checkpointer = experiment_parts(folder, recipe)
        cls._load_best_checkpoint(checkpointer, adapter, device)
        classifier = cls(adapter, device=device, batch_size=batch_size)
        if head is not None:
            classifier.use_head(head)
        return classifier

    @classmethod
    def from_hparams(cls, source, savedir=None, device="cpu", batch_size=8, head=None):
        """Load a packaged model (:func:`emo_lobes.inference.packaging.write_model_package`) from a folder or a hub.

        The files are fetched with SpeechBrain's ``fetch`` (a local folder is read in place, or linked into
        ``savedir``; a Hugging Face id is downloaded into ``savedir``), the yaml is checked as
        :meth:`from_experiment` checks it, and the weights are read as tensors only.

        Arguments
        ---------
        source : str
            A model folder (``<output_folder>/model``) or a hub id (``user/repo``).
        savedir : str, optional
            Where fetched files go (required for a hub id).
        device : str
            Where to run.
        batch_size : int
            Files per forward pass.
        head : str, optional
            As in :meth:`from_experiment`.

        Returns
        -------
        EmotionClassifier
        """
        from emo_lobes.inference.packaging import fetch_model_package  # noqa: F401 (packaging imports us)

        files = fetch_model_package(source, savedir)
        adapter, checkpointer = package_parts(files)
        for name, module in checkpoint_modules(checkpointer).items():
            if name not in files["weights"]:
                raise EmoLobesError(f"model package {source} has no weights for module {name!r}",
                                    "package the experiment again (python tools/package_model.py)")
            load_module_tensors(module, files["weights"][name], device)
        classifier = cls(adapter, device=device, batch_size=batch_size)
        if head is not None:
            classifier.use_head(head)
        return classifier

    @staticmethod
    def _load_best_checkpoint(checkpointer, adapter, device):
        """Fill every module recoverable from the best complete checkpoint, tensors only."""
        checkpoint = tested_checkpoint(checkpointer, adapter)
        for name, module in checkpoint_modules(checkpointer).items():
            load_module_tensors(module, checkpoint.paramfiles[name], device)
        return checkpoint

    @torch.no_grad()
    def classify_files(self, paths, on_error="raise"):
        """Classify audio files, in batches; one result dict per file, in order.

        Arguments
        ---------
        paths : list of str
            Audio files.
        on_error : str
            ``'raise'``: an unreadable, empty or non-finite file stops with its one-line error; ``'report'``: its
            result is ``{"path", "error"}`` (the error's line, no label) and the other files are classified.

        Returns
        -------
        list of dict
            ``path``, ``label``, ``probabilities``, ``embedding`` (and ``heads``), or ``path`` and ``error``.
        """
        if on_error not in ("raise", "report"):
            raise EmoLobesError(f"unknown on_error '{on_error}'", "use 'raise' or 'report'")
        results, failed = [], {}
        readable = []
        for path in progress(paths, "[classify] reading audio"):
            try:
                readable.append((path, self.adapter.load(path)))
            except EmoLobesError as err:
                if on_error == "raise":
                    raise
                failed[path] = str(err)
        starts = range(0, len(readable), self.batch_size)
        for start in progress(starts, "[classify] scoring", enabled=None if len(readable) >= 200 else False):
            loaded = readable[start:start + self.batch_size]
            chunk = [path for path, _ in loaded]
            batch = PaddedBatch([{"sig": signal} for _, signal in loaded])
            signals, lengths = batch.sig
            scored = self.adapter.scores(signals.to(self.device), lengths.to(self.device))
            probabilities, predicted, embeddings = scored[:3]
            other_heads = scored[3] if len(scored) > 3 else {}
            for index, path in enumerate(chunk):
                result = {
                    "path": path,
                    "label": self.labels[int(predicted[index])],
                    "probabilities": {label: float(p) for label, p in zip(self.labels, probabilities[index])},
                    "embedding": None if embeddings is None else embeddings[index].detach().cpu(),
                }
                if other_heads:
                    result["heads"] = {name: head_result(labels, head_probabilities[index])
                                       for name, (labels, head_probabilities) in other_heads.items()}
                results.append(result)
        if failed:
            by_path = {result["path"]: result for result in results}
            results = [by_path[path] if path in by_path else {"path": path, "error": failed[path]} for path in paths]
        return results

    @torch.no_grad()
    def _score_batch(self, wavs, wav_lens):
        # The adapter's scores of a padded waveform batch, checked and cut to its longest utterance.
        wavs = torch.as_tensor(wavs, dtype=torch.float32)
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wavs.dim() != 2 or wavs.shape[1] == 0:
            raise EmoLobesError(f"waveforms of shape {list(wavs.shape)} are not a batch [batch, samples]",
                                "pass mono waveforms padded to one length, shape [batch, samples]")
        wav_lens = torch.ones(len(wavs)) if wav_lens is None else torch.as_tensor(wav_lens, dtype=torch.float32).cpu()
        samples = torch.round(wav_lens * wavs.shape[1]).long()
        if wav_lens.shape != (len(wavs),) or int(samples.min()) < 1 or float(wav_lens.max()) > 1 + 1e-6:
            raise EmoLobesError(f"wav_lens {wav_lens.tolist()} are not relative lengths in (0, 1] of the "
                                f"{len(wavs)} waveforms", "pass each waveform's samples / the batch's samples")
        for index, count in enumerate(samples.tolist()):
            bad = int((~torch.isfinite(wavs[index, :count])).sum())
            if bad:
                raise EmoLobesError(f"waveform {index} of the batch holds {bad} non-finite samples (NaN/inf)",
                                    "classify only finite audio")
        width = int(samples.max())  # padding past the longest utterance would change non-length-aware front-ends
        wavs, wav_lens = wavs[:, :width], samples.float() / width
        inputs = self.adapter.batch_inputs(wavs.to(self.device), wav_lens.to(self.device))
        return self.adapter.scores(*inputs)

    def classify_batch(self, wavs, wav_lens=None):
        """Classify a padded batch of waveforms, as SpeechBrain's ``EncoderClassifier.classify_batch`` does.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` mono waveforms at :attr:`sample_rate` (16 kHz for every recipe), zero-padded.
        wav_lens : torch.Tensor, optional
            ``[batch]`` lengths relative to ``wavs.shape[1]`` (the longest 1.0); ``None``: all 1.0.

        Returns
        -------
        out_prob : torch.Tensor
            ``[batch, classes]`` log posterior probabilities (log of the ``probabilities`` of :meth:`classify_file`;
            for MLEE's ``method: mlee`` the log of per-class existence probabilities).
        score : torch.Tensor
            ``[batch]`` the log posterior of the predicted class.
        index : torch.Tensor
            ``[batch]`` the predicted class (for ``method: mlee`` eq. 7's choice, not always the largest value).
        text_lab : list of str
            The predicted class names.

        Example
        -------
        >>> import tempfile
        >>> from emo_lobes.inference.adapters.emotionembeddings import _toy_experiment
        >>> classifier = EmotionClassifier.from_experiment(_toy_experiment(tempfile.mkdtemp()))
        >>> out_prob, score, index, text_lab = classifier.classify_batch(torch.randn(2, 16000) * 0.1,
        ...                                                              torch.tensor([1.0, 0.5]))
        >>> out_prob.shape, score.shape, index.shape, len(text_lab), text_lab[0] in classifier.labels
        (torch.Size([2, 3]), torch.Size([2]), torch.Size([2]), 2, True)
        """
        probabilities, predicted = self._score_batch(wavs, wav_lens)[:2]
        out_prob = torch.log(probabilities)
        score = out_prob.gather(1, predicted.view(-1, 1).long()).squeeze(1)
        return out_prob, score, predicted, [self.labels[int(i)] for i in predicted]

    def encode_batch(self, wavs, wav_lens=None):
        """The emotion embeddings ``[batch, dim]`` of a padded batch of waveforms (the ``embedding`` of
        :meth:`classify_file`: EmotionEmbeddings' emotion embedding, the attention-pooled encoder output of MLEE,
        SelectiveMTL and EmoNet, the LSTM summary of LanguageMTL). SpeechBrain's ECAPA gives ``[batch, 1, dim]``;
        here the middle axis is left out.

        Example
        -------
        >>> import tempfile
        >>> from emo_lobes.inference.adapters.emotionembeddings import _toy_experiment
        >>> classifier = EmotionClassifier.from_experiment(_toy_experiment(tempfile.mkdtemp()))
        >>> classifier.encode_batch(torch.randn(3, 8000) * 0.1, torch.tensor([1.0, 0.7, 0.2])).shape
        torch.Size([3, 8])
        """
        embeddings = self._score_batch(wavs, wav_lens)[2]
        if embeddings is None:
            raise EmoLobesError(f"the {self.adapter.recipe} model has no embedding", "use classify_batch")
        return embeddings

    def classify_windows(self, path, window_s=3.0, hop_s=1.0):
        """Classify sliding windows of one (long) file: one result per window, in time order.

        Windows of ``window_s`` seconds start every ``hop_s`` seconds; where the last one would end before the file
        does, one more window ends at the file's end; a file shorter than ``window_s`` is one window.

        Arguments
        ---------
        path : str
            An audio file.
        window_s, hop_s : float
            Window length and hop, in seconds.

        Returns
        -------
        list of dict
            ``path``, ``start``, ``end`` (seconds), ``label``, ``probabilities`` and ``embedding``.

        Example
        -------
        >>> import tempfile, soundfile as sf
        >>> from emo_lobes.inference.adapters.emotionembeddings import _toy_experiment
        >>> folder = _toy_experiment(tempfile.mkdtemp())
        >>> classifier = EmotionClassifier.from_experiment(folder)
        >>> wav = os.path.join(folder, "long.wav"); sf.write(wav, torch.randn(16000 * 5).numpy() * 0.1, 16000)
        >>> [(w["start"], w["end"]) for w in classifier.classify_windows(wav, window_s=2, hop_s=1.5)]
        [(0.0, 2.0), (1.5, 3.5), (3.0, 5.0)]
        """
        if not window_s > 0 or not hop_s > 0:
            raise EmoLobesError(f"window {window_s} s and hop {hop_s} s must both be above 0",
                                "pass e.g. --window 3 --hop 1")
        from emo_lobes.data.audio import load_audio

        rate = self.sample_rate
        wav = load_audio(path, rate)
        window, hop = max(1, int(round(window_s * rate))), max(1, int(round(hop_s * rate)))
        starts = list(range(0, max(len(wav) - window, 0) + 1, hop))
        if starts[-1] + window < len(wav):
            starts.append(len(wav) - window)
        results = []
        for first in range(0, len(starts), self.batch_size):
            chunk = starts[first:first + self.batch_size]
            pieces = [wav[start:start + window] for start in chunk]
            lens = torch.tensor([len(piece) for piece in pieces], dtype=torch.float32)
            batch = torch.nn.utils.rnn.pad_sequence(pieces, batch_first=True)
            probabilities, predicted, embeddings = self._score_batch(batch, lens / lens.max())[:3]
            for row, start in enumerate(chunk):
                results.append({
                    "path": path, "start": round(start / rate, 3), "end": round((start + len(pieces[row])) / rate, 3),
                    "label": self.labels[int(predicted[row])],
                    "probabilities": {label: float(p) for label, p in zip(self.labels, probabilities[row])},
                    "embedding": None if embeddings is None else embeddings[row].detach().cpu(),
                })
        return results

    def use_head(self, name):
        """Answer ``label`` and ``probabilities`` through another emotion head of the model (e.g. another corpus's
        head of an EmotionEmbeddings run); one line for a recipe whose model has a single emotion head."""
        choose = getattr(self.adapter, "use_head", None)
        if choose is None:
            raise EmoLobesError(f"the {self.adapter.recipe} model has a single emotion head",
                                "leave out the head choice (--head)")
        choose(name)
        self.labels = list(self.adapter.labels)

    def classify_file(self, path):
        """One file's result dict."""
        return self.classify_files([path])[0]

    def classify(self, paths):
        """Classify a file, a folder (recursively) or a list of both; one result dict per audio file."""
        return self.classify_files(audio_files(paths))
