"""``python -m skspmd.daal4py script.py``: unmodified daal4py SPMD scripts on skspmd.

The scripts in ``tests/daal4py_scripts/`` are written as daal4py's own SPMD
examples are (``import daal4py as d4p``, one CSV file per rank, results printed
on rank 0). Each test writes the per-rank files of a global data set, runs one
script under ``mpiexec -n 2`` and ``-n 3`` with the runner, and checks what
rank 0 printed against NumPy / scikit-learn on the concatenated rows. Every
launch is bounded by a timeout and killed as a process group.
"""

import json
import os
import sys

import numpy as np
import pytest
from helpers import bounds, launch
from sklearn.cluster import DBSCAN, KMeans, kmeans_plusplus
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.naive_bayes import MultinomialNB

pytestmark = pytest.mark.serial  # each test launches mpiexec itself

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(HERE, "daal4py_scripts")
TIMEOUT = 150
SIZES = (2, 3)
N, P = 60, 4


def run(args, size=None, cwd=None, env=None, timeout=TIMEOUT):
    """``python -m skspmd.daal4py ARGS`` (under ``mpiexec -n size`` unless None).

    Returns ``(returncode, stdout, stderr, seconds)``, bounded by ``timeout``.
    """
    env = {"PYTHONPATH": ROOT, **(env or {})}
    argv = [sys.executable, "-m", "skspmd.daal4py", *args]
    return launch(argv, size, env=env, cwd=cwd, timeout=timeout)


def printed(stdout):
    """``name = json`` lines printed by a script, as a dict of arrays."""
    values = {}
    for line in stdout.splitlines():
        name, sep, text = line.partition(" = ")
        if sep:
            values[name.strip()] = np.asarray(json.loads(text))
    return values


# ---------------------------------------------------------------------------
# the global data, its per-rank files, and the references
# ---------------------------------------------------------------------------


def global_data():
    rng = np.random.RandomState(0)
    X = rng.randn(N, P) * np.arange(1, P + 1) + np.arange(P) * 2.0
    X[:, -1] += 0.5 * X[:, 0]
    Y = X @ rng.randn(P, 2) + np.array([3.0, -1.0]) + 0.1 * rng.randn(N, 2)
    counts = rng.poisson(2.0, size=(N, 5)).astype(float)
    labels = rng.randint(0, 3, size=(N, 1)).astype(float)
    centers = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 0.0], [0.0, 6.0, 6.0]])
    blobs = np.vstack([rng.randn(N // 3, 3) + c for c in centers])[rng.permutation(N)]
    return dict(X=X, y=Y, counts=counts, labels=labels, blobs=blobs)


def write_files(folder, size, data):
    """``NAME_{rank}.csv`` for each rank's (uneven) block, and the whole k-means file."""
    for rank in range(size):
        start, stop = bounds(N, "uneven", size, rank)
        for name in ("X", "y", "counts", "labels"):
            path = os.path.join(folder, f"{name}_{rank}.csv")
            np.savetxt(path, data[name][start:stop], delimiter=",", fmt="%.17g")
    np.savetxt(os.path.join(folder, "kmeans_dense.csv"), data["blobs"], delimiter=",", fmt="%.17g")
    return [bounds(N, "uneven", size, r) for r in range(size)]


def flip_rows(V):
    idx = np.argmax(np.abs(V), axis=1)
    return V * np.sign(V[np.arange(V.shape[0]), idx])[:, None]


def check_low_order_moments(got, data, blocks):
    X = data["X"]
    n, mean, std = X.shape[0], X.mean(0), X.std(0, ddof=1)
    expected = {
        "minimum": X.min(0),
        "maximum": X.max(0),
        "sum": X.sum(0),
        "sumSquares": (X**2).sum(0),
        "sumSquaresCentered": ((X - mean) ** 2).sum(0),
        "mean": mean,
        "secondOrderRawMoment": (X**2).sum(0) / n,
        "variance": X.var(0, ddof=1),
        "standardDeviation": std,
        "variation": std / mean,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value[None], rtol=1e-12, err_msg=name)


def check_covariance(got, data, blocks):
    X = data["X"]
    np.testing.assert_allclose(got["covariance"], np.cov(X.T), rtol=1e-12)
    np.testing.assert_allclose(got["correlation"], np.corrcoef(X.T), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["mean"], X.mean(0, keepdims=True), rtol=1e-12)


def check_pca(got, data, blocks):
    X = data["X"]
    values, vectors = np.linalg.eigh(np.corrcoef(X.T))
    for method in ("correlationDense", "svdDense"):
        np.testing.assert_allclose(got[f"{method}.eigenvalues"], values[None, ::-1], rtol=1e-10)
        np.testing.assert_allclose(
            got[f"{method}.eigenvectors"], flip_rows(vectors[:, ::-1].T), atol=1e-9
        )
        np.testing.assert_allclose(got[f"{method}.means"], X.mean(0, keepdims=True), rtol=1e-12)
        np.testing.assert_allclose(got[f"{method}.variances"], X.var(0, ddof=1)[None], rtol=1e-12)


def check_svd(got, data, blocks):
    _, s, Vt = np.linalg.svd(data["X"], full_matrices=False)
    np.testing.assert_allclose(got["singularValues"], s[None], rtol=1e-12)
    np.testing.assert_allclose(got["rightSingularMatrix"], flip_rows(Vt), atol=1e-10)
    assert got["USV_residual"] < 1e-10 * np.abs(data["X"]).max()


def check_qr(got, data, blocks):
    R = np.linalg.qr(data["X"])[1]
    np.testing.assert_allclose(got["matrixR"], R * np.sign(np.diag(R))[:, None], atol=1e-10)
    assert got["QR_residual"] < 1e-10 * np.abs(data["X"]).max()


def _beta(ref):
    return np.hstack((ref.intercept_.reshape(-1, 1), ref.coef_))


def check_linear_regression(got, data, blocks):
    ref = LinearRegression().fit(data["X"], data["y"])
    np.testing.assert_allclose(got["Beta"], _beta(ref), rtol=1e-9)
    start, stop = blocks[0]
    np.testing.assert_allclose(got["prediction"], ref.predict(data["X"][start:stop]), rtol=1e-9)


def check_ridge_regression(got, data, blocks):
    ref = Ridge(alpha=np.array([1.5, 20.0]), solver="svd").fit(data["X"], data["y"])
    np.testing.assert_allclose(got["Beta"], _beta(ref), rtol=1e-9)
    start, stop = blocks[0]
    np.testing.assert_allclose(got["prediction"], ref.predict(data["X"][start:stop]), rtol=1e-9)


def check_naive_bayes(got, data, blocks):
    ref = MultinomialNB(fit_prior=False).partial_fit(
        data["counts"], data["labels"].ravel(), classes=np.arange(3)
    )
    np.testing.assert_allclose(got["LogP"].ravel(), ref.class_log_prior_, rtol=1e-12)
    np.testing.assert_allclose(got["LogTheta"], ref.feature_log_prob_, rtol=1e-12)
    start, stop = blocks[0]
    expected = ref.predict(data["counts"][start:stop])
    np.testing.assert_array_equal(got["prediction"].ravel(), expected)


def check_kmeans(got, data, blocks):
    size = len(blocks)
    rpp = N // size  # the script's slicing: rpp rows per rank, the rest dropped
    X = data["blobs"][: rpp * size]
    init = kmeans_plusplus(X, 3, random_state=777)[0]
    np.testing.assert_allclose(got["init"], init, rtol=1e-14)
    ref = KMeans(3, init=init, n_init=1, max_iter=25, tol=0).fit(X)
    np.testing.assert_allclose(got["centroids"], ref.cluster_centers_, rtol=1e-10)
    np.testing.assert_allclose(got["objectiveFunction"], [[ref.inertia_]], rtol=1e-10)
    assert got["nIterations"].tolist() == [[ref.n_iter_]]
    np.testing.assert_array_equal(got["assignments"], ref.predict(X[:rpp]))


def check_dbscan(got, data, blocks):
    size = len(blocks)
    rpp = N // size  # the script's slicing: rpp rows per rank, the rest dropped
    X = data["blobs"][: rpp * size]
    ref = DBSCAN(eps=1.5, min_samples=4, algorithm="brute").fit(X)
    np.testing.assert_array_equal(got["assignments"], ref.labels_[:rpp])
    assert got["nClusters"].tolist() == [[ref.labels_.max() + 1]]
    core = ref.core_sample_indices_
    np.testing.assert_array_equal(got["coreIndices"], core[core < rpp])


CHECKS = {
    "low_order_moments_spmd.py": check_low_order_moments,
    "covariance_spmd.py": check_covariance,
    "pca_spmd.py": check_pca,
    "svd_spmd.py": check_svd,
    "qr_spmd.py": check_qr,
    "linear_regression_spmd.py": check_linear_regression,
    "ridge_regression_spmd.py": check_ridge_regression,
    "naive_bayes_spmd.py": check_naive_bayes,
    "kmeans_spmd.py": check_kmeans,
    "dbscan_spmd.py": check_dbscan,
}


def test_every_script_is_checked():
    scripts = {f for f in os.listdir(SCRIPTS) if f.endswith(".py")}
    assert scripts == set(CHECKS)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"n{s}")
@pytest.mark.parametrize("script", sorted(CHECKS), ids=lambda s: s[:-3])
def test_daal4py_script_runs_unmodified(script, size, tmp_path):
    data = global_data()
    blocks = write_files(str(tmp_path), size, data)
    code, out, err, _ = run([os.path.join(SCRIPTS, script), str(tmp_path)], size, cwd=tmp_path)
    assert code == 0, out[-3000:] + err[-3000:]
    CHECKS[script](printed(out), data, blocks)


# ---------------------------------------------------------------------------
# failures end the job; a real daal4py is never imported
# ---------------------------------------------------------------------------

RAISES_ON_LAST_RANK = """\
import numpy as np
import daal4py as d4p

def read_my_part():
    raise ValueError(f"no data for rank {d4p.my_procid()}")

X = np.ones((4, 2))
if d4p.my_procid() == d4p.num_procs() - 1:
    X = read_my_part()
# the other ranks wait here for the last one, which never arrives
d4p.low_order_moments(distributed=True).compute(X)
"""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"n{s}")
def test_error_on_one_rank_ends_the_job(size, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(RAISES_ON_LAST_RANK)
    code, out, err, seconds = run([str(script)], size, cwd=tmp_path, timeout=90)
    assert code != 0
    assert seconds < 90
    # the script's own traceback: it starts in the script, not in the runner
    frames = [line for line in err.splitlines() if line.startswith('  File "')]
    assert frames and all(str(script) in f for f in frames), err
    assert "runpy" not in err and "__main__.py" not in err, err
    assert f"ValueError: no data for rank {size - 1}" in err
    assert f"rank {size - 1} of {size}: uncaught ValueError" in err


def test_error_in_a_plain_run_exits_nonzero(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(RAISES_ON_LAST_RANK)
    code, _, err, _ = run([str(script)], cwd=tmp_path, timeout=90)
    assert code == 1
    assert err.startswith("Traceback (most recent call last):\n  File "), err
    assert "ValueError: no data for rank 0" in err and "MPI_Abort" not in err


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"n{s}")
def test_sys_exit_on_one_rank_ends_the_job(size, tmp_path):
    script = tmp_path / "exits.py"
    script.write_text(
        "import sys, numpy as np, daal4py\n"
        "if daal4py.my_procid() == 1:\n"
        "    sys.exit(3)\n"
        "daal4py.covariance(distributed=True).compute(np.ones((3, 2)))\n"
    )
    code, _, err, _ = run([str(script)], size, cwd=tmp_path, timeout=90)
    assert code != 0
    assert f"rank 1 of {size}: uncaught SystemExit (exit status 3)" in err


FAKE_DAAL4PY = 'raise RuntimeError("the real daal4py was imported")\n'

HELPER_MODULE = """\
import daal4py
from daal4py import covariance

def mean(X):
    return covariance(distributed=True).compute(X).mean
"""

USES_BOTH_STYLES = """\
import sys
import numpy as np
import daal4py
import daal4py as d4p
from daal4py import daalinit, daalfini, low_order_moments
from helper import mean  # a module of the script that imports daal4py itself

assert daal4py is d4p and d4p.__name__ == "skspmd.daal4py", d4p
import helper
assert helper.daal4py is d4p
try:
    import daal4py.sklearn
except ImportError as exc:
    print("sklearn:", exc)
daalinit()
X = np.arange(12.0).reshape(6, 2) + d4p.my_procid()
m = low_order_moments(distributed=True).compute(X).mean
assert np.allclose(mean(X), m)
daalfini()
if d4p.my_procid() == 0:
    print("argv =", sys.argv[1:], "mean =", m.tolist(), "size =", d4p.num_procs())
"""


@pytest.mark.parametrize("size", (None, 2), ids=["plain", "n2"])
def test_daal4py_imports_resolve_to_skspmd(size, tmp_path):
    fake = tmp_path / "site" / "daal4py"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_DAAL4PY)
    (fake / "sklearn.py").write_text(FAKE_DAAL4PY)
    work = tmp_path / "work"
    work.mkdir()
    (work / "helper.py").write_text(HELPER_MODULE)
    (work / "script.py").write_text(USES_BOTH_STYLES)
    env = {"PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}"}
    # run from another directory: the script's own directory is on sys.path
    code, out, err, _ = run([str(work / "script.py"), "a", "--b"], size, cwd=tmp_path, env=env)
    assert code == 0, out + err
    assert "the real daal4py" not in out + err
    assert "sklearn: daal4py.sklearn is not provided by skspmd.daal4py" in out
    assert "argv = ['a', '--b']" in out
    assert f"size = {size or 1}" in out


def test_run_a_module(tmp_path):
    (tmp_path / "mymod.py").write_text(
        "import sys, daal4py\nprint('module', __name__, daal4py.__name__, sys.argv[1:])\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    code, out, err, _ = run(["-m", "mymod", "x"], cwd=tmp_path, env=env)
    assert code == 0, err
    assert out.strip() == "module __main__ skspmd.daal4py ['x']"


def test_usage_and_missing_script(tmp_path):
    code, _, err, _ = run([], cwd=tmp_path)
    assert code == 2 and "usage: python -m skspmd.daal4py SCRIPT" in err
    code, out, _, _ = run(["--help"], cwd=tmp_path)
    assert code == 0 and "mpiexec -n 4 python -m skspmd.daal4py" in out
    code, _, err, _ = run(["no_such_script.py"], 2, cwd=tmp_path, timeout=90)
    assert code != 0 and "can't open file" in err
