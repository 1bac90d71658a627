# Reconstruct every undersampled scan of a folder in the CMRxRecon layout (config `reconstruct`), one job per scan:
# `snakemake -n` lists each file it will write, and a rerun rewrites only the scans whose model, file or code
# changed. Outputs mirror the input tree: reconstruct/<model>/<set>/AccFactorXX/Pxxx/cine_<view>.{mat,gif}.


rule reconstruct:
    input:
        unpack(get_reconstruct_input),
    output:
        mat=results_path(f"{RECONSTRUCTION}.mat"),
        gif=results_path(f"{RECONSTRUCTION}.gif"),
    params:
        scan=get_scan,
        scan_digest=lambda wildcards: None if SYNTHETIC_SCANS else get_path_digest(
            get_scan(wildcards), get_scan(wildcards).replace(".mat", "_mask.mat")
        ),
        external=lambda wildcards: RECON_METHOD in EXTERNAL,
        # what the model must have been trained with (None: an external model), checked as evaluate checks it
        cfg=lambda wildcards: None if RECON_METHOD in EXTERNAL else method_config(config, RECON_METHOD),
        device=config["training"]["device"],
        code=get_code_fingerprint("reconstruct.py"),
    log:
        results_path(f"logs/{RECONSTRUCTION}.log"),
    benchmark:
        results_path(f"benchmarks/{RECONSTRUCTION}.tsv")
    threads: config["training"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPU,
        gpu_share=get_gpu_share,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/reconstruct.py"


rule reconstruct_figure:
    input:
        [path for path in get_reconstruct_outputs() if path.endswith(".gif")],
    output:
        report(
            results_path("figures/reconstructions.png"),
            caption="../report/reconstructions.rst",
            category="3. Reconstructions",
            labels={"figure": "reconstructed scans"},
        ),
    params:
        truth=config["reconstruct"]["set"] == "TrainingSet",
        code=get_code_fingerprint("reconstruct_figure.py"),
    log:
        results_path("logs/report/reconstruct_figure.log"),
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/reconstruct_figure.py"
