# The Python module computes what the sp_lira CLI computes: on experiments written by sp_lira_synth, the scores
# (scores_<attack>.npy) and every number of results.json (AUC, TPR at each FPR, epsilon lower bound, bootstrap
# interval, one-run bounds, RMIA's a) from read_experiment + lira_scores/rmia_scores + evaluate equal the CLI's,
# with the default options, with non-default ones, with NaN logits dropped, and through run_lira. Run by ctest
# (python_lira).
import pathlib
import shutil

import numpy as np
import pytest

import synpriv
from conftest import assert_arrays_equal, assert_same, read_json, run_tool, synth

LIRA = ["online", "online_global_variance", "offline", "global_threshold"]
RMIA = ["rmia_online", "rmia_offline"]


@pytest.fixture(scope="module")
def exp_dir(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("lira") / "exp")


def cli_results(exp, out, *args):
    run_tool("sp_lira", exp, "--out", out, "--no-plot", "--quiet", *args)
    return read_json(out / "results.json")


def compare_attacks(cli, out_dir, scores, metrics):
    """Scores against scores_<attack>.npy, metrics against results.json's attack entries."""
    assert sorted(cli["attacks"]) == sorted(metrics)
    for name, want in cli["attacks"].items():
        assert_arrays_equal(scores[name], np.load(out_dir / f"scores_{name}.npy"), f"scores of {name}")
        got = dict(metrics[name])
        roc = got.pop("roc")
        assert_same(got, want, name)
        # The curve of roc_<attack>.csv (written with 12 significant digits).
        csv = np.genfromtxt(out_dir / f"roc_{name}.csv", delimiter=",", names=True)
        assert_arrays_equal(roc["fp"], csv["fp"].astype(np.int64), f"{name} ROC fp")
        assert_arrays_equal(roc["tp"], csv["tp"].astype(np.int64), f"{name} ROC tp")
        np.testing.assert_allclose(roc["tpr"], csv["tpr"], rtol=1e-11)


def test_defaults_match_the_cli(exp_dir, tmp_path):
    cli = cli_results(exp_dir, tmp_path, "--bootstrap", 60, "--threads", 2)
    exp = synpriv.read_experiment(exp_dir)
    lira = synpriv.lira_scores(exp["keep"], logits=exp["logits"], labels=exp["labels"])
    rmia, info = synpriv.rmia_scores(exp["keep"], logits=exp["logits"], labels=exp["labels"],
                                     population_logits=exp["population_logits"],
                                     population_labels=exp["population_labels"], return_info=True)
    assert list(lira) == LIRA and list(rmia) == RMIA
    scores = {**lira, **rmia}
    metrics = synpriv.evaluate(scores, exp["keep"], bootstrap=60, seed=0, threads=1)
    compare_attacks(cli, tmp_path, scores, metrics)
    assert_same(info["a_per_model"].tolist(), cli["rmia"]["a_per_model"])
    assert info["population"] == cli["rmia"]["population"] == 120
    # The headline numbers, named once more for the reader.
    for name in LIRA + RMIA:
        want = cli["attacks"][name]
        assert metrics[name]["tpr_at_fpr"][2] == {"fpr": 1e-3, "tpr": want["tpr_at_fpr"][2]["tpr"]}
        assert metrics[name]["auc"] == want["auc"]
        assert metrics[name]["epsilon_lower_bound"] == want["epsilon_lower_bound"]


def test_options_match_the_cli(exp_dir, tmp_path):
    cli = cli_results(exp_dir, tmp_path, "--views", "0,2", "--statistic", "hinge", "--fit", "median", "--std",
                      "population", "--offline-score", "pdf", "--equalize-folds", "--rmia-a", "calibrate",
                      "--rmia-gamma", 1.5, "--rmia-temperature", 2, "--rmia-population", 100, "--delta", 1e-4,
                      "--one-run-confidence", 0.9, "--bootstrap", 40, "--seed", 3)
    exp = synpriv.read_experiment(exp_dir)
    lira = synpriv.lira_scores(exp["keep"], logits=exp["logits"], labels=exp["labels"], views=[0, 2],
                               statistic="hinge", fit="median", std="population", offline_score="pdf",
                               equalize_folds=True, threads=1)
    rmia, info = synpriv.rmia_scores(exp["keep"], logits=exp["logits"], labels=exp["labels"],
                                     population_logits=exp["population_logits"],
                                     population_labels=exp["population_labels"], views=[0, 2], a="calibrate",
                                     gamma=1.5, temperature=2, population=100, equalize_folds=True,
                                     return_info=True)
    scores = {**lira, **rmia}
    metrics = synpriv.evaluate(scores, exp["keep"], delta=1e-4, one_run_confidence=0.9, bootstrap=40, seed=3,
                               equalize_folds=True)
    compare_attacks(cli, tmp_path, scores, metrics)
    assert_same(info["a_per_model"].tolist(), cli["rmia"]["a_per_model"])
    assert all(metrics[n]["one_run"]["valid"] for n in LIRA + RMIA)


def test_the_statistic_given_as_phi_gives_the_same_scores(exp_dir):
    exp = synpriv.read_experiment(exp_dir)
    phi = synpriv.lira_statistic(exp["logits"], exp["labels"])
    assert phi.shape == exp["logits"].shape[:3] and phi.dtype == np.float64
    from_logits = synpriv.lira_scores(exp["keep"], logits=exp["logits"], labels=exp["labels"], preset="carlini")
    from_phi = synpriv.lira_scores(exp["keep"], phi=phi, preset="carlini")
    for name in LIRA:
        assert_arrays_equal(from_phi[name], from_logits[name], name)
    # One view, given as [S, M] or selected from [S, M, A].
    one = synpriv.lira_scores(exp["keep"], phi=phi[:, :, 1], attacks="online,offline")
    sel = synpriv.lira_scores(exp["keep"], phi=phi, views=1, attacks=["online", "offline"])
    for name in ["online", "offline"]:
        assert_arrays_equal(one[name], sel[name], name)
    # sp_train's scores.npy (the statistic per shadow) read back by read_experiment.
    models = [pathlib.Path(m) for m in exp["models"]]
    try:
        for k, model in enumerate(models):
            np.save(model / "scores.npy", phi[k])
        back = synpriv.read_experiment(exp_dir, logits=False)
        assert back["logits"] is None
        assert_arrays_equal(back["scores"], phi, "scores.npy")
    finally:
        for model in models:
            (model / "scores.npy").unlink(missing_ok=True)


def test_preset_and_pipeline_match_the_cli(exp_dir, tmp_path):
    cli = cli_results(exp_dir, tmp_path / "cli", "--preset", "carlini", "--bootstrap", 30, "--attacks",
                      "online,offline,rmia_offline")
    py = synpriv.run_lira(str(exp_dir), out=str(tmp_path / "py"), preset="carlini", bootstrap=30,
                          attacks="online,offline,rmia_offline", plot=False)
    assert_same(py, cli, tol=0)
    assert (tmp_path / "py" / "scores_rmia_offline.npy").exists()


def test_dropped_nan_logits_match_the_cli(exp_dir, tmp_path):
    nan_dir = tmp_path / "nan"
    shutil.copytree(exp_dir, nan_dir)
    path = nan_dir / "shadow" / "3" / "logits.npy"
    logits = np.load(path)
    logits[5, 1, 2] = np.nan
    logits[40, 0, 0] = np.inf
    np.save(path, logits)
    cli = cli_results(nan_dir, tmp_path / "out", "--nan-policy", "drop", "--attacks", ",".join(LIRA), "--bootstrap",
                      20)
    exp = synpriv.read_experiment(nan_dir)
    scores, info = synpriv.lira_scores(exp["keep"], logits=exp["logits"], labels=exp["labels"], nan_policy="drop",
                                       return_info=True)
    assert info == {"dropped_pairs": cli["settings"]["dropped_pairs"],
                    "nonfinite_rows": cli["settings"]["nonfinite_logit_rows"],
                    "unscored_pairs": cli["settings"]["unscored_pairs"]}
    assert info["dropped_pairs"] == 2
    assert np.isnan(scores["online"][3, 5]) and np.isnan(scores["online"][3, 40])
    compare_attacks(cli, tmp_path / "out", scores, synpriv.evaluate(scores, exp["keep"], bootstrap=20))


def test_tf_privacy_layout_matches_the_cli(tmp_path):
    exp_dir = synth(tmp_path / "tf", models=6, samples=90, queries=2, classes=3, layout="tf-privacy")
    cli = cli_results(exp_dir, tmp_path / "out", "--layout", "tf-privacy", "--bootstrap", 10)
    exp = synpriv.read_experiment(exp_dir, layout="tf-privacy")
    assert exp["logits"].shape == (6, 90, 2, 3) and exp["population_logits"] is None
    scores = synpriv.lira_scores(exp["keep"], logits=exp["logits"], labels=exp["labels"])
    compare_attacks(cli, tmp_path / "out", scores, synpriv.evaluate(scores, exp["keep"], bootstrap=10))
