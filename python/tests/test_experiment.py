# read_experiment against the files themselves (read with numpy.load and json): labels, keep masks, logits,
# population queries, model order and selection, the JSON documents around them, and the query views
# config.json names. Run by ctest (python_experiment).
import json

import numpy as np
import pytest

import synpriv
from conftest import assert_arrays_equal, run_tool, synth


def test_reads_every_array_of_the_directory(tmp_path):
    d = synth(tmp_path / "exp", models=11, samples=40, queries=2, classes=4, population=30)
    exp = synpriv.read_experiment(d)
    assert exp["layout"] == "synpriv" and exp["dir"] == str(d)
    # Models in numeric order (10 after 9), as sp_lira orders the rows of its score files.
    assert exp["models"] == [str(d / "shadow" / str(k)) for k in range(11)]
    assert_arrays_equal(exp["labels"], np.load(d / "audit" / "labels.npy"), "labels")
    assert exp["keep"].dtype == np.bool_ and exp["keep"].shape == (11, 40)
    assert_arrays_equal(exp["population_labels"], np.load(d / "population" / "labels.npy"), "population labels")
    for k in range(11):
        shadow = d / "shadow" / str(k)
        assert_arrays_equal(exp["keep"][k], np.load(shadow / "keep.npy"), f"keep {k}")
        logits = np.load(shadow / "logits.npy")
        assert exp["logits"].dtype == logits.dtype
        assert_arrays_equal(exp["logits"][k], logits, f"logits {k}")
        assert_arrays_equal(exp["population_logits"][k], np.load(shadow / "population_logits.npy"), f"population {k}")
    assert exp["scores"] is None and exp["summary"] is None and exp["results"] is None
    assert exp["metrics"] == [None] * 11

    some = synpriv.read_experiment(d, models=[2, 5])
    assert some["models"] == [exp["models"][2], exp["models"][5]]
    assert_arrays_equal(some["logits"], exp["logits"][[2, 5]], "selected models")


def test_reads_the_json_documents(tmp_path):
    d = synth(tmp_path / "exp", models=6, samples=30, queries=1, classes=3, population=0)
    run_tool("sp_lira", d, "--quiet", "--no-plot", "--bootstrap", 0)
    (d / "shadow" / "1" / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5, "seconds": {"train": 1.0}}))
    (d / "summary.json").write_text(json.dumps({"label": "x", "privacy": {"online": {"auc": None}}}))
    exp = synpriv.read_experiment(d)
    with open(d / "lira" / "results.json") as f:
        assert exp["results"] == json.load(f)
    assert list(exp["results"]) == ["n_models", "n_samples", "n_queries", "attacks", "settings", "rmia"]
    assert exp["metrics"] == [None, {"test_accuracy": 0.5, "seconds": {"train": 1.0}}, None, None, None, None]
    assert exp["summary"] == {"label": "x", "privacy": {"online": {"auc": None}}}
    assert exp["population_labels"] is None and exp["population_logits"] is None


def test_mixed_float_widths_read_as_float64(tmp_path):
    d = synth(tmp_path / "exp", models=3, samples=20, queries=1, classes=3, population=0)
    path = d / "shadow" / "1" / "logits.npy"
    np.save(path, np.load(path).astype(np.float64) + 1e-12)
    exp = synpriv.read_experiment(d)
    assert exp["logits"].dtype == np.float64
    assert_arrays_equal(exp["logits"][1], np.load(path), "float64 model")
    assert_arrays_equal(exp["logits"][0], np.load(d / "shadow" / "0" / "logits.npy").astype(np.float64), "float32 model")


def test_names_the_query_views_of_config_json(tmp_path):
    d = synth(tmp_path / "exp", models=2, samples=10, queries=2, classes=3, population=0)
    assert synpriv.read_experiment(d)["query_views"] is None  # nothing names them
    (d / "config.json").write_text(json.dumps({"audit": {"num_audit": 10}}))
    assert synpriv.read_experiment(d)["query_views"] == "all"  # written before audit.query_views: all 18
    (d / "config.json").write_text(json.dumps({"audit": {"num_audit": 10, "query_views": "flips"}}))
    assert synpriv.read_experiment(d)["query_views"] == "flips"
    (d / "config.json").write_text(json.dumps({"audit": {"query_views": "shifts"}}))
    with pytest.raises(synpriv.Error, match="audit.query_views is \"shifts\", not one of all, flips, clean"):
        synpriv.read_experiment(d)
