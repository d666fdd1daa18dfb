"""Synthetic corpora described by ``metadata.csv`` + ``wav/``: SPONT (Spanish call centre), GEMEP, MASC."""
import csv
import functools
import os

import numpy as np

from emo_lobes.data.corpora.csv_corpus import ANNOTATOR_SEPARATOR, DEFAULT_CSV, LABEL_SEPARATOR
from emo_lobes.errors import EmoLobesError
from emo_lobes.data.synthetic.common import speaker_voices, write_once, write_wav
from emo_lobes.data.synthetic.voice import SpeakerVoice, synthesize

AUDIO_FOLDER = "wav"

#: SPONT: class -> share of utterances (neutral dominates, as in real call-centre data).
SPONT_CLASSES = {"neutral": 0.55, "angry": 0.2, "happy": 0.12, "sad": 0.13}
SPONT_SAMPLE_RATE = 8000  # telephone band
SPONT_SPEAKERS = 12
SPONT_UTTERANCES = 160
SPONT_ANNOTATORS = 3
#: Share of SPONT utterances on which all three annotators disagree.
SPONT_ALL_DISAGREE = 0.08
SPONT_FILLERS = ("mm", "eh", "ok")
SPONT_PHRASES = {
    "neutral": ("quería consultar el estado de mi pedido", "le doy mi número de cliente",
                "sí, la dirección es la misma", "de acuerdo, espero en línea"),
    "angry": ("llevo tres semanas esperando y nadie me responde", "esto es una vergüenza",
              "quiero hablar con un responsable ahora mismo", "me han cobrado dos veces"),
    "happy": ("muchas gracias, me ha ayudado mucho", "perfecto, qué rapidez", "genial, ya funciona todo"),
    "sad": ("la verdad es que estoy muy preocupado", "no sé qué voy a hacer", "es que lo he perdido todo"),
}

#: GEMEP's codes of its 12 core emotions -> emotion words (the ``emotion`` column; canonical names follow).
GEMEP_CODES = {
    "amu": "amusement", "pri": "pride", "joy": "joy", "int": "interest", "ang": "anger", "fea": "fear",
    "des": "despair", "ple": "pleasure", "rel": "relief", "anx": "worry", "irr": "irritation", "sad": "sadness",
}
GEMEP_SAMPLE_RATE = 16000
GEMEP_ACTORS = 10
#: GEMEP's two pseudo-speech sentences.
GEMEP_SENTENCES = {"s1": "ne kal ibam sud molen", "s2": "kun se mina lod belam"}

#: MASC's five emotions (the ``label`` column) -> emotion words (the ``emotion`` column).
MASC_EMOTIONS = {"neutral": "neutral", "anger": "anger", "elation": "happy", "panic": "fear", "sadness": "sadness"}
MASC_SAMPLE_RATE = 16000
MASC_SPEAKERS = 8
MASC_SENTENCES = ("今天天气很好", "我们明天见", "你在做什么", "请把门关上")

#: Synthetic corpus name -> (language, metadata columns).
CORPORA = {
    "spont": ("es", ("path", "label", "speaker", "gender", "language", "style", "session", "annotations", "text")),
    "gemep": ("fr", ("path", "label", "emotion", "speaker", "gender", "language", "style", "text_id", "text")),
    "masc": ("zh", ("path", "label", "emotion", "speaker", "gender", "language", "style", "text")),
}


def spont_annotations(label, rng):
    """Three annotators' labels for a SPONT utterance of class ``label``, as the ``annotations`` cell.

    Usually most annotators hear ``label`` (some give a second label); on :data:`SPONT_ALL_DISAGREE` of the
    utterances all three pick different classes.

    Arguments
    ---------
    label : str
        The class the utterance was synthesised with.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    str
        E.g. ``"neutral|neutral;angry|neutral"``.

    Example
    -------
    >>> cell = spont_annotations("angry", np.random.default_rng(0))
    >>> len(cell.split("|"))
    3
    """
    classes = list(SPONT_CLASSES)
    if rng.random() < SPONT_ALL_DISAGREE:
        return ANNOTATOR_SEPARATOR.join(rng.permutation(classes)[:SPONT_ANNOTATORS])
    cells = []
    for _ in range(SPONT_ANNOTATORS):
        heard = label if rng.random() < 0.8 else str(rng.choice([c for c in classes if c != label]))
        if rng.random() < 0.1:
            heard += LABEL_SEPARATOR + str(rng.choice([c for c in classes if c != heard]))
        cells.append(heard)
    return ANNOTATOR_SEPARATOR.join(cells)


def _spont(tmp, rng):
    """SPONT rows: 12 callers on 2 calls each, 160 utterances, 8 kHz, fillers and some utterances over 7.5 s."""
    genders = ["m", "f"] * (SPONT_SPEAKERS // 2)
    voices = speaker_voices(rng, ["male" if g == "m" else "female" for g in genders])
    labels = rng.choice(list(SPONT_CLASSES), SPONT_UTTERANCES, p=list(SPONT_CLASSES.values()))
    callers = np.sort(rng.integers(0, SPONT_SPEAKERS, SPONT_UTTERANCES))
    rows = []
    for index, (label, caller) in enumerate(zip(labels, callers)):
        if rng.random() < 0.12:
            text, duration = str(rng.choice(SPONT_FILLERS)), rng.uniform(0.4, 1.0)
        else:
            duration = float(np.clip(np.exp(rng.normal(np.log(2.5), 0.6)), 1.0, 10.0))
            phrases = rng.choice(SPONT_PHRASES[label], 1 + int(duration // 4))
            text = ", ".join(str(p) for p in phrases)
        audio = synthesize(label, voices[caller], rng, SPONT_SAMPLE_RATE, duration, rng.uniform(0.4, 1.0))
        session = f"call_{caller + 1:02d}_{1 + index % 2}"
        path = f"{AUDIO_FOLDER}/{session}_{index:03d}.wav"
        write_wav(os.path.join(tmp, path), audio, SPONT_SAMPLE_RATE)
        rows.append([path, label, f"c{caller + 1:02d}", genders[caller], "es", "spontaneous", session,
                     spont_annotations(label, rng), text])
    return rows


def _gemep(tmp, rng):
    """GEMEP rows: 10 actors x 12 emotions x 1-2 pseudo-sentences, 16 kHz."""
    genders = ["male", "female"] * (GEMEP_ACTORS // 2)
    rows = []
    for actor, (gender, voice) in enumerate(zip(genders, speaker_voices(rng, genders)), start=1):
        for code, word in GEMEP_CODES.items():
            sentences = ["s1", "s2"] if rng.random() < 0.5 else ["s1"]
            for take, sentence in enumerate(sentences, start=1):
                audio = synthesize(word, voice, rng, GEMEP_SAMPLE_RATE, rng.uniform(1.2, 2.5), rng.uniform(0.8, 1.2))
                path = f"{AUDIO_FOLDER}/{actor:02d}/{actor:02d}{code}{take}.wav"
                write_wav(os.path.join(tmp, path), audio, GEMEP_SAMPLE_RATE)
                rows.append([path, code, word, f"gemep_{actor:02d}", gender, "fr", "acted", sentence,
                             GEMEP_SENTENCES[sentence]])
    return rows


def _masc(tmp, rng):
    """MASC rows: 8 speakers x 5 emotions x 4 sentences, 16 kHz, ``wav/<speaker>/<emotion>/<n>.wav``."""
    genders = ["M", "F"] * (MASC_SPEAKERS // 2)
    rows = []
    for number, gender in enumerate(genders, start=1):
        voice = SpeakerVoice.random(rng, "male" if gender == "M" else "female")
        for label, word in MASC_EMOTIONS.items():
            for index, sentence in enumerate(MASC_SENTENCES, start=1):
                audio = synthesize(label, voice, rng, MASC_SAMPLE_RATE, rng.uniform(1.0, 2.2))
                path = f"{AUDIO_FOLDER}/{number:02d}/{label}/{index:02d}.wav"
                write_wav(os.path.join(tmp, path), audio, MASC_SAMPLE_RATE)
                rows.append([path, label, word, f"{number:02d}", gender, "zh", "acted", sentence])
    return rows


_WRITERS = {"spont": _spont, "gemep": _gemep, "masc": _masc}


def write(folder, seed=0, name="spont"):
    """Write synthetic corpus ``name`` (``spont``, ``gemep`` or ``masc``) as ``metadata.csv`` plus ``wav/``.

    SPONT: 160 Spanish call-centre utterances (8 kHz, 12 callers, 0.4-10 s, neutral-dominant 4 classes, three
    annotators, filler-only transcripts). GEMEP: French actors (10), the 12 core emotions under GEMEP's codes
    with an ``emotion`` column. MASC: Mandarin, 8 speakers, 5 emotions (elation and panic mapped to happy and
    fear in the ``emotion`` column). Parse them with ``emo_lobes.data.corpora.csv_corpus.parse``.

    Arguments
    ---------
    folder : str
        The corpus folder to create.
    seed : int
        Random seed; the same seed writes the same files.
    name : str
        ``spont``, ``gemep`` or ``masc``.

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import tempfile
    >>> from emo_lobes.data.corpora.csv_corpus import parse
    >>> summary = parse(write(os.path.join(tempfile.mkdtemp(), "MASC"), name="masc")).summary()
    >>> summary["n_utterances"], summary["n_speakers"], summary["emotions"]["happy"], summary["speakers"]["masc_01"]
    (160, 8, 32, 20)
    """
    if name not in _WRITERS:
        raise EmoLobesError(f"no synthetic CSV corpus '{name}'", f"use one of {', '.join(_WRITERS)}")
    return write_once(folder, {"name": name, "seed": seed}, functools.partial(_write_corpus, name=name, seed=seed))


def _write_corpus(tmp, name, seed):
    """Write corpus ``name``'s audio and ``metadata.csv`` under ``tmp``; returns the stamp's ``files`` count."""
    rng = np.random.default_rng([seed, 31, list(_WRITERS).index(name)])
    rows = _WRITERS[name](tmp, rng)
    with open(os.path.join(tmp, DEFAULT_CSV), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CORPORA[name][1])
        writer.writerows(rows)
    return {"files": len(rows)}
