"""beetles: automatic anatomical landmarks on 2D specimen photos.

A reproduction of Le Van Linh et al., "Deep Learning for landmarking on
morphometry anatomical images", on the paper's own stack (Theano, Lasagne,
nolearn), and a tool built on it.

Importing the package installs the compatibility layer of
:mod:`beetles.compat` (Theano flags and import shims) so that Theano 1.0.5,
Lasagne 0.1 and nolearn 0.6.1 import and run on Python 3.11.  It imports none
of them itself: ``import beetles`` stays fast.
"""
from beetles import compat as _compat

_compat.install()

__version__ = "0.1.0"
