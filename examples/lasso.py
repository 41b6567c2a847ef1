"""Distributed lasso and elastic net: the penalty path cross-validated from one pass.

    mpiexec -n 2 python examples/lasso.py

Each rank generates its own rows of a problem with 50 features of which 5 matter.
SPMDLassoCV reads every rank's rows once (each fold's merged Gram matrix and
X^T y), cross-validates 100 alphas on 5 folds without touching the data again,
and refits on all rows; SPMDElasticNet then fits one penalty directly. Every
rank holds the same model.
"""

import numpy as np

import skspmd
from skspmd.linear_model import SPMDElasticNet, SPMDLassoCV

comm = skspmd.get_comm()
rank = comm.Get_rank()

n_features = 50
true_coef = np.zeros(n_features)
true_coef[[3, 11, 20, 31, 47]] = [2.0, -1.5, 1.0, 3.0, -2.5]
rng = np.random.default_rng(100 + rank)  # each rank its own rows
X = rng.standard_normal((20_000, n_features))
y = X @ true_coef + 1.0 + 0.5 * rng.standard_normal(20_000)

lasso = SPMDLassoCV(cv=5).fit(X, y)  # collective: one pass over the rows
enet = SPMDElasticNet(alpha=lasso.alpha_, l1_ratio=0.5).fit(X, y)  # collective
r2 = lasso.score(X, y)  # collective, global

if rank == 0:
    print(f"ranks: {comm.Get_size()}, alpha_ chosen from {lasso.alphas_.size} alphas: "
          f"{lasso.alpha_:.4g}")
    print(f"mse_path_ shape (alphas, folds): {lasso.mse_path_.shape}")
    print(f"non-zero lasso coefficients: {np.flatnonzero(lasso.coef_).tolist()}")
    print(f"their values: {np.round(lasso.coef_[lasso.coef_ != 0], 3).tolist()}")
    print(f"elastic net non-zeros at the same alpha: {np.count_nonzero(enet.coef_)}, "
          f"n_iter_={enet.n_iter_}")
    print(f"global R^2: {r2:.4f}")
