"""Reconstruct one undersampled scan with a trained model (rule reconstruct)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.io.files import die_with_parent

die_with_parent()  # a job whose snakemake is killed ends too

from ddei.io.layout import subsampled_key
from ddei.io.matlab import mat_shape
from ddei.methods.config import RunConfig
from ddei.runs.preparation import pick_device
from ddei.runs.reconstruction import load_reconstructor, reconstruct_scan

w, p = snakemake.wildcards, snakemake.params
device = pick_device(p.device)
frames = mat_shape(p.scan, subsampled_key(int(w.acc2)))[-1]
expected = (
    None if p.cfg is None else RunConfig.from_dict(p.cfg)
)  # the run's configuration: a foreign model is refused
reconstructor = load_reconstructor(snakemake.input.model, frames, device, p.external, expected, int(w.acc2))
cost = reconstruct_scan(reconstructor, p.scan, int(w.acc2), snakemake.output.mat, snakemake.output.gif)
print(f"{p.scan}: {cost['slices']} slices of {cost['shape'][:2]} (kx, ky), {cost['shape'][3]} frames, "
      f"{cost['seconds_per_slice']:.2f} s per slice on {device}")  # fmt: skip
