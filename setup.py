"""Build the optional C kernels; all other metadata is in pyproject.toml.

``skspmd._ckernels`` (fused one-pass moments and group sums, the neighbour
searches' filters) is optional: if it cannot be compiled (no C compiler), the
install goes on and skspmd uses its NumPy kernels, which give the same results
(see ``skspmd/_kernels.py``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "skspmd._ckernels",
            ["skspmd/_ckernels.c", "skspmd/_cneighbors.c", "skspmd/_cknn.c"],
            depends=["skspmd/_ckernels.h"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
