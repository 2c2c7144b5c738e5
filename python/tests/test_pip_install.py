# `pip install .` from the checkout into a fresh virtual environment made with --system-site-packages (NumPy comes
# from the system): pip fetches the build requirements (scikit-build-core, pybind11) from PyPI, scikit-build-core
# runs the project's CMake build for the module alone and installs it; the venv's Python then imports it from its
# site-packages and gets the numbers of the module built by ctest. A cold build compiles the whole C++ core (9.5
# minutes measured at -j 1 on 2 busy cores), so ctest registers this test (python_pip_install, label pip) only when
# configured with -DSP_TEST_PIP_INSTALL=ON; ccache, when on PATH, is used as the compiler launcher.
import os
import pathlib
import shutil
import subprocess
import sys

import synpriv


def test_pip_install_builds_and_imports(tmp_path):
    source = pathlib.Path(__file__).resolve().parents[2]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv must find its own copy
    cmd = [python, "-m", "pip", "install", "--no-cache-dir", str(source),
           f"--config-settings=build-dir={tmp_path / 'build'}"]
    if shutil.which("ccache"):
        cmd += ["--config-settings=cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}"

    code = ("import synpriv, numpy as np\n"
            "print(synpriv.__file__)\n"
            "print(repr(synpriv.rdp_epsilon(0.01, 1.0, 100, 1e-5)['epsilon']))\n"
            "print(repr(synpriv.roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool))))\n")
    r = subprocess.run([python, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    path, eps, auc = r.stdout.split()
    assert path.startswith(str(venv)), f"imported {path}, not the venv's copy"
    assert float(eps) == synpriv.rdp_epsilon(0.01, 1.0, 100, 1e-5)["epsilon"]
    assert float(auc) == 0.75
