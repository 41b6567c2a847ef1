"""daal4py SPMD covariance: a file name per rank built from my_procid(), rank 0 prints."""

import json
import os
import sys

from daal4py import covariance, daalfini, daalinit, my_procid

if __name__ == "__main__":
    daalinit()
    infile = os.path.join(sys.argv[1], "X_" + str(my_procid()) + ".csv")
    result = covariance(distributed=True).compute(infile)
    if my_procid() == 0:
        print("covariance =", json.dumps(result.covariance.tolist()))
        print("correlation =", json.dumps(result.correlation.tolist()))
        print("mean =", json.dumps(result.mean.tolist()))
    daalfini()
