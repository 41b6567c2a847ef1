"""Distributed ridge regression with two targets and one penalty per target.

    mpiexec -n 2 python examples/ridge.py

Each rank generates its own rows; the 'cholesky' solver merges the centred
Gram matrix over the ranks, 'svd' goes through a distributed QR (TSQR). Both
give the same model on every rank.
"""

import numpy as np

import skspmd
from skspmd.linear_model import SPMDRidge

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()

rng = np.random.default_rng(100 + rank)  # each rank its own rows
X = rng.standard_normal((5_000, 4))
true_coef = np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 0.5, 0.5, 0.5]])
Y = X @ true_coef.T + np.array([1.0, -1.0]) + 0.2 * rng.standard_normal((5_000, 2))
weights = rng.uniform(0.5, 1.5, 5_000)

alpha = [1.0, 100.0]  # one penalty per target
chol = SPMDRidge(alpha=alpha).fit(X, Y, sample_weight=weights)  # collective
svd = SPMDRidge(alpha=alpha, solver="svd").fit(X, Y, sample_weight=weights)
r2 = chol.score(X, Y, sample_weight=weights)  # collective, global

if rank == 0:
    print(f"ranks: {comm.Get_size()}, solver_: {chol.solver_} and {svd.solver_}")
    print(f"coef_ (alpha={alpha}):\n{np.round(chol.coef_, 4)}")
    print(f"intercept_: {np.round(chol.intercept_, 4)}")
    print(f"max |cholesky - svd| coef difference: {np.abs(chol.coef_ - svd.coef_).max():.2e}")
    print(f"global weighted R^2: {r2:.6f}")
