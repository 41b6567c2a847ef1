"""Low-order moments over every rank's rows (daal4py's low_order_moments job).

    mpiexec -n 2 python examples/basic_statistics.py
"""

import numpy as np

import skspmd
from skspmd import SPMDBasicStatistics

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()
# Each rank's rows have a different mean: the global variance includes that spread.
X = np.random.default_rng(rank).normal(loc=rank, scale=1.0, size=(10_000, 3))

stats = SPMDBasicStatistics().fit(X)
if rank == 0:
    print("rows      ", stats.n_samples_seen_)
    print("mean      ", stats.mean_)
    print("variance  ", stats.variance_)
    print("variation ", stats.variation_)
