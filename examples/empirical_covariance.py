"""Covariance and correlation of data spread over the ranks.

    mpiexec -n 2 python examples/empirical_covariance.py
"""

import numpy as np

import skspmd
from skspmd import SPMDEmpiricalCovariance

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()
true_cov = np.array([[2.0, 0.8], [0.8, 1.0]])
X = np.random.default_rng(rank).multivariate_normal([0.0, 5.0], true_cov, size=20_000)

cov = SPMDEmpiricalCovariance().fit(X)
loglik = cov.score(X)  # collective: global average log-likelihood
if rank == 0:
    print("location   ", cov.location_)
    print("covariance \n", cov.covariance_, "\n(true)\n", true_cov)
    print("correlation\n", cov.correlation_)
    print("log-likelihood per row", loglik)
