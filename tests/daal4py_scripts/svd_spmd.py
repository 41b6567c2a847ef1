"""daal4py SPMD SVD on NumPy arrays read per rank; rank 0 prints S, V and the largest |U S V - X|."""

import json
import os
import sys

import numpy as np

import daal4py as d4p

if __name__ == "__main__":
    d4p.daalinit()
    data = np.loadtxt(os.path.join(sys.argv[1], f"X_{d4p.my_procid()}.csv"), delimiter=",", ndmin=2)
    result = d4p.svd(distributed=True).compute(data)
    rebuilt = result.leftSingularMatrix * result.singularValues @ result.rightSingularMatrix
    # largest |U S V - X| over every rank's rows, by a distributed maximum
    residual = np.abs(rebuilt - data).max(axis=1, keepdims=True)
    worst = d4p.low_order_moments(distributed=True).compute(residual).maximum
    if d4p.my_procid() == 0:
        print("USV_residual =", json.dumps(float(worst[0, 0])))
        print("singularValues =", json.dumps(result.singularValues.tolist()))
        print("rightSingularMatrix =", json.dumps(result.rightSingularMatrix.tolist()))
    d4p.daalfini()
