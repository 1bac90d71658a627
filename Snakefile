# DDEI reproduction: fully unsupervised dynamic MRI reconstruction via diffeo-temporal equivariance
# (Wang & Davies, ISBI 2025). `snakemake --cores N` runs the default (small, synthetic) configuration;
# `snakemake --cores N --configfile config/paper.yaml` the paper's.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/reconstruct.smk"


onstart:
    write_stamp(results_path(), STAMP)  # the results folder is this checkout's (common.smk)


rule all:
    input:
        get_all_outputs(rules),
    default_target: True
