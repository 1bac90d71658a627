"""Extract the selected slices to per-slice arrays and write the patient split (rule extract)."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.data.extract import extract

p = snakemake.params
index = extract(
    p.root,
    Path(snakemake.output.index).parent,
    lax_slices=p.lax_slices,
    sax_slices=p.sax_slices,
    train_fraction=p.train_fraction,
    val_fraction=p.val_fraction,
    seed=p.seed,
    img_size=tuple(p.img_size),
    crop=p.crop,
)
print(index.groupby(["split", "view"]).size().to_string())
