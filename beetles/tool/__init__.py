"""The landmarking tool: what it reads, ``beetles train`` (model folders and
their validation), ``beetles predict`` (TPS, CSV, review list, overlays) and
``beetles evaluate`` (agreement of two landmark files)."""
