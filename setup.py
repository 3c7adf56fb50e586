from setuptools import find_packages, setup

setup(
    name="numbarnn",
    version="0.1.0",
    description="Recurrent networks (RNN, LSTM, GRU) whose time loops are compiled by Numba",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["numbarnn", "numbarnn.*"]) + ["numbarnn_cli"],
    package_dir={"numbarnn_cli": "cli"},
    package_data={"numbarnn.forecast": ["data/*.csv"]},
    install_requires=[
        "numpy>=1.24",
        "numba>=0.59",
        "llvmlite",  # the CPU kernels' tile product and barrier are written in LLVM IR
        "scipy>=1.10",  # numba's np.dot inside @njit calls scipy's BLAS
        "click>=8.0",
        "safetensors>=0.4",
        "threadpoolctl>=3.0",  # `numbarnn info` reports the BLAS library and its threads
    ],
    extras_require={
        # distributed: the many-series and sweep tests run on a real local cluster
        # pandas: the DataFrame round trips (numbarnn.frames) and the README's pandas example;
        # pytest-xdist: the suite runs on two processes (numba compiles on both cores)
        "test": ["pytest>=7", "pytest-xdist", "hypothesis>=6", "dask[distributed]", "pandas"],
        "bench": ["asv>=0.6"],
        # numba-cuda with the CUDA runtime it compiles and links with (NVRTC, nvJitLink,
        # libdevice) as pip wheels: no system toolkit needed, only an NVIDIA driver.
        # The CUDA 12 wheels run on CUDA 12 and 13 drivers; cuda13 is for CUDA 13 setups.
        "cuda": ["numba-cuda[cu12]"],
        "cuda13": ["numba-cuda[cu13]"],
        "plot": ["matplotlib"],
        "dask": ["dask[distributed]"],
        "pandas": ["pandas"],
    },
    entry_points={"console_scripts": ["numbarnn=numbarnn_cli.main:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
