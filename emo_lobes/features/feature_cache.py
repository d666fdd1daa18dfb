"""Acoustic features computed once per audio file and cached on disk: openSMILE functionals, Kaldi MFCC frames,
pyAudioAnalysis short-term frames.

A cached entry is keyed by the audio file's absolute path, size and modification time and by the feature's
name (which includes its settings and the openSMILE version), so an edited or replaced file, or other settings,
are computed afresh. Entries are ``.npy`` files written atomically under ``<cache_dir>/<feature name>/``.
"""
import functools
import hashlib
import math
import os
import re
import tempfile

import numpy as np
import torch
from torchaudio.compliance import kaldi

from emo_lobes.data.audio import load_audio
from emo_lobes.errors import EmoLobesError
from emo_lobes.progress import progress

#: Every feature is computed from mono audio at this rate (corpora at 44.1/48 kHz are resampled at load).
FEATURE_SAMPLE_RATE = 16000
#: Kaldi's default frame length and shift (25 ms, 10 ms).
KALDI_FRAME_LENGTH_S = 0.025
KALDI_FRAME_SHIFT_S = 0.010
#: Shortest signal openSMILE's functionals get: shorter ones are zero-padded to it (IS09 gives NaN below 25 ms,
#: eGeMAPSv02 below 60 ms: "Segment too short, filling with NaN"), so a 10 ms file yields finite features.
MIN_FUNCTIONALS_S = 0.08


def cache_key(audio_path, feature_name):
    """The cache key of one audio file for one feature: a hash of path, size, mtime and feature name.

    Arguments
    ---------
    audio_path : str
        The audio file (must exist).
    feature_name : str
        The feature and its settings, e.g. ``opensmile-2.6.0_IS09_16k_min80ms``.

    Returns
    -------
    str
        40 hexadecimal characters.

    Example
    -------
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> _ = open(path, "wb").write(b"x")
    >>> key = cache_key(path, "IS09")
    >>> len(key), key == cache_key(path, "IS09"), key == cache_key(path, "eGeMAPSv02")
    (40, True, False)
    """
    try:
        stat = os.stat(audio_path)
    except OSError:
        raise EmoLobesError(f"audio file {audio_path} does not exist",
                            "re-run the data preparation so the manifests list existing files") from None
    text = f"{os.path.abspath(audio_path)}\n{stat.st_size}\n{stat.st_mtime_ns}\n{feature_name}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class FeatureCache:
    """Features of audio files, computed by ``compute(path)`` on first request and read from disk afterwards.

    Arguments
    ---------
    cache_dir : str or None
        Root of the cache; entries go to ``<cache_dir>/<feature_name>/``. ``None`` computes every time.
    feature_name : str
        Names the feature and its settings (part of each key and the sub-folder's name).
    compute : callable
        ``compute(audio_path) -> numpy.ndarray``.

    Attributes
    ----------
    n_computed, n_loaded : int
        How many requests were computed and how many were read from the cache.

    Example
    -------
    >>> import soundfile as sf
    >>> root = tempfile.mkdtemp(); wav = os.path.join(root, "a.wav"); sf.write(wav, np.zeros(160), 16000)
    >>> cache = FeatureCache(os.path.join(root, "cache"), "n_samples", lambda p: np.array([sf.info(p).frames]))
    >>> cache.get(wav), cache.get(wav), (cache.n_computed, cache.n_loaded)
    (array([160]), array([160]), (1, 1))
    """

    def __init__(self, cache_dir, feature_name, compute):
        self.cache_dir = cache_dir
        self.feature_name = feature_name
        self.compute = compute
        self.folder = None
        if cache_dir is not None:
            self.folder = os.path.join(cache_dir, re.sub(r"[^A-Za-z0-9._-]+", "_", feature_name))
        self.n_computed = 0
        self.n_loaded = 0

    def entry_path(self, audio_path):
        """Where the entry of ``audio_path`` is (or would be) stored; ``None`` without a cache folder."""
        if self.folder is None:
            return None
        key = cache_key(audio_path, self.feature_name)
        return os.path.join(self.folder, key[:2], key + ".npy")

    def get(self, audio_path):
        """The feature of one audio file, from the cache when there, else computed and stored.

        Arguments
        ---------
        audio_path : str
            The audio file.

        Returns
        -------
        numpy.ndarray
            What ``compute`` returns for this file.
        """
        entry = self.entry_path(audio_path)
        if entry is not None and os.path.isfile(entry):
            try:
                value = np.load(entry, allow_pickle=False)
                self.n_loaded += 1
                return value
            except (OSError, ValueError):  # a damaged entry is computed again
                pass
        value = np.asarray(self.compute(audio_path))
        self.n_computed += 1
        if entry is not None:
            _save_atomic(value, entry)
        return value

    def get_many(self, audio_paths):
        """:meth:`get` for each path, in order (a list, since frame counts may differ)."""
        return [self.get(path) for path in progress(audio_paths, f"[features] {self.feature_name}")]


def _save_atomic(value, path):
    # np.save into a temporary file beside the entry, then os.replace: readers never see half an entry.
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        handle, tmp_path = tempfile.mkstemp(dir=folder, suffix=".tmp")
    except OSError as err:
        raise EmoLobesError(f"cannot write the feature cache in {folder} ({err.strerror})",
                            "pass a writable feature cache folder") from None
    try:
        with os.fdopen(handle, "wb") as tmp_file:
            np.save(tmp_file, value, allow_pickle=False)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def opensmile_feature_set(name):
    """The ``opensmile.FeatureSet`` member called ``name`` (``IS09``, ``eGeMAPSv02``, ``ComParE_2016`` ...).

    Example
    -------
    >>> opensmile_feature_set("IS09").value
    'is09-13/IS09_emotion'
    """
    import opensmile

    names = [member.name for member in opensmile.FeatureSet]
    if name not in names:
        raise EmoLobesError(f"unknown openSMILE feature set '{name}'", f"use one of {', '.join(names)}")
    return opensmile.FeatureSet[name]


@functools.lru_cache(maxsize=None)
def _smile(feature_set):
    import opensmile

    return opensmile.Smile(feature_set=opensmile_feature_set(feature_set),
                           feature_level=opensmile.FeatureLevel.Functionals)


def functional_names(feature_set="IS09"):
    """Names of the functionals of an openSMILE feature set (IS09: 384, eGeMAPSv02: 88).

    Example
    -------
    >>> len(functional_names("IS09")), len(functional_names("eGeMAPSv02"))
    (384, 88)
    """
    return list(_smile(feature_set).feature_names)


def opensmile_functionals(audio_path, feature_set="IS09"):
    """openSMILE functionals of one file, read as mono at :data:`FEATURE_SAMPLE_RATE` (no cache).

    Files shorter than :data:`MIN_FUNCTIONALS_S` are zero-padded to it (openSMILE fills its output with NaN
    otherwise).

    Arguments
    ---------
    audio_path : str
        The audio file.
    feature_set : str
        A name of ``opensmile.FeatureSet``.

    Returns
    -------
    numpy.ndarray
        ``[n_functionals]`` float32.

    Example
    -------
    >>> import soundfile as sf
    >>> wav = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(wav, 0.1 * np.sin(np.arange(16000) * 0.05), 16000)
    >>> opensmile_functionals(wav).shape
    (384,)
    >>> sf.write(wav, 0.1 * np.sin(np.arange(160) * 0.05), 16000)   # 10 ms
    >>> bool(np.isfinite(opensmile_functionals(wav, "eGeMAPSv02")).all())
    True
    """
    return signal_functionals(load_audio(audio_path, FEATURE_SAMPLE_RATE).numpy(), feature_set)


def signal_functionals(signal, feature_set="IS09"):
    """openSMILE functionals of a mono waveform at :data:`FEATURE_SAMPLE_RATE` (what :func:`opensmile_functionals`
    computes for a file's samples; short signals zero-padded to :data:`MIN_FUNCTIONALS_S`).

    Example
    -------
    >>> signal_functionals(0.1 * np.sin(np.arange(16000, dtype=np.float32) * 0.05)).shape
    (384,)
    """
    shortest = int(MIN_FUNCTIONALS_S * FEATURE_SAMPLE_RATE)
    if len(signal) < shortest:
        signal = np.pad(signal, (0, shortest - len(signal)))
    values = _smile(feature_set).process_signal(signal, FEATURE_SAMPLE_RATE).to_numpy()
    return values[0].astype(np.float32)


def functionals_cache(feature_set="IS09", cache_dir=None):
    """A :class:`FeatureCache` of openSMILE functionals (the key names the set and the openSMILE version).

    Example
    -------
    >>> functionals_cache("IS09", "/tmp/c").feature_name.startswith("opensmile-")
    True
    """
    import opensmile

    opensmile_feature_set(feature_set)
    name = (f"opensmile-{opensmile.__version__}_{feature_set}_{FEATURE_SAMPLE_RATE // 1000}k"
            f"_min{round(MIN_FUNCTIONALS_S * 1000)}ms")  # the padding rule is part of what an entry holds
    return FeatureCache(cache_dir, name, functools.partial(opensmile_functionals, feature_set=feature_set))


def functionals(audio_paths, feature_set="IS09", cache_dir=None):
    """openSMILE functionals of many files as one matrix, computed once and cached in ``cache_dir``.

    Arguments
    ---------
    audio_paths : list of str
        Audio files.
    feature_set : str
        ``IS09`` (384 functionals, the INTERSPEECH 2009 emotion challenge set), ``eGeMAPSv02`` (88) or any
        other name of ``opensmile.FeatureSet``.
    cache_dir : str, optional
        Cache root (``None``: no cache).

    Returns
    -------
    numpy.ndarray
        ``[len(audio_paths), n_functionals]`` float32.

    Example
    -------
    >>> import soundfile as sf
    >>> root = tempfile.mkdtemp()
    >>> paths = [os.path.join(root, f"{i}.wav") for i in range(2)]
    >>> for i, path in enumerate(paths):
    ...     sf.write(path, 0.1 * np.sin(np.arange(8000) * 0.05 * (i + 1)), 16000)
    >>> functionals(paths, "eGeMAPSv02", cache_dir=os.path.join(root, "cache")).shape
    (2, 88)
    """
    cache = functionals_cache(feature_set, cache_dir)
    rows = cache.get_many(audio_paths)
    if not rows:
        return np.zeros((0, len(functional_names(feature_set))), dtype=np.float32)
    return np.stack(rows).astype(np.float32)


def kaldi_mfcc(waveform, n_mfcc=13, sample_rate=FEATURE_SAMPLE_RATE):
    """Kaldi-compatible MFCCs (``torchaudio.compliance.kaldi.mfcc``) of a mono waveform in [-1, 1].

    Kaldi's defaults: 25 ms frames every 10 ms, povey window, 23 mel bins, no dither (so features are
    deterministic and cacheable), ``use_energy=False`` (C0 kept, as in Kaldi recipes' ``mfcc.conf``). The signal
    is scaled to the 16-bit range Kaldi reads, and a signal shorter than one frame is zero-padded to one frame.

    Arguments
    ---------
    waveform : torch.Tensor
        ``[samples]``.
    n_mfcc : int
        Cepstral coefficients (13 in the paper).
    sample_rate : int
        Rate of ``waveform``.

    Returns
    -------
    torch.Tensor
        ``[frames, n_mfcc]``.

    Example
    -------
    >>> kaldi_mfcc(0.1 * torch.randn(19440)).shape
    torch.Size([120, 13])
    >>> kaldi_mfcc(torch.zeros(100)).shape
    torch.Size([1, 13])
    """
    window = int(round(KALDI_FRAME_LENGTH_S * sample_rate))
    if waveform.numel() < window:
        waveform = torch.nn.functional.pad(waveform, (0, window - waveform.numel()))
    return kaldi.mfcc(waveform.unsqueeze(0) * 32768.0, num_ceps=n_mfcc, sample_frequency=sample_rate,
                      use_energy=False, dither=0.0)


def first_mfcc_frames(audio_path, n_mfcc=13, max_frames=120, sample_rate_hint=None):
    """Kaldi MFCCs of the first ``max_frames`` frames of a file (only the audio they need is read).

    Section 4.1: "We keep a maximum of 120 frames of the input"; shorter utterances give fewer frames here
    and are zero-padded in the batch.

    Arguments
    ---------
    audio_path : str
        The audio file.
    n_mfcc : int
        Coefficients per frame.
    max_frames : int
        Frames kept.
    sample_rate_hint : int, optional
        The file's own rate if known (otherwise read from its header).

    Returns
    -------
    numpy.ndarray
        ``[min(frames, max_frames), n_mfcc]`` float32.

    Example
    -------
    >>> import soundfile as sf
    >>> wav = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(wav, 0.1 * np.random.randn(44100 * 2), 44100)
    >>> first_mfcc_frames(wav).shape, first_mfcc_frames(wav, max_frames=50).shape
    ((120, 13), (50, 13))
    """
    from emo_lobes.data.audio import audio_info

    file_rate = sample_rate_hint or audio_info(audio_path).sample_rate
    needed_s = KALDI_FRAME_LENGTH_S + (max_frames - 1) * KALDI_FRAME_SHIFT_S + 0.01  # margin for resampling
    waveform = load_audio(audio_path, FEATURE_SAMPLE_RATE, stop=int(math.ceil(needed_s * file_rate)))
    return kaldi_mfcc(waveform, n_mfcc)[:max_frames].numpy().astype(np.float32)


def mfcc_cache(cache_dir=None, n_mfcc=13, max_frames=120):
    """A :class:`FeatureCache` of :func:`first_mfcc_frames`.

    Example
    -------
    >>> mfcc_cache("/tmp/c").feature_name
    'kaldi-mfcc13_first120_16k'
    """
    name = f"kaldi-mfcc{n_mfcc}_first{max_frames}_{FEATURE_SAMPLE_RATE // 1000}k"
    return FeatureCache(cache_dir, name, functools.partial(first_mfcc_frames, n_mfcc=n_mfcc, max_frames=max_frames))


#: pyAudioAnalysis's short-term features without deltas: zcr, energy, energy entropy, spectral centroid, spread,
#: entropy, flux, rolloff, 13 MFCCs, 12 chroma and the chroma deviation.
N_SHORT_TERM_FEATURES = 34
#: Tripathi & Beigi's windows (their public code, not stated in the language-ID paper): 0.2 s, every 0.1 s.
SHORT_TERM_WINDOW_S = 0.2
SHORT_TERM_STEP_S = 0.1
PYAUDIOANALYSIS_FIX = ("pip install --no-deps pyAudioAnalysis==0.3.14 (tools/setup_env.sh does; its metadata pins "
                       "numpy 1.20 and other old packages, while the short-term features need only numpy, scipy, "
                       "matplotlib and tqdm)")


def short_term_frames(waveform, sample_rate=FEATURE_SAMPLE_RATE, window_s=SHORT_TERM_WINDOW_S,
                      step_s=SHORT_TERM_STEP_S, drop_edge_frames=True):
    """pyAudioAnalysis's 34 short-term features (``ShortTermFeatures.feature_extraction``, no deltas) per window.

    The speech input of Tripathi & Beigi (2018), whose IEMOCAP setting the language-ID paper reproduces in Section
    6.2 (from their public code): 0.2 s windows every 0.1 s, the first and last window left out when there are
    more than two (``drop_edge_frames``). pyAudioAnalysis normalises each signal (mean removed, divided by its
    peak), so the waveform's scale does not matter. A signal shorter than one window is zero-padded to one.
    pyAudioAnalysis is used, not rewritten: its definitions (chroma bins, MFCC filter bank) are the features.

    Arguments
    ---------
    waveform : numpy.ndarray or torch.Tensor
        ``[samples]`` mono.
    sample_rate : int
        Rate of ``waveform``.
    window_s, step_s : float
        Window and step in seconds.
    drop_edge_frames : bool
        Leave out the first and last window, as Tripathi & Beigi's code does.

    Returns
    -------
    numpy.ndarray
        ``[frames, 34]`` float32.

    Example
    -------
    >>> signal = 0.1 * np.random.RandomState(0).randn(16000 * 2)
    >>> short_term_frames(signal).shape, short_term_frames(signal, drop_edge_frames=False).shape
    ((17, 34), (19, 34))
    >>> short_term_frames(np.zeros(100)).shape
    (1, 34)
    """
    try:
        from pyAudioAnalysis import ShortTermFeatures
    except ImportError:
        raise EmoLobesError("pyAudioAnalysis is not installed", PYAUDIOANALYSIS_FIX) from None
    signal = np.asarray(waveform, dtype=np.float64).reshape(-1)
    window, step = int(round(window_s * sample_rate)), int(round(step_s * sample_rate))
    if signal.size < window:
        signal = np.pad(signal, (0, window - signal.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        frames = ShortTermFeatures.feature_extraction(signal, sample_rate, window, step, deltas=False)[0].T
    if drop_edge_frames and len(frames) > 2:
        frames = frames[1:-1]
    elif drop_edge_frames:
        frames = frames[:1]
    return np.nan_to_num(frames, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)  # a silent window: 0/0


def first_short_term_frames(audio_path, max_frames=100):
    """:func:`short_term_frames` of a file (16 kHz mono), the first ``max_frames`` kept (Tripathi & Beigi: 100).

    Example
    -------
    >>> import soundfile as sf
    >>> wav = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> sf.write(wav, 0.1 * np.random.randn(16000 * 12), 16000)
    >>> first_short_term_frames(wav).shape
    (100, 34)
    """
    return short_term_frames(load_audio(audio_path, FEATURE_SAMPLE_RATE).numpy())[:max_frames]


def short_term_cache(cache_dir=None, max_frames=100):
    """A :class:`FeatureCache` of :func:`first_short_term_frames`.

    Example
    -------
    >>> short_term_cache("/tmp/c").feature_name
    'pyaudioanalysis-0.3.14_34_w0.2_s0.1_noedges_first100_16k'
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        library = version("pyAudioAnalysis")  # in the name: another version computes its entries afresh
    except PackageNotFoundError:
        library = "missing"  # computing then fails in one line (short_term_frames)
    name = (f"pyaudioanalysis-{library}_{N_SHORT_TERM_FEATURES}_w{SHORT_TERM_WINDOW_S}_s{SHORT_TERM_STEP_S}_noedges_"
            f"first{max_frames}_{FEATURE_SAMPLE_RATE // 1000}k")
    return FeatureCache(cache_dir, name, functools.partial(first_short_term_frames, max_frames=max_frames))


#: Feature kinds that are frame sequences (zero-padded to ``max_frames`` by the recipe); the others are functionals.
FRAME_FEATURES = ("mfcc", "pyaudioanalysis")


def feature_size(features, n_mfcc=13):
    """Values per frame of a feature kind: ``mfcc`` gives ``n_mfcc``, ``pyaudioanalysis`` 34, an openSMILE set its
    functionals.

    Arguments
    ---------
    features : str
        ``mfcc``, ``pyaudioanalysis`` or a name of ``opensmile.FeatureSet`` (``IS09``, ``eGeMAPSv02`` ...).
    n_mfcc : int
        Coefficients of ``mfcc``.

    Returns
    -------
    int
        The model's input size.

    Example
    -------
    >>> feature_size("mfcc"), feature_size("pyaudioanalysis"), feature_size("IS09")
    (13, 34, 384)
    """
    if features == "mfcc":
        return int(n_mfcc)
    if features == "pyaudioanalysis":
        return N_SHORT_TERM_FEATURES
    return len(functional_names(features))


def feature_cache_for(features, cache_dir=None, n_mfcc=13, max_frames=120):
    """The :class:`FeatureCache` of a feature kind (``mfcc`` or ``pyaudioanalysis`` frames, or an openSMILE set's
    functionals).

    Example
    -------
    >>> feature_cache_for("mfcc").feature_name, feature_cache_for("IS09").feature_name.endswith("IS09_16k_min80ms")
    ('kaldi-mfcc13_first120_16k', True)
    """
    if features == "mfcc":
        return mfcc_cache(cache_dir, n_mfcc, max_frames)
    if features == "pyaudioanalysis":
        return short_term_cache(cache_dir, max_frames)
    return functionals_cache(features, cache_dir)
