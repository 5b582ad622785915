"""Build script: compiles every hlmm/_core/*.pyx into an extension module.

Set HLMM_EXT=book,ladder to build only the named modules (a fast loop while
developing one of them); by default every module is built.
"""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

only = {n for n in os.environ.get("HLMM_EXT", "").split(",") if n}
extensions = []
for path in sorted(glob.glob("hlmm/_core/*.pyx")):
    name = os.path.splitext(os.path.basename(path))[0]
    if only and name not in only:
        continue
    extensions.append(
        Extension(
            f"hlmm._core.{name}",
            [path],
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=["-O3"],
        )
    )

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    ),
)
