"""Extract the selected slices to per-slice arrays and write the patient split (rule extract)."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.data.extract import Selection

p = snakemake.params
selection = Selection(p.lax_slices, p.sax_slices, p.train_fraction, p.val_fraction, p.seed, tuple(p.img_size))
if p.acquired is None:
    from ddei.data.extract import extract

    index = extract(p.root, Path(snakemake.output.index).parent, selection, crop=p.crop)
else:
    from ddei.data.acquired import extract_acquired

    index = extract_acquired(
        p.root,
        Path(snakemake.output.index).parent,
        Path(snakemake.output.masks[0]).parent,
        cmr_set=p.acquired["set"],
        accelerations=p.acquired["accelerations"],
        selection=selection,
        frames=p.acquired["frames"],
    )
print(index.groupby(["split", "view"]).size().to_string())
