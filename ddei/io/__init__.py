"""File formats and file layout: MATLAB ``.mat`` files (:mod:`ddei.io.matlab`, v7.3/HDF5 and older, in MATLAB axis
order), the mask files (:mod:`ddei.io.maskfiles`), atomic folders and manifests (:mod:`ddei.io.folders`,
:mod:`ddei.io.files`), and where every file lives (:mod:`ddei.io.layout`).

This package's ``__init__`` imports nothing, so that a light module (:mod:`ddei.io.layout`, :mod:`ddei.io.files`,
read when the workflow parses the Snakefile, and by the report's code) does not import h5py or scipy.
"""
