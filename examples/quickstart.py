"""The README's main job: a distributed pipeline on data every rank makes itself.

    mpiexec -n 4 python examples/quickstart.py

Each rank generates its own rows (a slice of one global data set), fits a
standard scaler and the statistics estimators collectively, checks that every
rank holds the same model, and rank 0 prints what was learned.
"""

import numpy as np
from sklearn.pipeline import make_pipeline

import skspmd
from skspmd import SPMDBasicStatistics, SPMDEmpiricalCovariance, SPMDStandardScaler

comm = skspmd.get_comm()
rank, size = comm.Get_rank(), comm.Get_size()

# One global data set of 100,000 rows; this rank takes its contiguous block.
n_rows, n_features = 100_000, 5
start, stop = skspmd.io.partition(n_rows)
rng = np.random.default_rng(rank)  # each rank's rows are its own
true_mean = np.array([1.0, -2.0, 0.5, 10.0, 0.0])
true_std = np.array([1.0, 3.0, 0.1, 2.0, 5.0])
X = true_mean + true_std * rng.standard_normal((stop - start, n_features))

stats = SPMDBasicStatistics().fit(X)  # collective
pipe = make_pipeline(SPMDStandardScaler(), SPMDEmpiricalCovariance()).fit(X)  # collective
scaled = pipe[0].transform(X)  # local: this rank's rows only

same = comm.allgather(pipe[-1].covariance_.tobytes())
if rank == 0:
    np.set_printoptions(precision=3, suppress=True)
    print(f"skspmd {skspmd.__version__}: {size} rank(s), {stats.n_samples_seen_} rows in total")
    print("mean      ", stats.mean_, " (true", true_mean, ")")
    print("std       ", stats.standard_deviation_, " (true", true_std, ")")
    print("min / max ", stats.min_, "/", stats.max_)
    print("scaler std", pipe[0].scale_)
    print("covariance of the scaled data (close to identity):")
    print(pipe[-1].covariance_)
    print("model identical on every rank:", len(set(same)) == 1)
