"""Splits of a corpus into train/dev/test: generated, named, from split files and from published formats.

Every recipe reads a corpus's split from one declaration (``corpora.<name>.split`` in its hparams, or
``--split_file``), turned into a split by :func:`split_from_spec`:

- generated (:mod:`~emo_lobes.data.splits.generated`): ``{method: speaker_kfold | loso | loso_session | holdout |
  random_kfold, ...}``, stratified by class where they draw, refusing a partition that misses a class;
- named speakers: ``{dev_speakers: [...], test_speakers: [...]}``, the rest train;
- a split file ``{file: split.json}`` (``{"train": [...], "dev": [...], "test": [...]}``, entries utterance ids or
  wav paths relative to the corpus root), EmoBox fold files ``{emobox: <folder>}`` and SpeechBrain manifests
  ``{speechbrain: <folder>}`` (:mod:`~emo_lobes.data.splits.files`).

``python -m emo_lobes.data.splits make|show`` writes and prints split files.
"""
from emo_lobes.data.splits.files import (
    read_emobox_fold,
    read_speechbrain_manifests,
    read_split_file,
    split_from_lists,
    split_file_dict,
    write_split_file,
)
from emo_lobes.data.splits.generated import (
    PARTITIONS,
    check_no_leakage,
    fixed_speaker_split,
    hold_out_speakers,
    leave_one_session_out,
    leave_one_speaker_out,
    random_kfold,
    select,
    speaker_group_kfold,
    split_summary,
)
from emo_lobes.data.splits.specs import (
    SPLIT_METHODS,
    class_counts_table,
    check_class_coverage,
    n_folds_of_spec,
    split_from_spec,
)

__all__ = [
    "PARTITIONS", "SPLIT_METHODS", "check_class_coverage", "check_no_leakage", "class_counts_table",
    "fixed_speaker_split", "hold_out_speakers", "leave_one_session_out", "leave_one_speaker_out", "n_folds_of_spec",
    "random_kfold", "read_emobox_fold", "read_speechbrain_manifests", "read_split_file", "select",
    "speaker_group_kfold", "split_file_dict", "split_from_lists", "split_from_spec", "split_summary",
    "write_split_file",
]
