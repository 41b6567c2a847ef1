"""k-nearest-neighbour classification over training rows that stay on their ranks.

    mpiexec -n 2 python examples/kneighbors.py

Each rank holds its own slice of the digits' training rows and its own test
rows (rank 1 gets none, which is fine). ``fit`` keeps every rank's rows where
they are; ``predict``, ``kneighbors`` and ``score`` are collective: every rank
calls them, and the training blocks travel around the ranks. Rank 0 prints the
global accuracy and the global row numbers of its first test row's neighbours.
"""

import numpy as np
from sklearn.datasets import load_digits

import skspmd
from skspmd import SPMDKNeighborsClassifier

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

X, y = load_digits(return_X_y=True)
X_train, y_train, X_test, y_test = X[:1500], y[:1500], X[1500:], y[1500:]
train = np.array_split(np.arange(len(X_train)), size)[rank]  # this rank's training rows
owners = [r for r in range(size) if r != 1]  # rank 1 gets no test rows
test = np.array_split(np.arange(len(X_test)), len(owners))[owners.index(rank)] if rank != 1 else []

clf = SPMDKNeighborsClassifier(n_neighbors=5).fit(X_train[train], y_train[train])
predicted = clf.predict(X_test[test])  # collective; this rank's predictions
accuracy = clf.score(X_test[test], y_test[test])  # collective; the same everywhere
dist, ind = clf.kneighbors(X_test[test][:1])  # global indices of the neighbours

if rank == 0:
    print(f"{size} rank(s), {clf.n_samples_fit_} training rows, classes {clf.classes_}")
    print(f"test accuracy over all ranks: {accuracy:.4f}")
    print("first test row's neighbours (global rows):", ind[0], "labels", y_train[ind[0]])
