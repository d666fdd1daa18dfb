"""Tests of emo_lobes.evaluation.functional_baselines: C chosen on dev, scaler fitted on train, refit, scoring."""
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from emo_lobes.errors import EmoLobesError
from emo_lobes.evaluation.functional_baselines import CLASSIFIERS, fit_functional_baseline, make_classifier, score_on_test


def _part(rng, n_per_class, shift=1.0, n_features=5):
    # Each class is shifted along its own feature, so one-vs-rest linear classifiers can separate them.
    classes = np.repeat([0, 1, 2], n_per_class)
    features = rng.normal(size=(len(classes), n_features)) * 2.0 + 10.0
    features[np.arange(len(classes)), classes] += shift
    return features, np.array(["angry", "sad", "happy"])[classes]


@pytest.fixture
def parts():
    rng = np.random.default_rng(7)
    return _part(rng, 15), _part(rng, 6), _part(rng, 6)


def test_refit_uses_train_scaler_and_train_plus_dev(parts):
    train, dev, test = parts
    grid = [10.0 ** -exponent for exponent in range(4)]
    fitted = fit_functional_baseline(train, dev, grid, refit_on_train_dev=True, seed=0, max_iter=10000)
    scaler = StandardScaler().fit(train[0])
    expected = LinearSVC(C=fitted["c"], max_iter=10000, random_state=0).fit(
        scaler.transform(np.concatenate([train[0], dev[0]])), np.concatenate([train[1], dev[1]]))
    assert np.allclose(fitted["model"].named_steps["standardise"].mean_, train[0].mean(axis=0))
    assert np.array_equal(fitted["model"].predict(test[0]), expected.predict(scaler.transform(test[0])))
    assert np.allclose(fitted["model"].named_steps["classify"].coef_, expected.coef_)
    assert fitted["dev_ua"][fitted["c"]] == max(fitted["dev_ua"].values()) and list(fitted["dev_ua"]) == grid


def test_without_refit_the_model_is_the_train_only_pipeline(parts):
    train, dev, test = parts
    fitted = fit_functional_baseline(train, dev, [0.01, 1.0], seed=None, class_weight="balanced")
    expected = make_pipeline(StandardScaler(), LinearSVC(C=fitted["c"], class_weight="balanced",
                                                         max_iter=20000)).fit(*train)
    assert np.allclose(fitted["model"].named_steps["classify"].coef_, expected[-1].coef_)
    assert np.array_equal(fitted["model"].predict(test[0]), expected.predict(test[0]))


def test_ties_in_dev_ua_go_to_the_first_c():
    rng = np.random.default_rng(0)
    train, dev = _part(rng, 10, shift=50.0), _part(rng, 4, shift=50.0)  # every C separates perfectly
    for grid in ([1.0, 0.1, 0.01], [0.01, 0.1, 1.0]):
        fitted = fit_functional_baseline(train, dev, grid)
        assert set(fitted["dev_ua"].values()) == {1.0} and fitted["c"] == grid[0]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_classifier_learns_and_scores(name):
    rng = np.random.default_rng(3)
    fitted = fit_functional_baseline(_part(rng, 15, shift=12.0), _part(rng, 5, shift=12.0), [1.0], name)
    metrics, predictions = score_on_test(fitted["model"], _part(rng, 5, shift=12.0),
                                         labels=["angry", "happy", "sad"], ids=[f"u{i}" for i in range(15)],
                                         corpus="emodb")
    assert metrics["ua"] > 0.8 and metrics["n"] == 15 and metrics["labels"] == ["angry", "happy", "sad"]
    assert list(predictions[0]) == ["id", "corpus", "true", "pred"] and predictions[0]["id"] == "u0"
    assert all(isinstance(p["pred"], str) for p in predictions)


def test_options_reach_the_estimator():
    assert make_classifier("linear_svc", 0.5, seed=3, max_iter=10).get_params()["max_iter"] == 10
    assert make_classifier("logreg", 0.5).estimator.max_iter == 5000
    assert make_classifier("svc", 2.0).estimator.C == 2.0


def test_bad_input_raises_one_line_errors(parts):
    train, _, _ = parts
    with pytest.raises(EmoLobesError, match="dev part is empty"):
        fit_functional_baseline(train, (np.zeros((0, 5)), np.array([])), [1.0])
    with pytest.raises(EmoLobesError, match="C grid is empty"):
        fit_functional_baseline(train, train, [])
    with pytest.raises(EmoLobesError, match="unknown baseline classifier 'tree'"):
        make_classifier("tree", 1.0)
