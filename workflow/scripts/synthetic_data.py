"""Write the synthetic CMRxRecon-format dataset (rule synthetic_data)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.data.synthetic import generate_cmrxrecon

cfg = snakemake.params.synthetic
common = dict(n_patients=cfg["patients"], lax_shape=tuple(cfg["lax_shape"]), sax_shape=tuple(cfg["sax_shape"]),
              n_sax_slices=cfg["sax_slices"], frames=snakemake.params.frames, seed=cfg["seed"])  # fmt: skip
files = generate_cmrxrecon(snakemake.output[0], accelerations=snakemake.params.acquired, **common)
if snakemake.params.acquired:  # the ValidationSet too: other patients, undersampled only
    files += generate_cmrxrecon(
        snakemake.output[0], accelerations=snakemake.params.acquired, cmr_set="ValidationSet", **common
    )
print(f"wrote {len(files)} files under {snakemake.output[0]}")
