"""Generate (or import and check) the k-t masks of one acceleration (rule masks)."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.mri.masks import write_mask_folder

acc = int(snakemake.wildcards.acc2)
p = snakemake.params
write_mask_folder(
    snakemake.input.index,
    Path(snakemake.output[0]).parent,
    acc,
    seed=p.seed,
    frames=p.frames,
    import_dir=p.import_dir,
)
