"""Compatibility layer: Theano 1.0.5, Lasagne 0.1 and nolearn 0.6.1 on Python 3.11.

:func:`install` (run by :mod:`beetles.paper.nolearn` when it is imported, and
by ``beetles info``) imports none of those libraries; each shim below acts
only when the module it concerns is imported:

* ``THEANO_FLAGS``: Theano 1.0.5 probes BLAS via ``numpy.distutils``, which fails on
  NumPy 1.23; an explicit ``blas.ldflags`` skips the probe (``-lopenblas`` if the
  unversioned ``libopenblas.so`` of ``libopenblas-dev`` is on the linker path, else
  empty: NumPy's C-API BLAS), plus ``floatX=float32``, ``device=cpu`` and a compile
  cache in the user's cache dir.  Only if the user set no ``THEANO_FLAGS`` and
  Theano is not imported yet.
* ``collections.Iterable`` (removed in Python 3.10; nolearn 0.6.1 imports it): an
  alias of ``collections.abc.Iterable``.
* ``theano.tensor.signal.downsample`` (moved to ``pool`` in Theano 0.8, removed in
  0.9; Lasagne 0.1's pool layers call ``max_pool_2d``): forwards to ``pool_2d``.
* ``sklearn.cross_validation`` (removed in scikit-learn 0.20; nolearn's
  ``TrainSplit`` uses it): old-signature ``KFold(n, n_folds)`` and
  ``StratifiedKFold(y, n_folds)`` on ``sklearn.model_selection``.
  ``sklearn.grid_search`` (also 0.20; ``nolearn.grid_search``) re-exports
  the ``model_selection`` searches.
* ``NeuralNet.loss`` / ``X_tensor_type``: scikit-learn >= 0.24 ``get_params`` (so
  ``repr``) reads each ``__init__`` argument as an attribute and nolearn stores
  neither: a post-import hook on ``nolearn.lasagne.base`` gives them class defaults.
* Pickled ``NeuralNet`` objects import ``lasagne.layers.pool`` and
  ``nolearn.lasagne.base`` when loaded: import :mod:`beetles.paper.nolearn`
  (its :func:`~beetles.paper.nolearn.load_net`) before ``pickle.load``.
"""
from __future__ import annotations

import collections
import collections.abc
import importlib.machinery
import os
import sys
import time

_LIB_DIRS = ("/usr/local/lib", "/usr/lib", "/lib", "/usr/lib64", "/lib64")
_MULTIARCH = ("x86_64-linux-gnu", "aarch64-linux-gnu")
_flags_source = "not installed"


def linker_lib_dirs(environ=None) -> list[str]:
    """The directories where ``gcc -l`` looks for libraries (LIBRARY_PATH first)."""
    environ = os.environ if environ is None else environ
    dirs = [d for d in environ.get("LIBRARY_PATH", "").split(os.pathsep) if d]
    arches = [getattr(sys.implementation, "_multiarch", None), *_MULTIARCH]
    for arch in dict.fromkeys(a for a in arches if a):
        dirs += [f"/usr/local/lib/{arch}", f"/usr/lib/{arch}", f"/lib/{arch}"]
    return dirs + list(_LIB_DIRS)


def openblas_dev_present(lib_dirs=None) -> bool:
    """Whether the unversioned ``libopenblas.so`` that ``-lopenblas`` needs exists."""
    dirs = linker_lib_dirs() if lib_dirs is None else lib_dirs
    return any(os.path.exists(os.path.join(d, "libopenblas.so")) for d in dirs)


def theano_cache_dir(environ=None) -> str:
    """``$XDG_CACHE_HOME/beetles/theano`` (if absolute), else ``~/.cache/beetles/theano``."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "beetles", "theano")


def default_theano_flags(lib_dirs=None, environ=None) -> str:
    """The ``THEANO_FLAGS`` value that :func:`install` sets when the user set none."""
    blas = "-lopenblas" if openblas_dev_present(lib_dirs) else ""
    cache = theano_cache_dir(environ)
    if any(c in cache for c in ",#'\"\\"):  # Theano splits the flags with shlex
        cache = '"' + cache.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"floatX=float32,device=cpu,blas.ldflags={blas},base_compiledir={cache}"


def _max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode="max"):
    """Theano < 0.9 ``downsample.max_pool_2d``, as Lasagne 0.1 calls it."""
    from theano.tensor.signal import pool

    return pool.pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st,
                        pad=padding, mode=mode)


class _OldKFold:
    """scikit-learn < 0.20 ``KFold(n, n_folds)``: iterates over (train, test) indices."""

    _splitter = "KFold"

    def __init__(self, n, n_folds=3, shuffle=False, random_state=None, y=None):
        self.n, self.n_folds, self.y = int(n), int(n_folds), y
        self.shuffle, self.random_state = shuffle, random_state

    def __iter__(self):
        from sklearn import model_selection

        seed = self.random_state if self.shuffle else None  # new API refuses a seed unshuffled
        splitter = getattr(model_selection, self._splitter)(
            self.n_folds, shuffle=self.shuffle, random_state=seed)
        return iter(splitter.split(range(self.n), self.y))

    def __len__(self):
        return self.n_folds

    def __repr__(self):
        return f"{type(self).__name__}(n={self.n}, n_folds={self.n_folds}, shuffle={self.shuffle})"


class _OldStratifiedKFold(_OldKFold):
    """scikit-learn < 0.20 ``StratifiedKFold(y, n_folds)``, stratified on labels ``y``."""

    _splitter = "StratifiedKFold"

    def __init__(self, y, n_folds=3, shuffle=False, random_state=None):
        import numpy as np

        y = np.asarray(y)
        super().__init__(len(y), n_folds, shuffle, random_state, y=y)


def _search_classes():
    from sklearn import model_selection as ms

    return {name: getattr(ms, name) for name in
            ("GridSearchCV", "RandomizedSearchCV", "ParameterGrid", "ParameterSampler")}


#: Removed modules (name -> their attributes), provided only when really absent.
_SHIMS = {
    "theano.tensor.signal.downsample": lambda: {"max_pool_2d": _max_pool_2d},
    "sklearn.cross_validation": lambda: {"KFold": _OldKFold,
                                         "StratifiedKFold": _OldStratifiedKFold},
    "sklearn.grid_search": _search_classes,
}


def _fix_neuralnet(module):
    """Give ``NeuralNet`` the attributes scikit-learn's ``get_params`` reads."""
    cls = getattr(module, "NeuralNet", None)
    for name in ("loss", "X_tensor_type"):
        if cls is not None and not hasattr(cls, name):
            setattr(cls, name, None)


#: Real modules (name -> fix) fixed right after they execute.
_POST_IMPORT = {"nolearn.lasagne.base": _fix_neuralnet}


class _Loader:
    """Runs ``after(module)`` after the real loader (if any) executed the module."""

    def __init__(self, real, after):
        self._real, self._after = real, after

    def create_module(self, spec):
        return self._real.create_module(spec) if self._real else None

    def exec_module(self, module):
        if self._real:
            self._real.exec_module(module)
        self._after(module)

    def __getattr__(self, name):  # get_source, get_filename, ... of the real loader
        return getattr(self._real, name)


class _CompatFinder:
    """``sys.meta_path`` finder that provides :data:`_SHIMS` and applies :data:`_POST_IMPORT`."""

    _beetles_compat = True

    def _real_spec(self, fullname, path, target):
        for finder in sys.meta_path:
            spec = None
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def find_spec(self, fullname, path=None, target=None):
        if fullname in _SHIMS:
            if self._real_spec(fullname, path, target) is not None:
                return None
            fill = _SHIMS[fullname]
            return importlib.machinery.ModuleSpec(
                fullname, _Loader(None, lambda module: module.__dict__.update(fill())))
        if fullname in _POST_IMPORT:
            spec = self._real_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, _POST_IMPORT[fullname])
            return spec
        return None


def install() -> None:
    """Apply the shims (idempotent, cheap, imports none of the legacy libraries)."""
    global _flags_source
    if _flags_source == "not installed":
        if "theano" in sys.modules:
            _flags_source = "untouched: Theano was imported before beetles"
        elif "THEANO_FLAGS" in os.environ:
            _flags_source = "the user's THEANO_FLAGS"
        else:
            os.environ["THEANO_FLAGS"] = default_theano_flags()
            _flags_source = "set by beetles"
    if not hasattr(collections, "Iterable"):
        collections.Iterable = collections.abc.Iterable
    if not any(getattr(f, "_beetles_compat", False) for f in sys.meta_path):
        sys.meta_path.insert(0, _CompatFinder())
    for name, fix in _POST_IMPORT.items():  # imported before beetles was
        if name in sys.modules:
            fix(sys.modules[name])


def _compile_check() -> str:
    """Compile and run a float32 conv2d + ReLU with Theano's C linker; compare with NumPy."""
    import numpy as np
    import theano
    import theano.tensor as T

    if not theano.config.cxx:
        return "no: Theano found no C++ compiler"
    start = time.perf_counter()
    x, w = T.tensor4("x", dtype="float32"), T.tensor4("w", dtype="float32")
    mode = theano.compile.Mode(linker="c", optimizer="fast_run")
    f = theano.function([x, w], T.nnet.relu(T.nnet.conv2d(x, w)), mode=mode)
    rng = np.random.RandomState(0)
    xv = rng.randn(2, 3, 6, 6).astype("float32")
    wv = rng.randn(4, 3, 3, 3).astype("float32")
    got = f(xv, wv)
    windows = np.lib.stride_tricks.sliding_window_view(xv, (3, 3), axis=(2, 3))
    want = np.maximum(np.einsum("bchwuv,kcuv->bkhw", windows, wv[:, :, ::-1, ::-1]), 0)
    if got.dtype != np.float32 or not np.allclose(got, want, atol=1e-4):
        return f"no: result ({got.dtype}) differs from NumPy's"
    return f"yes ({time.perf_counter() - start:.1f} s)"


def _why(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines() or [""]
    return f"{type(exc).__name__}: {lines[0][:200]}"


def _safely(fn, prefix: str = "no: ") -> str:
    try:
        return fn()
    except Exception as exc:  # report, never raise
        return prefix + _why(exc)


def stack_report(check_compile: bool = True) -> dict[str, str]:
    """Versions of the stack and Theano's configuration, for ``beetles info``; never raises."""
    from beetles.core.versions import STACK, stack_versions

    install()
    report = {name: version or "not installed" for name, version in stack_versions().items()
              if name in ("python", "beetles", *STACK)}
    report["theano flags"] = _flags_source
    try:
        import theano

        cfg = theano.config
        report["device"], report["floatX"] = str(cfg.device), str(cfg.floatX)
        report["blas.ldflags"] = cfg.blas.ldflags or "(NumPy C-API BLAS)"
        report["base_compiledir"] = str(cfg.base_compiledir)
        report["cxx"] = cfg.cxx or "none: Theano needs a C compiler (install gcc/g++)"
    except Exception as exc:  # report, never raise
        hint = "; set blas.ldflags in THEANO_FLAGS" if "blas_opt_info" in str(exc) else ""
        report["theano"] += f" (import failed: {_why(exc)}{hint})"
    if check_compile:
        report["theano compiles"] = _safely(_compile_check)
    return report
