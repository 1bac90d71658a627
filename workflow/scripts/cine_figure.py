"""Reconstruction video (GIF and its HTML viewer) and still frame with x-t profiles of one acceleration
(rule cine_figure)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _preamble import setup

setup(snakemake)

from ddei.provenance.records import check_records
from ddei.report.style import register

check_records([snakemake.input.metrics])  # all.csv as collect_metrics wrote it

register(**snakemake.params.catalogue)  # labels and colours of the variants and external models

from ddei.report.figures import cine_gif, cine_still, gif_html
from ddei.report.tables import read_metrics

acc, p, out = int(snakemake.wildcards.acc), snakemake.params, snakemake.output
files = dict(zip(p.methods, snakemake.input.recon))
metrics = read_metrics(snakemake.input.metrics)
key = cine_gif(files, out.gif, acc, metrics, p.seed)
gif_html(
    out.gif,
    out.html,
    f"×{acc} acceleration: test slice {key}",
    "Top: ground truth, zero-filled and each method's reconstruction (magnitude); bottom: |recon − GT| on one "
    "shared scale. Titles: the slice's PSNR.",
)
key, frame, row = cine_still(files, out.png, acc, metrics, p.seed, key=key)
print(f"slice {key}: GIF of every frame; still of frame {frame + 1}, x-t profile along row {row}")
