"""daal4py SPMD linear regression: training over every rank's files, prediction on rank 0's."""

import json
import os
import sys

import daal4py as d4p


def main(folder):
    xs = os.path.join(folder, "X_{}.csv")
    ys = os.path.join(folder, "y_{}.csv")
    train = d4p.linear_regression_training(interceptFlag=True, distributed=True)
    model = train.compute(xs, ys, d4p.my_procid()).model
    predict = d4p.linear_regression_prediction()
    prediction = predict.compute(xs.format(d4p.my_procid()), model).prediction
    return model, prediction


if __name__ == "__main__":
    d4p.daalinit()
    model, prediction = main(sys.argv[1])
    if d4p.my_procid() == 0:
        print("Beta =", json.dumps(model.Beta.tolist()))
        print("prediction =", json.dumps(prediction.tolist()))
    d4p.daalfini()
