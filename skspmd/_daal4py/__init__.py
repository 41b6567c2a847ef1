"""Private implementation of :mod:`skspmd.daal4py` (re-exported there)."""
