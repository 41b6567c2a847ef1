"""skspmd.daal4py in the style of daal4py's SPMD examples: per-rank CSV files.

Every test builds the global data from a seed on every rank, writes this
rank's rows to its own CSV file in a directory all ranks share, runs the
daal4py-style function on ``"part{}.csv"`` and compares the result with NumPy
or scikit-learn on the concatenated data.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import SPLITS, WORLD, local
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.linear_model import Ridge
from sklearn.naive_bayes import MultinomialNB

import skspmd.daal4py as d4p

RANK = WORLD.Get_rank()
N, P = 48, 4


def write_part(directory, name, X_local, trailing_comma=False):
    """This rank's rows to ``directory/name{rank}.csv``; returns the pattern."""
    pattern = os.path.join(directory, name + "{}.csv")
    with open(pattern.format(RANK), "w") as f:
        for row in np.atleast_2d(X_local) if len(X_local) else []:
            line = ",".join(repr(float(v)) for v in row)
            f.write(line + ("," if trailing_comma else "") + "\n")
    WORLD.Barrier()
    return pattern


def data(seed=0, n=N, p=P):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) * np.arange(1, p + 1) + np.arange(p) * 3.0
    X[:, -1] += 0.5 * X[:, 0]
    return X


def flip_rows(V):
    """Largest-magnitude entry of each row positive."""
    idx = np.argmax(np.abs(V), axis=1)
    return V * np.sign(V[np.arange(V.shape[0]), idx])[:, None]


def on_rows(method, X_local, width=None):
    """A scikit-learn row-wise method on this rank's rows (sklearn rejects zero rows)."""
    if X_local.shape[0]:
        return method(X_local)
    return np.empty((0,) if width is None else (0, width))


def assert_same_on_all_ranks(*arrays):
    for a in arrays:
        everyone = WORLD.allgather(np.asarray(a))
        for other in everyone:
            np.testing.assert_array_equal(other, a)


# ---------------------------------------------------------------------------
# process functions
# ---------------------------------------------------------------------------


def test_process_functions(shared_tmp_path):
    d4p.daalinit()
    assert d4p.my_procid() == WORLD.Get_rank()
    assert d4p.num_procs() == WORLD.Get_size()
    X = data()
    res = d4p.low_order_moments(distributed=True).compute(local("even", X))
    d4p.daalfini()
    # results stay readable after daalfini, and later calls still work
    np.testing.assert_allclose(res.mean, X.mean(axis=0, keepdims=True))
    again = d4p.low_order_moments(distributed=True).compute(local("even", X))
    np.testing.assert_array_equal(again.mean, res.mean)
    with pytest.raises(TypeError, match="nthreads"):
        d4p.daalinit("four")


# ---------------------------------------------------------------------------
# low_order_moments, covariance
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_low_order_moments(split, shared_tmp_path):
    X = data(1)
    pattern = write_part(shared_tmp_path, "part", local(split, X))
    res = d4p.low_order_moments(distributed=True).compute(pattern, d4p.my_procid())
    n = X.shape[0]
    mean = X.mean(axis=0)
    std = X.std(axis=0, ddof=1)
    expected = {
        "minimum": X.min(axis=0),
        "maximum": X.max(axis=0),
        "sum": X.sum(axis=0),
        "sumSquares": (X**2).sum(axis=0),
        "sumSquaresCentered": ((X - mean) ** 2).sum(axis=0),
        "mean": mean,
        "secondOrderRawMoment": (X**2).sum(axis=0) / n,
        "variance": X.var(axis=0, ddof=1),
        "standardDeviation": std,
        "variation": std / mean,
    }
    for name, value in expected.items():
        got = getattr(res, name)
        assert got.shape == (1, P), name
        np.testing.assert_allclose(got, value[None], rtol=1e-12, atol=1e-12, err_msg=name)
        assert_same_on_all_ranks(got)


@pytest.mark.parametrize(
    "estimates, present",
    [("estimatesMinMax", ("minimum", "maximum")), ("estimatesMeanVariance", ("mean", "variance"))],
)
def test_low_order_moments_estimates(estimates, present):
    X = data(2)
    res = d4p.low_order_moments(estimatesToCompute=estimates, distributed=True).compute(
        local("uneven", X)
    )
    reference = {
        "minimum": X.min(0),
        "maximum": X.max(0),
        "mean": X.mean(0),
        "variance": X.var(0, ddof=1),
    }
    for name in present:
        np.testing.assert_allclose(getattr(res, name), reference[name][None], rtol=1e-12)
    with pytest.raises(AttributeError, match=f"not computed: estimatesToCompute='{estimates}'"):
        res.sumSquares


@pytest.mark.parametrize("split", SPLITS)
def test_covariance(split, shared_tmp_path):
    X = data(3)
    pattern = write_part(shared_tmp_path, "cov", local(split, X), trailing_comma=True)
    for matrix in ("covarianceMatrix", "correlationMatrix"):
        res = d4p.covariance(outputMatrixType=matrix, distributed=True).compute(pattern)
        np.testing.assert_allclose(res.covariance, np.cov(X.T), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(res.correlation, np.corrcoef(X.T), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(res.mean, X.mean(axis=0, keepdims=True), rtol=1e-12)
        assert res.mean.shape == (1, P)
        assert_same_on_all_ranks(res.covariance, res.correlation, res.mean)


# ---------------------------------------------------------------------------
# pca, svd, qr
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["correlationDense", "svdDense"])
@pytest.mark.parametrize("split", SPLITS)
def test_pca(method, split, shared_tmp_path):
    X = data(4)
    pattern = write_part(shared_tmp_path, "pca", local(split, X))
    res = d4p.pca(method=method, resultsToCompute="mean|variance|eigenvalue", distributed=True)
    res = res.compute(pattern, d4p.my_procid())
    values, vectors = np.linalg.eigh(np.corrcoef(X.T))
    values, vectors = values[::-1], flip_rows(vectors[:, ::-1].T)
    assert res.eigenvalues.shape == (1, P) and res.eigenvectors.shape == (P, P)
    np.testing.assert_allclose(res.eigenvalues, values[None], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.eigenvectors, vectors, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.means, X.mean(0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(res.variances, X.var(0, ddof=1, keepdims=True), rtol=1e-12)
    assert res.dataForTransform["eigenvalue"] is res.eigenvalues
    assert_same_on_all_ranks(res.eigenvalues, res.eigenvectors)


@pytest.mark.parametrize("method", ["correlationDense", "svdDense"])
def test_pca_constant_feature_and_float32_as_scaler_then_pca(method):
    """A constant column is scaled by 1 (StandardScaler's rule): zero eigenvalue, as sklearn."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = data(7)
    X[:, 1] = 2.5
    res = d4p.pca(method=method, distributed=True).compute(local("uneven", X))
    Z = StandardScaler().fit_transform(X)
    ref = PCA(svd_solver="full").fit(Z)
    n = X.shape[0]
    np.testing.assert_allclose(
        res.eigenvalues.ravel(), ref.explained_variance_ * (n - 1) / n, rtol=1e-10, atol=1e-12
    )
    assert abs(res.eigenvalues.ravel()[-1]) <= 1e-12 * res.eigenvalues.ravel()[0]
    np.testing.assert_allclose(res.eigenvectors[:-1], ref.components_[:-1], atol=1e-9)
    res32 = d4p.pca(fptype="float", method=method, distributed=True).compute(local("uneven", X))
    assert res32.eigenvalues.dtype == np.float32
    np.testing.assert_allclose(res32.eigenvalues, res.eigenvalues, rtol=1e-4, atol=1e-5)


def test_pca_n_components_and_defaults():
    X = data(5)
    res = d4p.pca(nComponents=2, distributed=True).compute(local("uneven", X))
    values, vectors = np.linalg.eigh(np.corrcoef(X.T))
    np.testing.assert_allclose(res.eigenvalues, values[::-1][None, :2], rtol=1e-10)
    np.testing.assert_allclose(res.eigenvectors, flip_rows(vectors[:, ::-1].T)[:2], atol=1e-10)
    assert res.means is None and res.variances is None


@pytest.mark.parametrize("split", SPLITS)
def test_svd(split, shared_tmp_path):
    X = data(6)
    X_local = local(split, X)
    pattern = write_part(shared_tmp_path, "svd", X_local)
    res = d4p.svd(distributed=True).compute(pattern)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    signs = np.sign(Vt[np.arange(P), np.argmax(np.abs(Vt), axis=1)])
    np.testing.assert_allclose(res.singularValues, s[None], rtol=1e-12)
    np.testing.assert_allclose(res.rightSingularMatrix, Vt * signs[:, None], atol=1e-10)
    start = sum(WORLD.allgather(X_local.shape[0])[:RANK])
    expected_u = (U * signs)[start : start + X_local.shape[0]]
    assert res.leftSingularMatrix.shape == (X_local.shape[0], P)
    np.testing.assert_allclose(res.leftSingularMatrix, expected_u, atol=1e-10)
    assert_same_on_all_ranks(res.singularValues, res.rightSingularMatrix)
    no_u = d4p.svd(leftSingularMatrix="notRequired", distributed=True).compute(pattern)
    assert no_u.leftSingularMatrix is None
    np.testing.assert_allclose(no_u.singularValues, s[None], rtol=1e-12)


@pytest.mark.parametrize("split", SPLITS)
def test_qr(split, shared_tmp_path):
    X = data(7)
    X_local = local(split, X)
    pattern = write_part(shared_tmp_path, "qr", X_local)
    res = d4p.qr(distributed=True).compute(pattern)
    _, R = np.linalg.qr(X)
    R = R * np.sign(np.diag(R))[:, None]
    np.testing.assert_allclose(res.matrixR, R, rtol=1e-10, atol=1e-10)
    assert res.matrixQ.shape == (X_local.shape[0], P)
    np.testing.assert_allclose(res.matrixQ @ res.matrixR, X_local, atol=1e-10)
    Q = np.concatenate(WORLD.allgather(res.matrixQ))
    np.testing.assert_allclose(Q.T @ Q, np.eye(P), atol=1e-12)
    assert_same_on_all_ranks(res.matrixR)


# ---------------------------------------------------------------------------
# regressions
# ---------------------------------------------------------------------------


def regression_data(seed=8, k=2):
    X = data(seed)
    rng = np.random.RandomState(seed + 100)
    Y = X @ rng.randn(P, k) + rng.randn(k) * 5 + 0.1 * rng.randn(X.shape[0], k)
    return X, Y


@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("method", ["normEqDense", "qrDense"])
@pytest.mark.parametrize("split", SPLITS)
def test_linear_regression(intercept, method, split, shared_tmp_path):
    X, Y = regression_data()
    X_local, Y_local = local(split, X, Y)
    xs = write_part(shared_tmp_path, "x", X_local)
    ys = write_part(shared_tmp_path, "y", Y_local)
    algo = d4p.linear_regression_training(method=method, interceptFlag=intercept, distributed=True)
    model = algo.compute(xs, ys, d4p.my_procid()).model
    A = np.hstack((np.ones((X.shape[0], 1)), X)) if intercept else X
    coef = np.linalg.lstsq(A, Y, rcond=None)[0].T
    if not intercept:  # a fit through the origin: Beta[:, 0] == 0
        coef = np.hstack((np.zeros((2, 1)), coef))
    assert model.Beta.shape == (2, P + 1)
    np.testing.assert_allclose(model.Beta, coef, rtol=1e-9, atol=1e-9)
    assert (model.NumberOfBetas, model.NumberOfFeatures, model.NumberOfResponses) == (P + 1, P, 2)
    assert model.InterceptFlag is intercept
    assert_same_on_all_ranks(model.Beta)
    pred = d4p.linear_regression_prediction().compute(X_local, model).prediction
    assert pred.shape == (X_local.shape[0], 2)
    np.testing.assert_allclose(pred, X_local @ coef[:, 1:].T + coef[:, 0], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("split", SPLITS)
def test_ridge_regression(intercept, split, shared_tmp_path):
    X, Y = regression_data(9)
    X_local, Y_local = local(split, X, Y)
    xs = write_part(shared_tmp_path, "x", X_local)
    ys = write_part(shared_tmp_path, "y", Y_local)
    for params, alpha in ((None, 1.0), (np.array([[2.0, 30.0]]), np.array([2.0, 30.0]))):
        algo = d4p.ridge_regression_training(
            ridgeParameters=params, interceptFlag=intercept, distributed=True
        )
        model = algo.compute(xs, ys).model
        ref = Ridge(alpha=alpha, fit_intercept=intercept, solver="svd").fit(X, Y)
        intercepts = np.reshape(ref.intercept_ if intercept else np.zeros(2), (-1, 1))
        beta = np.hstack((intercepts, ref.coef_))
        np.testing.assert_allclose(model.Beta, beta, rtol=1e-9, atol=1e-9)
        assert_same_on_all_ranks(model.Beta)
        pred = d4p.ridge_regression_prediction().compute(X_local, model).prediction
        expected = on_rows(ref.predict, X_local, 2)
        np.testing.assert_allclose(pred, expected, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------
# multinomial naive Bayes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_multinomial_naive_bayes(split, shared_tmp_path):
    rng = np.random.RandomState(10)
    n_classes = 4  # class 3 never appears
    X = rng.poisson(2.0, size=(N, 6)).astype(float)
    y = rng.randint(0, 3, size=(N, 1)).astype(float)
    X_local, y_local = local(split, X, y)
    xs = write_part(shared_tmp_path, "nbx", X_local)
    ys = write_part(shared_tmp_path, "nby", y_local)
    priors = np.array([[0.1], [0.2], [0.3], [0.4]])
    alpha = np.array([[0.5, 1.0, 2.0, 0.5, 1.0, 3.0]])
    cases = [
        ({}, MultinomialNB(alpha=1.0, fit_prior=False)),
        (
            dict(priorClassEstimates=priors, alpha=alpha),
            MultinomialNB(alpha=alpha.ravel(), class_prior=priors.ravel()),
        ),
    ]
    for kwargs, ref in cases:
        ref.partial_fit(X, y.ravel(), classes=np.arange(n_classes))
        train = d4p.multinomial_naive_bayes_training(n_classes, distributed=True, **kwargs)
        model = train.compute(xs, ys).model
        assert model.LogP.shape == (n_classes, 1) and model.LogTheta.shape == (n_classes, 6)
        np.testing.assert_allclose(model.LogP.ravel(), ref.class_log_prior_, rtol=1e-12)
        np.testing.assert_allclose(model.LogTheta, ref.feature_log_prob_, rtol=1e-12)
        a = kwargs.get("alpha", np.ones((1, 6))).ravel()  # class 3: smoothing alone
        np.testing.assert_allclose(model.LogTheta[3], np.log(a / a.sum()), rtol=1e-12)
        assert model.NumberOfFeatures == 6
        assert_same_on_all_ranks(model.LogP, model.LogTheta)
        flags = "computeClassLabels|computeClassProbabilities"
        pred = d4p.multinomial_naive_bayes_prediction(n_classes, resultsToEvaluate=flags)
        out = pred.compute(X_local, model)
        assert out.prediction.shape == (X_local.shape[0], 1)
        np.testing.assert_array_equal(out.prediction.ravel(), on_rows(ref.predict, X_local))
        expected = on_rows(ref.predict_proba, X_local, n_classes)
        np.testing.assert_allclose(out.probabilities, expected, rtol=1e-10)


def test_multinomial_naive_bayes_bad_labels():
    rng = np.random.RandomState(11)
    X = rng.poisson(2.0, size=(N, 3)).astype(float)
    y = rng.randint(0, 3, size=(N, 1)).astype(float)
    y[-1] = 7  # on the last rank only
    with pytest.raises(ValueError, match=r"labels must be integers in 0\.\.2"):
        d4p.multinomial_naive_bayes_training(3, distributed=True).compute(*local("even", X, y))


# ---------------------------------------------------------------------------
# kmeans_init, kmeans
# ---------------------------------------------------------------------------


def blobs(seed=12, n=90):
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 0.0], [0.0, 6.0, 6.0]])
    return np.vstack([rng.randn(n // 3, 3) + c for c in centers])[rng.permutation(n)]


INIT_METHODS = (
    "defaultDense",
    "deterministicDense",
    "randomDense",
    "plusPlusDense",
    "parallelPlusDense",
)


@pytest.mark.parametrize("method", INIT_METHODS)
@pytest.mark.parametrize("split", SPLITS)
def test_kmeans_init(method, split, shared_tmp_path):
    X = blobs()
    pattern = write_part(shared_tmp_path, "km", local(split, X))
    res = d4p.kmeans_init(4, method=method, distributed=True).compute(pattern, d4p.my_procid())
    if method in ("defaultDense", "deterministicDense"):
        expected = X[:4]
    elif method == "randomDense":
        n = X.shape[0]
        rows = np.random.RandomState(777).choice(n, 4, replace=False, p=np.ones(n) / n)
        expected = X[rows]
    else:
        expected, _ = kmeans_plusplus(X, 4, random_state=777)
    assert res.centroids.shape == (4, 3)
    np.testing.assert_allclose(res.centroids, expected, rtol=1e-14)
    assert_same_on_all_ranks(res.centroids)


def test_kmeans_init_engine_seed():
    X = blobs()
    engine = d4p.engines_mt19937(seed=5)
    res = d4p.kmeans_init(3, method="plusPlusDense", engine=engine, distributed=True)
    got = res.compute(local("uneven", X)).centroids
    np.testing.assert_allclose(got, kmeans_plusplus(X, 3, random_state=5)[0], rtol=1e-14)


@pytest.mark.parametrize("split", SPLITS)
def test_kmeans(split, shared_tmp_path):
    X = blobs(13)
    X_local = local(split, X)
    pattern = write_part(shared_tmp_path, "km", X_local)
    init = X[[0, 1, 2, 3]]
    res = d4p.kmeans(4, 50, assignFlag=True, distributed=True).compute(pattern, init)
    ref = KMeans(4, init=init, n_init=1, max_iter=50, tol=0).fit(X)
    np.testing.assert_allclose(res.centroids, ref.cluster_centers_, rtol=1e-10)
    assert res.objectiveFunction.shape == (1, 1) and res.nIterations.shape == (1, 1)
    np.testing.assert_allclose(res.objectiveFunction[0, 0], ref.inertia_, rtol=1e-10)
    assert res.nIterations[0, 0] == ref.n_iter_
    assert res.nIterations.dtype == np.int32
    assert res.assignments.shape == (X_local.shape[0], 1)
    np.testing.assert_array_equal(res.assignments.ravel(), on_rows(ref.predict, X_local))
    assert_same_on_all_ranks(res.centroids, res.objectiveFunction, res.nIterations)
    assert d4p.kmeans(4, 50, distributed=True).compute(pattern, init).assignments is None


def _nearest(X, centers):
    """Labels of the nearest centre and the sum of squared distances to it (NumPy)."""
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    return d2.argmin(axis=1), d2.min(axis=1).sum()


@pytest.mark.parametrize("distributed", [True, False])
@pytest.mark.parametrize("split", SPLITS)
def test_kmeans_assignment_idiom(distributed, split, shared_tmp_path):
    """``kmeans(k, 0, assignFlag=True).compute(data, centroids).assignments``: labels only."""
    X = blobs(19)
    X_local = local(split, X)
    pattern = write_part(shared_tmp_path, "assign", X_local)
    centroids = X[[3, 10, 20, 40]] + 0.25
    for fptype, dtype, rtol in (("double", np.float64, 1e-12), ("float", np.float32, 1e-5)):
        if not distributed and X_local.shape[0] == 0:
            continue  # a batch call needs rows of its own
        algo = d4p.kmeans(4, 0, fptype=fptype, assignFlag=True, distributed=distributed)
        res = algo.compute(pattern, d4p.my_procid(), centroids)
        labels, objective = _nearest(X if distributed else X_local, centroids)
        mine, _ = _nearest(X_local, centroids)
        assert res.assignments.shape == (X_local.shape[0], 1)
        assert res.assignments.dtype == np.int32
        np.testing.assert_array_equal(res.assignments.ravel(), mine)
        np.testing.assert_allclose(res.objectiveFunction, [[objective]], rtol=rtol)
        assert res.objectiveFunction.dtype == dtype
        np.testing.assert_array_equal(res.centroids, centroids.astype(dtype))
        assert res.centroids.dtype == dtype
        assert res.nIterations.tolist() == [[0]] and res.nIterations.dtype == np.int32
        if distributed:
            assert_same_on_all_ranks(res.objectiveFunction, res.centroids)
    # without assignFlag, daal4py still returns the assignments of maxIterations=0
    res = d4p.kmeans(4, 0, distributed=True).compute(pattern, d4p.my_procid(), centroids)
    np.testing.assert_array_equal(res.assignments.ravel(), _nearest(X_local, centroids)[0])


def _lloyd_step(X, centers):
    """One Lloyd iteration in NumPy: nearest centre, then the mean of each cluster."""
    labels = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.all(np.bincount(labels, minlength=len(centers)) > 0)
    return np.array([X[labels == j].mean(axis=0) for j in range(len(centers))])


def _objective(X, centers):
    return ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).min(axis=1).sum()


def test_kmeans_accuracy_threshold():
    # daal4py's batch test: stop at the first iteration whose summed squared
    # centroid shift is within accuracyThreshold (reference: Lloyd in NumPy)
    rng = np.random.RandomState(14)
    X = rng.randn(300, 2) * 5.0  # mean variance ~25: the threshold is absolute
    threshold = 0.25
    centers = X[:6]
    for iteration in range(1, 100):
        new = _lloyd_step(X, centers)
        shift = ((new - centers) ** 2).sum()
        centers = new
        if shift <= threshold:
            break
    assert 3 < iteration < 30  # the threshold, not convergence, stops it
    res = d4p.kmeans(6, 100, accuracyThreshold=threshold, distributed=True)
    res = res.compute(local("uneven", X), X[:6])
    assert res.nIterations[0, 0] == iteration
    np.testing.assert_allclose(res.centroids, centers, rtol=1e-10)
    np.testing.assert_allclose(res.objectiveFunction[0, 0], _objective(X, centers), rtol=1e-10)


# ---------------------------------------------------------------------------
# input forms
# ---------------------------------------------------------------------------


def test_input_forms(shared_tmp_path):
    pd = pytest.importorskip("pandas")
    X = data(15)
    X_local = local("uneven", X)
    expected = X.mean(axis=0, keepdims=True)
    pattern = write_part(shared_tmp_path, "in", X_local, trailing_comma=True)
    algo = d4p.low_order_moments(distributed=True)
    forms = [
        (pattern, d4p.my_procid()),  # the seed document's form
        (pattern,),  # "{}" -> this rank
        (pattern.format(d4p.my_procid()),),
        (pd.DataFrame(X_local, columns=list("abcd")),),
        (X_local.tolist(),),
    ]
    for args in forms:
        np.testing.assert_allclose(algo.compute(*args).mean, expected, rtol=1e-12)
    np.testing.assert_allclose(algo.compute(data=pattern).mean, expected, rtol=1e-12)
    # distributed=False: this rank's rows alone (no communication)
    if X_local.shape[0]:
        mine = d4p.low_order_moments().compute(pattern, d4p.my_procid())
        np.testing.assert_allclose(mine.mean, X_local.mean(axis=0, keepdims=True), rtol=1e-12)
    single = d4p.low_order_moments(fptype="float", distributed=True).compute(X_local)
    assert single.mean.dtype == np.float32
    np.testing.assert_allclose(single.mean, expected, rtol=1e-5)


def _every_algorithm(X, Y, counts, labels, centroids, fptype="double", distributed=False):
    """One call of each daal4py function on these rows: ``{name: result}``."""
    kw = dict(fptype=fptype, distributed=distributed)
    out = {
        "low_order_moments": d4p.low_order_moments(**kw).compute(X),
        "covariance": d4p.covariance(**kw).compute(X),
        "pca": d4p.pca(resultsToCompute="mean|variance|eigenvalue", **kw).compute(X),
        "svd": d4p.svd(**kw).compute(X),
        "qr": d4p.qr(**kw).compute(X),
        "kmeans_init": d4p.kmeans_init(3, method="plusPlusDense", **kw).compute(X),
        "kmeans": d4p.kmeans(3, 10, assignFlag=True, **kw).compute(X, centroids),
        "kmeans0": d4p.kmeans(3, 0, assignFlag=True, **kw).compute(X, centroids),
    }
    for name, train, predict in (
        ("linear", d4p.linear_regression_training, d4p.linear_regression_prediction),
        ("ridge", d4p.ridge_regression_training, d4p.ridge_regression_prediction),
    ):
        out[name] = model = train(interceptFlag=True, **kw).compute(X, Y).model
        out[name + "_prediction"] = predict(fptype=fptype).compute(X, model)
    out["nb"] = model = d4p.multinomial_naive_bayes_training(3, **kw).compute(counts, labels).model
    flags = "computeClassLabels|computeClassProbabilities|computeClassLogProbabilities"
    algo = d4p.multinomial_naive_bayes_prediction(3, fptype=fptype, resultsToEvaluate=flags)
    out["nb_prediction"] = algo.compute(counts, model)
    return out


def _arrays(result):
    return {k: v for k, v in vars(result).items() if isinstance(v, np.ndarray)}


def _batch_inputs(seed):
    rng = np.random.RandomState(seed)
    X = data(seed)
    Y = X @ rng.randn(P, 2) + 1.0
    counts = rng.poisson(2.0, size=(N, 5)).astype(float)
    labels = rng.randint(0, 3, size=(N, 1)).astype(float)
    return X, Y, counts, labels, X[:3]


def test_batch_calls_are_local():
    """Without ``distributed=True`` a call is daal4py's batch mode: this rank alone, no
    communication; at size > 1 rank 0 runs every function while the others do not."""
    X, Y, counts, labels, centroids = _batch_inputs(20)
    results = _every_algorithm(X, Y, counts, labels, centroids) if RANK == 0 else None
    WORLD.Barrier()  # a hang above (a collective in a batch call) fails by the timeout
    if RANK == 0:  # batch results equal the distributed ones over the same rows alone
        from mpi4py import MPI

        from skspmd import comm_context

        with comm_context(MPI.COMM_SELF):
            again = _every_algorithm(X, Y, counts, labels, centroids, distributed=True)
        for name, result in results.items():
            for field, value in _arrays(result).items():
                np.testing.assert_array_equal(value, getattr(again[name], field), err_msg=name)
        np.testing.assert_allclose(results["low_order_moments"].mean, X.mean(0)[None])


def test_fptype_float_gives_float32_results():
    """daal4py returns every floating result field in the ``fptype`` (checked with
    daal4py 2025.11): float32 for ``fptype="float"``; counts and labels stay int32."""
    X, Y, counts, labels, centroids = _batch_inputs(21)
    X, Y, counts, labels = local("uneven", X, Y, counts, labels)
    single = _every_algorithm(X, Y, counts, labels, centroids, "float", distributed=True)
    double = _every_algorithm(X, Y, counts, labels, centroids, "double", distributed=True)
    for name, result in single.items():
        for field, value in _arrays(result).items():
            reference = getattr(double[name], field)
            if field in ("nIterations", "assignments"):
                assert value.dtype == np.int32, (name, field)
            else:
                assert value.dtype == np.float32, (name, field, value.dtype)
                assert reference.dtype == np.float64, (name, field)
            if name not in ("svd", "qr", "kmeans", "kmeans_init") or field == "singularValues":
                np.testing.assert_allclose(value, reference, rtol=2e-3, atol=2e-3, err_msg=name)


def test_rank_without_rows_may_pass_an_empty_list():
    X, Y = regression_data(18)
    X_local, Y_local = local("empty", X, Y)
    if X_local.shape[0] == 0:
        X_local, Y_local = [], np.empty((0, 0))
    model = d4p.linear_regression_training(interceptFlag=True, distributed=True)
    model = model.compute(X_local, Y_local).model
    A = np.hstack((np.ones((X.shape[0], 1)), X))
    np.testing.assert_allclose(model.Beta, np.linalg.lstsq(A, Y, rcond=None)[0].T, rtol=1e-9)


# ---------------------------------------------------------------------------
# errors: named, and raised on every rank
# ---------------------------------------------------------------------------


def _last_rank_writes(path, text):
    if RANK == WORLD.Get_size() - 1:
        with open(path, "w") as f:
            f.write(text)


def test_missing_file_on_one_rank(shared_tmp_path):
    X = data(16)
    pattern = write_part(shared_tmp_path, "miss", local("even", X))
    if RANK == WORLD.Get_size() - 1:
        os.remove(pattern.format(RANK))
    WORLD.Barrier()
    with pytest.raises(FileNotFoundError, match="no such file"):
        d4p.covariance(distributed=True).compute(pattern, d4p.my_procid())


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,c,d\n1,2,3,4\n", "header row"),
        ("1,2,3,4\n5,6,7\n", "ragged rows"),
        ("1,2,3,4\n5,six,7,8\n", "non-numeric field"),
        ("1,2,3\n4,5,6\n", "different number of columns"),
    ],
    ids=["header", "ragged", "text", "columns"],
)
def test_bad_csv_on_one_rank(text, message, shared_tmp_path):
    if message.startswith("different") and WORLD.Get_size() == 1:
        pytest.skip("a column mismatch between ranks needs two ranks")
    X = data(17)
    pattern = write_part(shared_tmp_path, "bad", local("even", X))
    _last_rank_writes(pattern.format(RANK), text)
    WORLD.Barrier()
    with pytest.raises(ValueError, match=message):
        d4p.pca(distributed=True).compute(pattern)


def test_unsupported_names_and_parameters():
    with pytest.raises(d4p.UnsupportedError, match="decision_forest_classification_training"):
        d4p.decision_forest_classification_training
    with pytest.raises(NotImplementedError, match="svm_training"):
        from skspmd.daal4py import svm_training  # noqa: F401
    assert not hasattr(d4p, "no_such_thing")
    with pytest.raises(TypeError, match="unexpected keyword argument 'nComponent'"):
        d4p.pca(nComponent=2)
    with pytest.raises(ValueError, match="method='lloyd'"):
        d4p.kmeans(3, 10, method="lloyd")
    with pytest.raises(d4p.UnsupportedError, match="streaming=True"):
        d4p.covariance(streaming=True)
    with pytest.raises(d4p.UnsupportedError, match="method='fastCSR'"):
        d4p.low_order_moments(method="fastCSR")
    with pytest.raises(d4p.UnsupportedError, match="nRounds"):
        d4p.kmeans_init(3, method="parallelPlusDense", nRounds=3)
    with pytest.raises(ValueError, match="maxIterations must be >= 0"):
        d4p.kmeans(3, -1)
    with pytest.raises(TypeError, match="missing input"):
        d4p.linear_regression_training().compute(np.ones((3, 2)))


def test_kmeans_centroid_shape_checked_everywhere():
    X = blobs()
    init = X[:3] if RANK == 0 else X[:2]  # wrong on the other ranks only
    expected = ValueError if WORLD.Get_size() > 1 else None
    if expected is None:
        d4p.kmeans(3, 5, distributed=True).compute(local("even", X), init)
    else:
        with pytest.raises(ValueError, match="inputCentroids has shape"):
            d4p.kmeans(3, 5, distributed=True).compute(local("even", X), init)


# ---------------------------------------------------------------------------
# a daal4py-style script at 4 ranks
# ---------------------------------------------------------------------------

SCRIPT = """
import os, sys
import numpy as np
from mpi4py import MPI
import skspmd.daal4py as d4p
from skspmd.daal4py import daalinit, daalfini, kmeans_init

daalinit()
rank, size = d4p.my_procid(), d4p.num_procs()
rng = np.random.RandomState(0)
X = np.vstack([rng.randn(25, 3) + c for c in ([0, 0, 0], [8, 8, 0], [0, 8, 8])])
Y = X @ np.array([[1.0], [2.0], [3.0]]) + 4.0
part = np.array_split(np.arange(X.shape[0]), size)[rank]
part = part if rank != 1 else part[:0]  # rank 1 holds no rows
folder = sys.argv[1]
np.savetxt(os.path.join(folder, f"x{rank}.csv"), X[part], delimiter=",")
np.savetxt(os.path.join(folder, f"y{rank}.csv"), Y[part], delimiter=",")
MPI.COMM_WORLD.Barrier()
rows = np.concatenate(MPI.COMM_WORLD.allgather(part))
Xg, Yg = X[rows], Y[rows]
xs, ys = os.path.join(folder, "x{}.csv"), os.path.join(folder, "y{}.csv")
init = kmeans_init(3, method="plusPlusDense", distributed=True).compute(xs, rank)
km = d4p.kmeans(3, 30, assignFlag=True, distributed=True).compute(xs, rank, init.centroids)
mom = d4p.low_order_moments(distributed=True).compute(xs, rank)
lin = d4p.linear_regression_training(interceptFlag=True, distributed=True).compute(xs, ys, rank)
pca = d4p.pca(method="svdDense", distributed=True).compute(xs, rank)
daalfini()
from sklearn.cluster import KMeans
ref = KMeans(3, init=init.centroids, n_init=1, max_iter=30, tol=0).fit(Xg)
assert np.allclose(km.centroids, ref.cluster_centers_)
assert np.isclose(km.objectiveFunction[0, 0], ref.inertia_)
assert km.assignments.shape == (len(part), 1)
assert np.allclose(mom.variance, Xg.var(0, ddof=1))
assert np.allclose(lin.model.Beta, [[4.0, 1.0, 2.0, 3.0]])
assert np.allclose(pca.eigenvalues.ravel(), np.linalg.eigvalsh(np.corrcoef(Xg.T))[::-1])
if rank == 0:
    print("OK", size)
"""


@pytest.mark.serial
def test_script_at_four_ranks(tmp_path):
    from mpi_plugin import clean_env, mpiexec_path

    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.run(
        [mpiexec_path(), "-n", "4", sys.executable, str(script), str(tmp_path)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "OK 4" in proc.stdout
