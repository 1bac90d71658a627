# Reconstruct every undersampled scan of a folder in the CMRxRecon layout (config `reconstruct`), one job per scan:
# `snakemake -n` lists each file it will write, and a rerun rewrites only the scans whose model, file or code
# changed. Outputs mirror the input tree: reconstruct/<model>/<set>/AccFactorXX/Pxxx/cine_<view>.{mat,gif}.


rule reconstruct:
    input:
        unpack(get_reconstruct_input),
    output:
        mat=R("reconstruct/{model}/{cmrset}/AccFactor{acc2}/{patient}/cine_{view}.mat"),
        gif=R("reconstruct/{model}/{cmrset}/AccFactor{acc2}/{patient}/cine_{view}.gif"),
    params:
        scan=get_scan,
        scan_digest=lambda wildcards: None if SYNTHETIC_SCANS else read_by_path(
            get_scan(wildcards), get_scan(wildcards).replace(".mat", "_mask.mat")
        ),
        external=lambda wildcards: RECON_METHOD in EXTERNAL,
        device=config["training"]["device"],
        code=code("reconstruct.py"),
    log:
        R("logs/reconstruct/{model}/{cmrset}/AccFactor{acc2}/{patient}_{view}.log"),
    benchmark:
        R("benchmarks/reconstruct/{model}/{cmrset}/AccFactor{acc2}/{patient}_{view}.tsv")
    threads: config["training"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPU,
        gpu_share=gpu_share,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/reconstruct.py"


rule reconstruct_figure:
    input:
        [path for path in reconstruct_outputs() if path.endswith(".gif")],
    output:
        report(
            R("figures/reconstructions.png"),
            caption="../report/reconstructions.rst",
            category="3. Reconstructions",
            labels={"figure": "reconstructed scans"},
        ),
    params:
        truth=config["reconstruct"]["set"] == "TrainingSet",
        code=code("reconstruct_figure.py"),
    log:
        R("logs/report/reconstruct_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/reconstruct_figure.py"
