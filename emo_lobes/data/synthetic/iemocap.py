"""Synthetic IEMOCAP_full_release: 5 sessions x 2 actors, dialogs with EmoEvaluation files in the real shape."""
import functools
import os

import numpy as np

from emo_lobes.data.corpora.iemocap import CODE_TO_CATEGORY, majority_code
from emo_lobes.data.labels import canonical_emotion
from emo_lobes.data.synthetic.common import speaker_voices, write_once, write_wav
from emo_lobes.data.synthetic.voice import synthesize

SAMPLE_RATE = 16000
SESSIONS = (1, 2, 3, 4, 5)
#: Dialogs of every session, after ``Ses0<n>``: the letter names the actor wearing the markers.
DIALOG_SUFFIXES = ("F_impro01", "M_impro02", "F_impro05a", "M_script01_1", "F_script02_2")
UTTERANCES_PER_DIALOG = (12, 17)  # drawn in [low, high)
DURATION_S = (1.0, 3.0)
#: The four targets of the usual 4-class setup: every speaker gets CLEAR_PER_TARGET unanimous utterances of each.
TARGET_CODES = ("neu", "hap", "sad", "ang")
CLEAR_PER_TARGET = 2
#: Share of the other utterances' true emotions (IEMOCAP-like imbalance: much neutral and frustration).
EMOTION_SHARES = {
    "neu": 0.25, "fru": 0.19, "exc": 0.12, "sad": 0.11, "ang": 0.10, "hap": 0.08, "oth": 0.06, "sur": 0.05,
    "fea": 0.02, "dis": 0.02,
}
#: Categories an evaluator confuses a true emotion with.
CONFUSIONS = {
    "neu": ("fru", "sad", "exc", "hap"), "hap": ("exc", "neu", "sur"), "sad": ("neu", "fru", "fea"),
    "ang": ("fru", "dis", "neu"), "exc": ("hap", "sur", "neu"), "fru": ("ang", "neu", "sad"),
    "fea": ("sad", "sur", "fru"), "sur": ("exc", "hap", "fea"), "dis": ("ang", "fru"), "oth": ("neu", "fru", "exc"),
}
#: Mean valence, activation, dominance (1-5) an evaluator gives each true emotion.
VAD_MEANS = {
    "neu": (3.0, 2.2, 2.6), "hap": (4.0, 3.2, 3.0), "sad": (1.8, 2.0, 2.0), "ang": (1.7, 3.9, 3.8),
    "exc": (3.9, 3.7, 3.3), "fru": (2.0, 3.2, 3.3), "fea": (1.9, 3.4, 2.0), "sur": (3.2, 3.6, 2.9),
    "dis": (1.8, 3.0, 3.4), "oth": (2.7, 2.8, 2.8),
}
AMBIGUOUS_SHARE = 0.15  # utterances the evaluators split on (mostly ending as ``xxx``)
EVALUATOR_AGREEMENT = 0.8
SECOND_CATEGORY_SHARE = 0.12  # evaluator lines naming two categories ("Frustration; Anger;")
SELF_EVALUATED_DIALOG_SHARE = 0.7
_COMMENTS = ("calm", "curious", "annoyed", "sarcastic", "tired", "threatening", "playful")
_OTHER_TEXTS = ("bored", "confused", "amused", "nervous")
HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"


def _true_emotions(rng, count, clear_needed):
    """True codes for one speaker's utterances and whether each is a unanimous (clear) target example."""
    codes = list(rng.choice(list(EMOTION_SHARES), size=count, p=list(EMOTION_SHARES.values())))
    clear = [False] * count
    slots = rng.permutation(count)[: len(clear_needed)]
    for slot, code in zip(slots, clear_needed):
        codes[slot], clear[slot] = code, True
    return [str(c) for c in codes], clear


def _category_words(codes, rng):
    """Category words of one evaluator line; ``Other`` sometimes carries free text (``Other:bored``)."""
    words = []
    for code in codes:
        word = CODE_TO_CATEGORY[code]
        if code == "oth" and rng.random() < 0.3:
            word = f"Other:{rng.choice(_OTHER_TEXTS)}"
        words.append(word)
    return words


def _judge(true_code, evaluators, rng, clear, ambiguous):
    """``{"C-E<k>": [words]}`` of one utterance: mostly agreeing, sometimes two categories or a split panel."""
    annotations = {}
    alternatives = [str(code) for code in rng.permutation(CONFUSIONS[true_code])]
    for index, evaluator in enumerate(evaluators):
        if clear:
            codes = [true_code]
        elif ambiguous:
            codes = [true_code if index == 0 else alternatives[(index - 1) % len(alternatives)]]
        elif rng.random() < EVALUATOR_AGREEMENT:
            codes = [true_code]
        else:
            codes = [str(rng.choice(CONFUSIONS[true_code]))]
        if not clear and rng.random() < SECOND_CATEGORY_SHARE:
            extra = str(rng.choice(CONFUSIONS[codes[0]]))
            if extra not in codes:
                codes.append(extra)
        annotations[f"C-{evaluator}"] = _category_words(codes, rng)
    return annotations


def _comment(rng, share=0.15):
    return f"({rng.choice(_COMMENTS)})" if rng.random() < share else "()"


def _dimensions(true_code, rng):
    """One evaluator's integer valence, activation, dominance on the 1-5 scales."""
    values = np.clip(np.round(rng.normal(VAD_MEANS[true_code], 0.6)), 1, 5)
    return [int(v) for v in values]


def _block_text(utterance, rng):
    """The lines of one utterance block, TAB-separated as in the real files."""
    annotations, self_words = utterance["annotations"], utterance["self_annotation"]
    dims = {f"A-{e}": _dimensions(utterance["true"], rng) for e in utterance["dim_evaluators"]}
    vad = np.mean(list(dims.values()), axis=0)
    lines = [
        f"[{utterance['start']:.4f} - {utterance['end']:.4f}]\t{utterance['id']}\t{utterance['code']}\t"
        f"[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]"
    ]
    for annotator, words in annotations.items():
        lines.append(f"{annotator}:\t{'; '.join(words)};\t{_comment(rng)}")
    if self_words is not None:
        lines.append(f"C-{utterance['self_id']}:\t{'; '.join(self_words)};\t{_comment(rng, 0.3)}")
        dims[f"A-{utterance['self_id']}"] = _dimensions(utterance["true"], rng)
    for annotator, (v, a, d) in dims.items():
        lines.append(f"{annotator}:\tval {v}; act {a}; dom  {d};\t{_comment(rng)}")
    return "\n".join(lines)


def _plan_session(session, rng):
    """Dialogs of one session: per dialog its utterances (speaker letter, true code, clear/ambiguous flags)."""
    sizes = rng.integers(*UTTERANCES_PER_DIALOG, size=len(DIALOG_SUFFIXES))
    speakers = []
    for size in sizes:
        # both actors speak about half the turns of every dialog, in a random order
        letters = ["F", "M"] * (int(size) // 2) + ([str(rng.choice(["F", "M"]))] if size % 2 else [])
        speakers.append([str(x) for x in rng.permutation(letters)])
    truths = {}
    for letter in ("F", "M"):
        count = sum(turns.count(letter) for turns in speakers)
        truths[letter] = _true_emotions(rng, count, [c for c in TARGET_CODES for _ in range(CLEAR_PER_TARGET)])
    used = {"F": 0, "M": 0}
    dialogs = []
    for suffix, turns in zip(DIALOG_SUFFIXES, speakers):
        dialog = f"Ses0{session}{suffix}"
        panel_size = 4 if rng.random() < 0.3 else 3
        panel = sorted(rng.choice(6, size=panel_size, replace=False) + 1)
        self_evaluated = rng.random() < SELF_EVALUATED_DIALOG_SHARE
        numbers, clock, utterances = {"F": 0, "M": 0}, float(rng.uniform(2.0, 8.0)), []
        for letter in turns:
            codes, clear = truths[letter]
            true_code, is_clear = codes[used[letter]], clear[used[letter]]
            used[letter] += 1
            ambiguous = not is_clear and rng.random() < AMBIGUOUS_SHARE
            duration = round(float(rng.uniform(*DURATION_S)), 4)
            annotations = _judge(true_code, [f"E{k}" for k in panel], rng, is_clear, ambiguous)
            self_words = None
            if self_evaluated:
                self_code = true_code if rng.random() < 0.85 else str(rng.choice(CONFUSIONS[true_code]))
                self_words = _category_words([self_code], rng)
            utterances.append({
                "id": f"{dialog}_{letter}{numbers[letter]:03d}", "letter": letter, "true": true_code,
                "ambiguous": ambiguous, "start": clock, "end": clock + duration, "duration": duration,
                "annotations": annotations, "code": majority_code(annotations), "self_annotation": self_words,
                "self_id": f"{letter}1",
                "dim_evaluators": [f"E{k}" for k in sorted(rng.choice(6, 2, replace=False) + 1)],
            })
            numbers[letter] += 1
            clock += duration + float(rng.uniform(0.2, 1.5))
        dialogs.append((dialog, utterances))
    return dialogs


def _write_extras(session_root, dialog, utterance_id, code):
    """Sub-folders and stray files real releases hold next to the label files and wavs (parsers ignore them)."""
    evaluation = os.path.join(session_root, "dialog", "EmoEvaluation")
    for sub, name, line in (
        ("Categorical", f"{dialog}_e2_cat.txt", f"{utterance_id} :{CODE_TO_CATEGORY.get(code, 'Other')}; ()"),
        ("Attribute", f"{dialog}_e3_atr.txt", f"{utterance_id} :act 2; val 3; dom 2; ()"),
        ("Self-evaluation", f"{dialog}.anvil", f"<annotation><head><video src=\"{dialog}.avi\"/></head></annotation>"),
    ):
        os.makedirs(os.path.join(evaluation, sub), exist_ok=True)
        with open(os.path.join(evaluation, sub, name), "w", encoding="utf-8") as extra:
            extra.write(line + "\n")
    with open(os.path.join(evaluation, f"._{dialog}.txt"), "wb") as apple_double:
        apple_double.write(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(16))
    wav_folder = os.path.join(session_root, "sentences", "wav", dialog)
    with open(os.path.join(wav_folder, f"._{utterance_id}.wav"), "wb") as apple_double:
        apple_double.write(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(16))
    with open(os.path.join(wav_folder, f"{dialog}.pk"), "wb") as pickle_file:
        pickle_file.write(b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00.")


def write(folder, seed=0, name="iemocap"):
    """Write a small IEMOCAP_full_release in the real layout (kept as is when already written with ``seed``).

    Each of Session1..Session5 has a female and a male actor (``Ses0<n>F``, ``Ses0<n>M``) speaking in 5 dialogs
    (``Ses0<n>F_impro01``, ``Ses0<n>M_impro02``, ``Ses0<n>F_impro05a``, ``Ses0<n>M_script01_1``,
    ``Ses0<n>F_script02_2``), 12-16 utterances each, 1-3 s, 16 kHz mono PCM_16 under
    ``Session<n>/sentences/wav/<dialog>/<dialog>_<F|M><nnn>.wav``. ``Session<n>/dialog/EmoEvaluation/<dialog>.txt``
    holds one block per utterance: 3-4 evaluators (``C-E<k>``) mostly agreeing with the true emotion, some
    naming two categories, some utterances split (``xxx``); most dialogs carry the actor's self-evaluation
    (``C-F1``/``C-M1``); two ``A-E<k>`` dimensional lines (plus ``A-F1``/``A-M1``); the consensus code is the
    majority of the evaluators. Every speaker has two unanimous utterances of each of neu, hap, sad, ang.
    One wav has no label block and one label block has no wav (Session 3); ``Categorical/``, ``Attribute/``,
    ``Self-evaluation/`` sub-folders, ``._*`` and ``.pk`` files are there as in real releases. The stamp
    ``.synthetic.json`` records the counts a parser must find.

    Arguments
    ---------
    folder : str
        The corpus folder to create (``.../IEMOCAP_full_release``).
    seed : int
        Random seed: the same seed writes the same corpus.
    name : str
        Synthetic corpus name recorded in the stamp.

    Returns
    -------
    str
        The corpus folder (absolute).

    Example
    -------
    >>> import tempfile, json
    >>> folder = write(os.path.join(tempfile.mkdtemp(), "IEMOCAP_full_release"), seed=0)
    >>> sorted(os.listdir(folder))
    ['.synthetic.json', 'Session1', 'Session2', 'Session3', 'Session4', 'Session5']
    >>> stamp = json.load(open(os.path.join(folder, ".synthetic.json")))
    >>> 300 <= stamp["n_utterances"] <= 400, len(stamp["speakers"]), stamp["missing_audio"], stamp["missing_labels"]
    (True, 10, ['Ses03M_impro02_M000'], ['Ses03M_script01_1_M000'])
    """
    return write_once(folder, {"name": name, "seed": seed}, functools.partial(_write_sessions, seed=seed))


def _write_sessions(tmp, seed):
    """Write Session1..Session5 under ``tmp``; returns the counts the stamp records."""
    rng = np.random.default_rng(seed)
    labels, n_audio, n_blocks, improvised = {}, 0, 0, 0
    missing_audio, missing_labels = [], []
    for session in SESSIONS:
        voices = dict(zip(("F", "M"), speaker_voices(rng, ["female", "male"])))
        session_root = os.path.join(tmp, f"Session{session}")
        evaluation = os.path.join(session_root, "dialog", "EmoEvaluation")
        os.makedirs(evaluation)
        dialogs = _plan_session(session, rng)
        for dialog_index, (dialog, utterances) in enumerate(dialogs):
            blocks = []
            for index, utterance in enumerate(utterances):
                audio = synthesize(
                    canonical_emotion(utterance["true"]), voices[utterance["letter"]], rng, SAMPLE_RATE,
                    duration=utterance["duration"], intensity=0.6 if utterance["ambiguous"] else 1.0,
                )
                block = _block_text(utterance, rng)
                # Session 3 holds the two inconsistencies: a label block without its wav, a wav without its block
                no_audio = session == 3 and dialog_index == 1 and index == 3
                no_label = session == 3 and dialog_index == 3 and index == 2
                if no_audio:
                    missing_audio.append(utterance["id"])
                else:
                    write_wav(os.path.join(session_root, "sentences", "wav", dialog, f"{utterance['id']}.wav"),
                              audio, SAMPLE_RATE)
                    n_audio += 1
                if no_label:
                    missing_labels.append(utterance["id"])
                else:
                    blocks.append(block)
                    n_blocks += 1
                if not (no_audio or no_label):
                    labels[utterance["code"]] = labels.get(utterance["code"], 0) + 1
                    improvised += "impro" in dialog
            with open(os.path.join(evaluation, f"{dialog}.txt"), "w", encoding="utf-8") as label_file:
                label_file.write(HEADER + "\n\n" + "\n\n".join(blocks) + "\n")
        first_dialog, first_utterances = dialogs[0]
        _write_extras(session_root, first_dialog, first_utterances[0]["id"], first_utterances[0]["code"])
    return {
        "n_utterances": sum(labels.values()), "n_label_blocks": n_blocks,
        "n_audio_files": n_audio, "n_improvised": improvised, "labels": dict(sorted(labels.items())),
        "speakers": [f"Ses0{s}{g}" for s in SESSIONS for g in ("F", "M")],
        "missing_audio": missing_audio, "missing_labels": missing_labels,
    }
