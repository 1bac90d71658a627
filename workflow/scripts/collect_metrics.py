"""Concatenate every per-run metrics table (rule collect_metrics)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

import pandas as pd

df = pd.concat([pd.read_csv(f, dtype={"patient": str}) for f in snakemake.input], ignore_index=True)
df.to_csv(snakemake.output[0], index=False)
print(df.groupby(["method", "acceleration"])[["psnr", "ssim", "nmse"]].mean().to_string())
