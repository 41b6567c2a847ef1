"""daal4py SPMD ridge regression (one penalty per response); rank 0 prints the model."""

import json
import os
import sys

import numpy as np

import daal4py as d4p

if __name__ == "__main__":
    d4p.daalinit()
    folder, me = sys.argv[1], d4p.my_procid()
    X = np.loadtxt(os.path.join(folder, f"X_{me}.csv"), delimiter=",", ndmin=2)
    Y = np.loadtxt(os.path.join(folder, f"y_{me}.csv"), delimiter=",", ndmin=2)
    train = d4p.ridge_regression_training(
        ridgeParameters=np.array([[1.5, 20.0]]), interceptFlag=True, distributed=True
    )
    model = train.compute(X, Y).model
    prediction = d4p.ridge_regression_prediction().compute(X, model).prediction
    if me == 0:
        print("Beta =", json.dumps(model.Beta.tolist()))
        print("prediction =", json.dumps(prediction.tolist()))
    d4p.daalfini()
