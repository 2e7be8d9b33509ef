"""Tests of beetles.paper.compat: Theano flags, import shims, NeuralNet fixes, stack report."""
import collections
import collections.abc
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import beetles.paper.nolearn  # noqa: F401 - installs the compatibility layer
from beetles.paper import compat

HEAVY = ("theano", "lasagne", "nolearn", "sklearn")


def run_python(code, env=None, cwd=None):
    """Run ``code`` in a fresh interpreter; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def env_without_flags(**extra):
    env = {k: v for k, v in os.environ.items() if k != "THEANO_FLAGS"}
    env.update(extra)
    return env


def parse_flags(flags):
    return dict(item.split("=", 1) for item in flags.split(","))


# -- Theano flags -------------------------------------------------------------

def test_default_flags_without_openblas(tmp_path):
    flags = compat.default_theano_flags(lib_dirs=[str(tmp_path)],
                                        environ={"XDG_CACHE_HOME": "/x/cache"})
    assert parse_flags(flags) == {"floatX": "float32", "device": "cpu", "blas.ldflags": "",
                                  "base_compiledir": "/x/cache/beetles/theano"}


def test_openblas_needs_the_unversioned_library(tmp_path):
    (tmp_path / "libopenblas.so.0").write_bytes(b"")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "libopenblas.so").symlink_to(tmp_path / "missing.so")
    dirs = [str(tmp_path), str(tmp_path / "broken")]
    assert not compat.openblas_dev_present(dirs)
    (tmp_path / "libopenblas.so").symlink_to(tmp_path / "libopenblas.so.0")
    assert compat.openblas_dev_present(dirs)
    flags = parse_flags(compat.default_theano_flags(lib_dirs=dirs, environ={}))
    assert flags["blas.ldflags"] == "-lopenblas"


def test_linker_dirs_include_multiarch_and_library_path():
    dirs = compat.linker_lib_dirs({"LIBRARY_PATH": "/opt/a:/opt/b"})
    assert dirs[:2] == ["/opt/a", "/opt/b"]
    assert "/usr/lib/x86_64-linux-gnu" in dirs and "/usr/lib" in dirs


def test_cache_dir_falls_back_to_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = str(tmp_path / ".cache" / "beetles" / "theano")
    assert compat.theano_cache_dir({}) == expected
    assert compat.theano_cache_dir({"XDG_CACHE_HOME": "relative/dir"}) == expected


def test_cache_dir_with_comma_is_quoted_for_theano():
    from theano.configparser import parse_config_string

    flags = compat.default_theano_flags(lib_dirs=[], environ={"XDG_CACHE_HOME": '/a,b"c#d'})
    assert parse_config_string(flags)["base_compiledir"] == '/a,b"c#d/beetles/theano'


def test_import_beetles_is_light_and_the_papers_stack_sets_default_flags(tmp_path):
    proc = run_python("""
        import json, os, sys, time
        start = time.perf_counter()
        import beetles
        elapsed = time.perf_counter() - start
        import beetles.formats.tps, beetles.core.frames
        before = [[m for m in %r if m in sys.modules], os.environ.get("THEANO_FLAGS")]
        import beetles.paper.nolearn
        print(json.dumps([*before, [m for m in %r if m in sys.modules], os.environ["THEANO_FLAGS"], elapsed]))
    """ % (HEAVY, HEAVY), env=env_without_flags(XDG_CACHE_HOME=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    loaded, untouched, loaded_by_paper, flags, elapsed = json.loads(proc.stdout)
    assert loaded == [] and untouched is None  # reading a TPS file installs nothing of the paper's stack
    assert loaded_by_paper == []  # the paper's training module sets the flags, imports no Theano yet
    assert flags == compat.default_theano_flags(environ={"XDG_CACHE_HOME": str(tmp_path)})
    assert elapsed < 0.5


def test_user_theano_flags_are_left_alone(tmp_path):
    user = f"floatX=float64,blas.ldflags=,base_compiledir={tmp_path}"
    proc = run_python("""
        import json, os
        import beetles.paper.nolearn, beetles.paper.compat, theano
        print(json.dumps([os.environ["THEANO_FLAGS"], theano.config.floatX,
                          theano.config.base_compiledir,
                          beetles.paper.compat.stack_report(False)["theano flags"]]))
    """, env=env_without_flags(THEANO_FLAGS=user))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [user, "float64", str(tmp_path), "the user's THEANO_FLAGS"]


def test_flags_untouched_when_theano_was_imported_first():
    proc = run_python("""
        import os
        import theano
        del os.environ["THEANO_FLAGS"]
        import beetles.paper.compat
        report = beetles.paper.compat.stack_report(False)
        print(os.environ.get("THEANO_FLAGS"), "|", report["theano flags"])
    """, env=env_without_flags(THEANO_FLAGS="floatX=float32,blas.ldflags="))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None | untouched: Theano was imported before beetles"


# -- import shims -------------------------------------------------------------

def test_collections_iterable_alias():
    assert collections.Iterable is collections.abc.Iterable


def test_lasagne_layers_compute_like_numpy():
    import theano
    from lasagne import layers, nonlinearities
    from numpy.lib.stride_tricks import sliding_window_view as windows

    rng = np.random.RandomState(1)
    x = rng.randn(2, 3, 9, 9).astype("float32")
    inp = layers.InputLayer((None, 3, 9, 9))
    conv = layers.Conv2DLayer(inp, num_filters=4, filter_size=(3, 3),
                              nonlinearity=nonlinearities.rectify)
    pool = layers.MaxPool2DLayer(conv, pool_size=(3, 3), stride=(2, 2))
    pool2 = layers.MaxPool2DLayer(conv, pool_size=(2, 2))
    drop = layers.DropoutLayer(pool, p=0.5)
    dense = layers.DenseLayer(drop, num_units=5, nonlinearity=None)
    outs = layers.get_output([conv, pool, pool2, drop, dense], deterministic=True)
    noisy = layers.get_output(drop, deterministic=False)
    f = theano.function([inp.input_var], outs + [noisy])
    got_conv, got_pool, got_pool2, got_drop, got_dense, got_noisy = f(x)

    w, b = conv.W.get_value(), conv.b.get_value()
    want_conv = np.einsum("bchwuv,kcuv->bkhw", windows(x, (3, 3), axis=(2, 3)),
                          w[:, :, ::-1, ::-1]) + b[None, :, None, None]
    np.testing.assert_allclose(got_conv, np.maximum(want_conv, 0), rtol=1e-4, atol=1e-4)
    want_pool = windows(got_conv, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(4, 5))
    assert got_pool.shape == (2,) + pool.output_shape[1:] == (2, 4, 3, 3)
    np.testing.assert_array_equal(got_pool, want_pool)
    np.testing.assert_array_equal(got_pool2, got_conv[:, :, :6, :6].reshape(2, 4, 3, 2, 3, 2)
                                  .max(axis=(3, 5)))
    np.testing.assert_array_equal(got_drop, got_pool)
    kept = got_noisy != 0
    np.testing.assert_allclose(got_noisy[kept], 2 * got_pool[kept], rtol=1e-6)
    want_dense = got_pool.reshape(2, -1) @ dense.W.get_value() + dense.b.get_value()
    np.testing.assert_allclose(got_dense, want_dense, rtol=1e-4, atol=1e-5)


def test_downsample_shim_has_the_old_signature():
    import inspect

    from theano.tensor.signal import downsample

    params = list(inspect.signature(downsample.max_pool_2d).parameters)
    assert params == ["input", "ds", "ignore_border", "st", "padding", "mode"]


def test_kfold_gives_the_folds_nolearn_expects():
    from nolearn.lasagne import TrainSplit
    from sklearn.cross_validation import KFold, StratifiedKFold

    kf = KFold(9, round(1 / 0.4))  # TrainSplit(eval_size=0.4): round(2.5) == 2 folds
    folds = [(list(tr), list(te)) for tr, te in kf]
    assert len(kf) == 2 and folds[0] == ([5, 6, 7, 8], [0, 1, 2, 3, 4])
    assert folds[1] == ([0, 1, 2, 3, 4], [5, 6, 7, 8])

    class Net:
        regression = True

    X, y = np.arange(9.0)[:, None], np.arange(9.0)
    X_train, X_valid, y_train, y_valid = TrainSplit(eval_size=0.4)(X, y, Net())
    assert list(y_valid) == [0, 1, 2, 3, 4] and list(y_train) == [5, 6, 7, 8]

    labels = np.repeat([0, 1], 5)
    skf = StratifiedKFold(labels, 5)
    assert len(skf) == 5
    for _, test in skf:
        assert sorted(labels[test]) == [0, 1]
    Net.regression = False
    _, _, _, y_valid = TrainSplit(eval_size=0.2)(np.arange(10.0)[:, None], labels, Net())
    assert sorted(y_valid) == [0, 1]
    assert list(next(iter(KFold(6, 3, random_state=0)))[1]) == [0, 1]  # seed ignored unshuffled
    shuffled = [list(te) for _, te in KFold(6, 3, shuffle=True, random_state=0)]
    assert shuffled == [list(te) for _, te in KFold(6, 3, shuffle=True, random_state=0)]
    assert sorted(sum(shuffled, [])) == list(range(6)) and shuffled[0] != [0, 1]


def test_grid_search_shim():
    from sklearn import model_selection
    from sklearn.grid_search import GridSearchCV

    assert GridSearchCV is model_selection.GridSearchCV


# -- nolearn NeuralNet ---------------------------------------------------------

@pytest.fixture(scope="module")
def fitted_net():
    from lasagne import layers
    from lasagne.updates import nesterov_momentum
    from nolearn.lasagne import NeuralNet

    net = NeuralNet(
        layers=[("input", layers.InputLayer), ("conv", layers.Conv2DLayer),
                ("pool", layers.MaxPool2DLayer), ("out", layers.DenseLayer)],
        input_shape=(None, 1, 8, 8), conv_num_filters=2, conv_filter_size=(3, 3),
        pool_pool_size=(2, 2), out_num_units=4, out_nonlinearity=None,
        regression=True, update=nesterov_momentum, update_learning_rate=0.01,
        update_momentum=0.9, max_epochs=2, verbose=0)
    rng = np.random.RandomState(0)
    X = rng.rand(20, 1, 8, 8).astype("float32")
    net.fit(X, rng.rand(20, 4).astype("float32"))
    return net, X


def test_neuralnet_repr_and_get_params(fitted_net):
    net, _ = fitted_net
    params = net.get_params()
    assert params["loss"] is None and params["X_tensor_type"] is None
    assert params["conv_num_filters"] == 2 and params["max_epochs"] == 2
    text = repr(net)
    assert text.startswith("NeuralNet(") and "conv_num_filters=2" in text


def test_pickle_loads_in_a_fresh_process_after_importing_the_papers_stack(fitted_net, tmp_path):
    net, X = fitted_net
    (tmp_path / "net.pkl").write_bytes(pickle.dumps(net, protocol=pickle.HIGHEST_PROTOCOL))
    np.save(tmp_path / "X.npy", X)
    load = """
        import pickle, numpy as np
        net = pickle.loads(open("net.pkl", "rb").read())
        np.save("pred.npy", net.predict(np.load("X.npy")))
        assert net.get_params()["loss"] is None and repr(net).startswith("NeuralNet(")
    """
    proc = run_python("import beetles.paper.nolearn\n" + textwrap.dedent(load), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "pred.npy"), net.predict(X))
    # Without beetles, the pickle's lasagne.layers.pool cannot import its downsample.
    proc = run_python(load, cwd=tmp_path)
    assert proc.returncode != 0 and "downsample" in proc.stderr


# -- stack report ---------------------------------------------------------------

def test_stack_report_keys_and_compile_check():
    import numpy
    import theano

    report = compat.stack_report(check_compile=True)
    assert list(report) == [
        "python", "beetles", "numpy", "scipy", "scikit-learn", "pillow", "matplotlib", "theano",
        "lasagne", "nolearn", "tqdm", "torch", "theano flags", "device", "floatX", "blas.ldflags",
        "base_compiledir", "cxx", "theano compiles"]
    assert all(isinstance(v, str) for v in report.values())
    assert report["numpy"] == numpy.__version__ and report["theano"] == "1.0.5"
    assert report["floatX"] == "float32" and report["device"] == "cpu"
    assert report["blas.ldflags"] == (theano.config.blas.ldflags or "(NumPy C-API BLAS)")
    assert report["theano compiles"].startswith("yes ("), report["theano compiles"]
    assert "theano compiles" not in compat.stack_report(check_compile=False)


def test_stack_report_reports_failures_instead_of_raising(monkeypatch):
    import theano

    monkeypatch.setattr(theano.config, "cxx", "")
    report = compat.stack_report(check_compile=True)
    assert report["cxx"] == "none: Theano needs a C compiler (install gcc/g++)"
    assert report["theano compiles"].startswith("no: ")

    def broken():
        raise RuntimeError("gcc exploded\nmore lines")

    monkeypatch.setattr(compat, "_compile_check", broken)
    assert compat.stack_report(True)["theano compiles"] == "no: RuntimeError: gcc exploded"
