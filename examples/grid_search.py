"""Grid search under MPI: global folds, global scores, the same best model on every rank.

    mpiexec -n 2 python examples/grid_search.py
"""

from sklearn.datasets import load_diabetes

import skspmd
from skspmd import SPMDRidge, SPMDStandardScaler
from skspmd.model_selection import GridSearchCV
from skspmd.pipeline import make_pipeline

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()

X_all, y_all = load_diabetes(return_X_y=True)
start, stop = skspmd.io.partition(len(X_all))  # this rank's rows
X, y = X_all[start:stop], y_all[start:stop]

search = GridSearchCV(
    make_pipeline(SPMDStandardScaler(), SPMDRidge()),
    {"spmdridge__alpha": [0.01, 0.1, 1.0, 10.0, 100.0]},
    cv=5,
    scoring="r2",
)
search.fit(X, y)  # collective
same = comm.allgather(repr(search.best_params_))
if rank == 0:
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        print(f"{params}: mean R^2 {score:.4f}")
    print("best:", search.best_params_, "same on every rank:", len(set(same)) == 1)
