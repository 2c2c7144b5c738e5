# Shared pieces of the pytest suite of the Python module synpriv (run by ctest: python/CMakeLists.txt sets
# PYTHONPATH to the built module and SP_BIN_DIR to the built tools): the tools' paths, running a tool, synthetic
# experiments written by sp_lira_synth, and a recursive comparison of JSON-like results. Nothing here skips: a
# missing tool or module is a failure.
import json
import math
import os
import pathlib
import subprocess

import numpy as np


def bin_dir():
    d = os.environ.get("SP_BIN_DIR")
    assert d, "SP_BIN_DIR is not set: run these tests through ctest (or set it to build/bin)"
    return pathlib.Path(d)


def tool(name):
    p = bin_dir() / name
    assert p.exists(), f"{p} is not built (build all targets)"
    return str(p)


def run_tool(name, *args):
    """Runs a built tool; fails the test with its output when it exits non-zero."""
    r = subprocess.run([tool(name), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"{name} {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout


def synth(dir, models=8, samples=150, queries=3, classes=5, population=120, seed=7, gain=3, layout="synpriv"):
    """A synthetic experiment with sp_lira_synth (every sample IN for half of the models; gain 3: a clear signal)."""
    args = [dir, "--models", models, "--samples", samples, "--queries", queries, "--classes", classes, "--seed", seed,
            "--gain", gain, "--threads", 1, "--layout", layout]
    if layout == "synpriv":
        args += ["--population", population]
    run_tool("sp_lira_synth", *args)
    return pathlib.Path(dir)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def assert_same(got, want, path="", tol=1e-12):
    """got == want for JSON-like values; floats agree to tol (relative or absolute), NaN with NaN or None."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: {got!r} is not a dict"
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same(got[k], want[k], f"{path}.{k}", tol)
    elif isinstance(want, (list, tuple)):
        got = list(got)
        assert len(got) == len(want), f"{path}: {len(got)} entries, want {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]", tol)
    elif isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and isinstance(want, (int, float)), f"{path}: {got!r} vs {want!r}"
        if math.isnan(want) or math.isnan(got):
            assert math.isnan(want) and math.isnan(got), f"{path}: {got!r} vs {want!r}"
        else:
            assert abs(got - want) <= tol * max(1.0, abs(want)), f"{path}: {got!r} vs {want!r}"
    else:
        assert got == want, f"{path}: {got!r} vs {want!r}"


def assert_arrays_equal(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    assert np.array_equal(got, want, equal_nan=True), f"{what}: largest difference {np.nanmax(np.abs(got - want))}"
