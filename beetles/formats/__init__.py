"""Landmark file formats, each a ``read_…`` / ``write_…`` pair around
:class:`~beetles.specimen.Specimen`:

* :mod:`beetles.formats.tps`: TPS as tpsDig writes it (y up);
* :mod:`beetles.formats.tables`: the original study's wide CSV
  (``x1,y1,…,Image``, y down) and a plain long CSV (``image,landmark,x,y``,
  y down, 1-based landmark);
* :mod:`beetles.formats.published`: the authors' published result files.
"""
from beetles.formats.tables import read_long_csv, read_study_csv, write_long_csv, write_study_csv
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
