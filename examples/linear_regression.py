"""Distributed ordinary least squares: every rank fits on its own rows.

    mpiexec -n 2 python examples/linear_regression.py

Each rank generates its own rows of y = X @ [1.5, -2, 0.5] + 4 + noise; ``fit``
is collective and leaves the same model on every rank; ``predict`` is local and
``score`` is the R^2 over every rank's rows.
"""

import numpy as np

import skspmd
from skspmd.linear_model import SPMDLinearRegression

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

rng = np.random.default_rng(rank)  # each rank its own rows
n_local = 10_000 + 1_000 * rank  # uneven on purpose
X = rng.standard_normal((n_local, 3))
y = X @ np.array([1.5, -2.0, 0.5]) + 4.0 + 0.1 * rng.standard_normal(n_local)

model = SPMDLinearRegression().fit(X, y)  # collective
r2 = model.score(X, y)  # collective: the same value on every rank
y_pred = model.predict(X[:3])  # local
n_total = comm.allreduce(n_local)

if rank == 0:
    print(f"ranks: {size}, rows over all ranks: {n_total}")
    print(f"coef_: {np.round(model.coef_, 4)}  (true [ 1.5 -2.   0.5])")
    print(f"intercept_: {model.intercept_:.4f}  (true 4.0)")
    print(f"rank_: {model.rank_}, singular_: {np.round(model.singular_, 1)}")
    print(f"global R^2: {r2:.6f}")
    print(f"predictions for rank 0's first rows: {np.round(y_pred, 3)}")
