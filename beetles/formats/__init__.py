"""Landmark file formats, each a ``read_…`` / ``write_…`` pair around
:class:`~beetles.core.specimen.Specimen`:

* :mod:`beetles.formats.tps`: TPS as tpsDig writes it (y up);
* :mod:`beetles.formats.landmark_csv`: the original study's wide CSV
  (``x1,y1,…,Image``, y down) and a plain long CSV (``image,landmark,x,y``,
  y down, 1-based landmark);
* :mod:`beetles.formats.published`: the authors' published result files;
* :mod:`beetles.formats.dataset`: part folders (``images/`` and
  ``landmarks.tps``) and datasets of them, loaded and checked;
* :mod:`beetles.formats.results`: the CSV tables of results.
"""
from beetles.formats.landmark_csv import read_long_csv, read_study_csv, write_long_csv, write_study_csv
from beetles.formats.tps import TpsRecord, read_tps, read_tps_records, write_tps

__all__ = [
    "TpsRecord",
    "read_tps",
    "read_tps_records",
    "write_tps",
    "read_study_csv",
    "write_study_csv",
    "read_long_csv",
    "write_long_csv",
]
