"""Multinomial logistic regression on rows spread across the ranks.

    mpiexec -n 2 python examples/logistic_regression.py

Each rank holds its own rows of the digits data set (1,797 8x8 images, ten
classes), sorted by label so that no rank sees every class. A pipeline of
SPMDStandardScaler and SPMDLogisticRegression is fitted over all the rows
(collective); the model is the one scikit-learn fits on all rows. Rank 0
prints it and the global accuracy; every rank predicts its own rows.
"""

import numpy as np
from sklearn.datasets import load_digits

import skspmd
from skspmd import SPMDLogisticRegression, SPMDStandardScaler
from skspmd.pipeline import make_pipeline

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

X, y = load_digits(return_X_y=True)
order = np.argsort(y, kind="stable")  # rank 0 gets the low digits, the last rank the high ones
mine = np.array_split(order, size)[rank]
X_local, y_local = X[mine], y[mine]

model = make_pipeline(SPMDStandardScaler(), SPMDLogisticRegression(C=0.5, max_iter=1000))
model.fit(X_local, y_local)  # collective
accuracy = model.score(X_local, y_local)  # collective: accuracy over every rank's rows
proba = model.predict_proba(X_local[:2])  # local

clf = model[-1]
seen = comm.gather(np.unique(y_local).tolist(), root=0)  # tiny: for printing only
if rank == 0:
    for r, digits in enumerate(seen):
        print(f"rank {r} holds digits {digits}")
    print(f"{size} rank(s); classes {clf.classes_}; {clf.n_iter_[0]} L-BFGS iterations")
    print(f"coef_ {clf.coef_.shape}, intercept_ {np.round(clf.intercept_, 2)}")
    print(f"training accuracy {accuracy:.4f}; P(first row) = {np.round(proba[0], 3)}")
