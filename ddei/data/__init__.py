"""Data: the synthetic dynamic cardiac phantom (:mod:`ddei.data.phantom`) and the synthetic CMRxRecon-format
dataset built from it (:mod:`ddei.data.synthetic`)."""
