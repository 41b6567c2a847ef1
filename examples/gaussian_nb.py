"""Gaussian naive Bayes, fitted in one call and batch by batch.

    mpiexec -n 2 python examples/gaussian_nb.py

Each rank holds its own rows of the iris data set (150 flowers, three
species); the last rank has no virginica. ``fit`` learns the per-class means
and variances of all rows (merged over the ranks); ``partial_fit`` learns
the same from batches read one at a time, every rank taking part in every
batch. Rank 0 prints both models and the global accuracy.
"""

import numpy as np
from sklearn.datasets import load_iris

import skspmd
from skspmd import SPMDGaussianNB

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

data = load_iris()
X, y = data.data, data.target_names[data.target]
shuffled = np.random.default_rng(0).permutation(len(y))  # the same on every rank
rows = np.array_split(shuffled, size)[rank]
if size > 1 and rank == size - 1:
    rows = rows[y[rows] != "virginica"]
X_local, y_local = X[rows], y[rows]

nb = SPMDGaussianNB().fit(X_local, y_local)  # collective
accuracy = nb.score(X_local, y_local)  # collective

streamed = SPMDGaussianNB()
for batch in np.array_split(np.arange(len(y_local)), 3):  # three batches on every rank
    streamed.partial_fit(X_local[batch], y_local[batch], classes=data.target_names)

if rank == 0:
    print(f"{size} rank(s); classes {nb.classes_}; rows per class {nb.class_count_}")
    print("per-class means (theta_):")
    print(np.round(nb.theta_, 3))
    print("batch by batch, the same means:", np.allclose(streamed.theta_, nb.theta_))
    print(f"training accuracy {accuracy:.4f}")
