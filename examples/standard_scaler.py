"""Standardize features with global statistics; transform stays local.

    mpiexec -n 2 python examples/standard_scaler.py
"""

import numpy as np

import skspmd
from skspmd import SPMDStandardScaler

skspmd.abort_on_exception()  # an uncaught exception on any rank ends the whole job

comm = skspmd.get_comm()
rank = comm.Get_rank()
X = np.random.default_rng(rank).normal([100.0, -3.0], [15.0, 0.5], size=(5_000, 2))

scaler = SPMDStandardScaler()
for batch in np.array_split(X, 4):  # streaming: every partial_fit is collective
    scaler.partial_fit(batch)
X_scaled = scaler.transform(X)  # local
mean_sq = comm.allreduce((X_scaled**2).sum(axis=0)) / scaler.n_samples_seen_
if rank == 0:
    print("rows seen", scaler.n_samples_seen_)
    print("mean_    ", scaler.mean_)
    print("scale_   ", scaler.scale_)
    print("global mean of squares after scaling (should be 1):", mean_sq)
