"""daal4py SPMD low-order moments: each rank reads its own CSV file, rank 0 prints."""

import json
import os
import sys

import daal4py as d4p


def main(folder):
    # "X_{}.csv" + my_procid(): one file per rank
    algo = d4p.low_order_moments(distributed=True)
    return algo.compute(os.path.join(folder, "X_{}.csv"), d4p.my_procid())


if __name__ == "__main__":
    d4p.daalinit()
    result = main(sys.argv[1])
    if d4p.my_procid() == 0:
        for name in (
            "minimum",
            "maximum",
            "sum",
            "sumSquares",
            "sumSquaresCentered",
            "mean",
            "secondOrderRawMoment",
            "variance",
            "standardDeviation",
            "variation",
        ):
            print(name, "=", json.dumps(getattr(result, name).tolist()))
    d4p.daalfini()
