"""Installation of beetles: automatic anatomical landmarks on specimen photos.

The pins below are the versions of the paper's stack (Theano, Lasagne,
nolearn) that are known to install and work together on Python 3.11; see the
README, section "Why these versions".  Python 3.12 is not supported because
numpy 1.23.5 (the newest numpy that Theano 1.0.5 imports: it still has
``np.bool``) publishes no wheel for it.
"""
from setuptools import find_packages, setup

#: Exact versions; the Dockerfile and .ci/run install through this file, so
#: they cannot drift apart from it.
INSTALL_REQUIRES = [
    "numpy==1.23.5",
    "scipy==1.15.3",
    "scikit-learn==1.7.2",
    "pillow==13.0.0",
    "matplotlib==3.10.9",
    "Theano==1.0.5",
    "Lasagne==0.1",
    "nolearn==0.6.1",
    "tqdm==4.70.1",
    # Where an installed beetles keeps its synthetic default dataset (the user's data folder).
    "platformdirs==4.14.9",
    # Lasagne 0.1 imports pkg_resources, which setuptools 81 removed; PyTorch
    # 2.13 (the optional engine, in the "torch" and "test" extras) needs
    # setuptools >= 77.0.3: 80.9.0 satisfies both.
    "setuptools==80.9.0",
    # beetles review: the web framework and the server that runs it.
    "starlette==1.10.0",
    "uvicorn==0.54.0",
    # One writer at a time for a model folder or an output file (beetles.core.locks).
    "filelock==4.3.1",
]

#: The PyTorch engine's pin (the CUDA image installs the same version).
TORCH = "torch==2.13.0"
#: The pose-estimation formats' library (beetles convert).
SLEAP_IO = "sleap-io==0.9.5"
#: Rounds on a cluster (experiments' --ray); 2.60.0 installs beside numpy 1.23.5.
RAY = "ray==2.60.0"

setup(
    name="beetles",
    version="0.2.0",
    description=(
        "Automatic anatomical landmarks on 2D specimen photos: a reproduction "
        "of Le Van Linh et al., 'Deep Learning for landmarking on morphometry "
        "anatomical images', on the paper's own stack"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["beetles", "beetles.*"]),
    # The authors' published landmarks travel with the package (beetles tables, the shape models).
    package_data={"beetles.paper": ["published/*.tps", "published/*.csv", "published/README.md"],
                  # the review page: its HTML, script and style ship with the package (no CDN)
                  "beetles.tool.review": ["static/*.html", "static/*.js", "static/*.css"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    # The PyTorch engine (beetles/torch_engine.py) is optional: `.[torch]`.
    # The tests prove it computes what the Theano engine computes, so the
    # "test" extra installs it too (CPU wheel; see Dockerfile.gpu for CUDA).
    # pytest-xdist runs the tests on every core (pytest.ini: -n auto); httpx2 is what
    # Starlette's test client drives the review server's API with; Selenium drives
    # the system's Chromium (Debian's chromium and chromium-driver) in the browser tests.
    # sleap-io (the "formats" extra) reads and writes SLEAP, COCO and DeepLabCut files for
    # beetles convert and predict --format slp|coco; 0.9.5 installs beside numpy 1.23.5.
    # The test extra adds the independent TPS readers the format tests round-trip through:
    # py-tps, and ktch 0.8.1 (the newest that installs beside numpy 1.23.5) with pyarrow 17
    # (pyarrow 18 and later need NumPy 2; scikit-learn imports pyarrow when it is there), and
    # hypothesis for the property-based tests of the landmark readers (tests/hostile/).
    # Ray (the "ray" extra) runs rounds on a cluster: experiments' --ray (beetles/studies/parallel.py).
    extras_require={"torch": [TORCH], "formats": [SLEAP_IO], "ray": [RAY],
                    "test": ["pytest==9.2.0", "pytest-xdist==3.8.0", "httpx2==2.16.2", "selenium==4.51.0", TORCH,
                             SLEAP_IO, "py-tps==0.1.7", "ktch==0.8.1", "pyarrow==17.0.0",
                             "hypothesis==6.170.17", RAY]},
    entry_points={"console_scripts": ["beetles = beetles.cli:run"]},
    license="GPL-3.0-or-later",
)
