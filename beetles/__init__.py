"""beetles: automatic anatomical landmarks on 2D specimen photos.

Three products in one package, each a sub-package over a shared core:

* :mod:`beetles.core` and :mod:`beetles.formats`: the data model (specimens,
  coordinate frames, photos, metrics) and the landmark file formats;
* :mod:`beetles.paper`: the reproduction of Le Van Linh et al., "Deep
  Learning for landmarking on morphometry anatomical images" (models 1-3 on
  Theano, Lasagne and nolearn, and the same networks on PyTorch), with the
  cross-validation studies of :mod:`beetles.studies`;
* :mod:`beetles.compact`: compact landmark models that learn in CPU minutes;
* :mod:`beetles.tool`: the landmarking tool (``beetles train``, ``predict``,
  ``evaluate``); :mod:`beetles.synth` draws synthetic beetles.

Every model is registered once in :mod:`beetles.registry` and used through
the interface of :mod:`beetles.model`; :mod:`beetles.cli` holds every
command-line option.  ``import beetles`` imports nothing heavy: the Theano
compatibility layer is installed by :mod:`beetles.paper.nolearn`, when the
paper's stack is used.  See ``docs/architecture.md``.
"""

__version__ = "0.2.0"
