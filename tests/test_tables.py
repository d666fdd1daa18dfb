"""Tests of the markdown table writer: exact layout, number formatting, missing cells, paper columns."""
import numpy as np
import pytest

from emo_lobes.evaluation.metrics import aggregate_folds, classification_metrics
from emo_lobes.evaluation.tables import format_cell, markdown_table, mean_std, results_table


def test_markdown_table_exact_layout_and_default_alignment():
    table = markdown_table(["Corpus", "n", "UA"], [["EmoDB", 535, 0.81234], ["A|B", np.int64(7), None]],
                           float_digits=3)
    assert table.splitlines() == [
        "| Corpus |   n |    UA |",
        "| :----- | --: | ----: |",
        "| EmoDB  | 535 | 0.812 |",
        "| A\\|B   |   7 |     – |",
    ]


def test_markdown_table_explicit_alignment_and_errors():
    table = markdown_table(["a", "b"], [["x", "yy"]], align=["c", "l"])
    assert table.splitlines()[1] == "| :-: | :-- |"
    assert table.splitlines()[2] == "|  x  | yy  |"
    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 headers"):
        markdown_table(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="align"):
        markdown_table(["a"], [["x"]], align=["x"])


def test_cells_are_formatted_consistently():
    assert [format_cell(v) for v in (1.0, np.float32(2.25), 3, False, None, "two\nlines")] == [
        "1.0", "2.2", "3", "False", "–", "two lines"]
    assert format_cell(2.25, float_digits=2) == "2.25"


def test_mean_std():
    assert mean_std(0.632, 0.014) == "63.2 ± 1.4"
    assert mean_std(0.632, 0.014, digits=2) == "63.20 ± 1.40"
    assert mean_std(63.2, 1.44, percent=False) == "63.2 ± 1.4"
    assert mean_std(0.5, None) == "50.0"
    assert mean_std(None, None) == "–"


def test_results_table_puts_paper_numbers_beside_ours_from_aggregated_folds():
    folds = [classification_metrics([0, 0, 1, 1], p, labels=[0, 1]) for p in ([0, 1, 1, 1], [0, 0, 1, 1])]
    ours = [dict(aggregate_folds(folds), name="EmoDB LOSO"), {"name": "CaFE", "ua": 0.4, "wa": "n/a"}]
    table = results_table(ours, [("wa", "WA (%)"), ("ua", "UA (%)")],
                          paper={"EmoDB LOSO": {"ua": 84.1}, "CaFE": {"ua": {"mean": 41.5, "std": 2.0}}})
    # WA per fold 0.75 and 1.0: mean 87.5, sample std sqrt(2 * 12.5^2 / 1) = 17.7
    assert table.splitlines() == [
        "| Setting    |      WA (%) |      UA (%) | UA (%) (paper) |",
        "| :--------- | ----------: | ----------: | -------------: |",
        "| EmoDB LOSO | 87.5 ± 17.7 | 87.5 ± 17.7 |           84.1 |",
        "| CaFE       |         n/a |        40.0 |     41.5 ± 2.0 |",
    ]


def test_results_table_without_paper_has_no_paper_columns():
    table = results_table([{"name": "x", "ua": 0.5}], ["ua"], label_header="Run")
    assert table.splitlines() == ["| Run |   ua |", "| :-- | ---: |", "| x   | 50.0 |"]
