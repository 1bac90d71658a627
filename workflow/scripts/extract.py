"""Extract the selected slices to per-slice arrays and write the patient split (rule extract)."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

p = snakemake.params
common = dict(lax_slices=p.lax_slices, sax_slices=p.sax_slices, train_fraction=p.train_fraction,
              val_fraction=p.val_fraction, seed=p.seed, img_size=tuple(p.img_size))  # fmt: skip
if p.acquired is None:
    from ddei.data.extract import extract

    index = extract(p.root, Path(snakemake.output.index).parent, crop=p.crop, **common)
else:
    from ddei.data.acquired import extract_acquired

    index = extract_acquired(
        p.root,
        Path(snakemake.output.index).parent,
        Path(snakemake.output.masks[0]).parent,
        cmr_set=p.acquired["set"],
        accelerations=p.acquired["accelerations"],
        frames=p.acquired["frames"],
        **common,
    )
print(index.groupby(["split", "view"]).size().to_string())
