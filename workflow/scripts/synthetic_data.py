"""Write the synthetic CMRxRecon-format dataset (rule synthetic_data)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.data.synthetic import generate_cmrxrecon

cfg = snakemake.params.synthetic
files = generate_cmrxrecon(
    snakemake.output[0],
    n_patients=cfg["patients"],
    lax_shape=tuple(cfg["lax_shape"]),
    sax_shape=tuple(cfg["sax_shape"]),
    n_sax_slices=cfg["sax_slices"],
    frames=snakemake.params.frames,
    seed=cfg["seed"],
)
print(f"wrote {len(files)} files under {snakemake.output[0]}")
