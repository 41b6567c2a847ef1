"""daal4py SPMD QR (file pattern "X_{}.csv"); rank 0 prints R and the largest |Q R - X|."""

import json
import os
import sys

import numpy as np

import daal4py as d4p

if __name__ == "__main__":
    d4p.daalinit()
    infile = os.path.join(sys.argv[1], "X_{}.csv".format(d4p.my_procid()))
    result = d4p.qr(distributed=True).compute(infile)
    data = np.loadtxt(infile, delimiter=",", ndmin=2)
    # largest |Q R - X| over every rank's rows, by a distributed maximum
    residual = np.abs(result.matrixQ @ result.matrixR - data).max(axis=1, keepdims=True)
    worst = d4p.low_order_moments(distributed=True).compute(residual).maximum
    if d4p.my_procid() == 0:
        print("QR_residual =", json.dumps(float(worst[0, 0])))
        print("matrixR =", json.dumps(result.matrixR.tolist()))
    d4p.daalfini()
