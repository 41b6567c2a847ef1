"""Distributed ridge with its penalty chosen by efficient leave-one-out.

    mpiexec -n 2 python examples/ridge_cv.py

SPMDRidgeCV merges the centred Gram matrix of every rank's rows, decomposes it
once, and computes every row's leave-one-out error for all 20 alphas in a
second local pass; the squared errors are summed over the ranks. With
alpha_per_target each target gets its own penalty. With cv=5 it runs the
project's SPMD grid search over SPMDRidge instead.
"""

import numpy as np

import skspmd
from skspmd.linear_model import SPMDRidgeCV

comm = skspmd.get_comm()
rank = comm.Get_rank()

rng = np.random.default_rng(200 + rank)  # each rank its own rows
X = rng.standard_normal((10_000, 30))
W = np.random.default_rng(0).standard_normal((30, 2))  # one truth: a seed shared by every rank
Y = X @ W + np.c_[0.5 * rng.standard_normal(10_000), 20.0 * rng.standard_normal(10_000)]

alphas = np.logspace(-3, 5, 20)
loo = SPMDRidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y)  # collective
kfold = SPMDRidgeCV(alphas=alphas, cv=5).fit(X, Y[:, 0])  # collective

if rank == 0:
    print(f"ranks: {comm.Get_size()}")
    print(f"leave-one-out alpha_ per target: {loo.alpha_}")
    print(f"best_score_ (negative mean squared LOO error): {np.round(loo.best_score_, 4)}")
    print(f"5-fold alpha_ for the first target: {kfold.alpha_:.4g}, "
          f"best_score_ (global R^2): {kfold.best_score_:.4f}")
