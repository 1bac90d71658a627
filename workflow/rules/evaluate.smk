# Evaluation of every trained model and of the zero-filled baseline on the test split.


rule evaluate:
    input:
        unpack(model_input),
        index=R("extract/index.csv"),
        slices=R("extract/slices"),
        masks=mask_dir,
    output:
        metrics=R("metrics/{method}/acc{acc}/seed{seed}.csv"),
        recon=R("recon/{method}/acc{acc}/seed{seed}.npz"),
    params:
        cfg=run_config,
        code=code("evaluate.py"),
        precision=config["evaluation"]["precision"],
        extract_dir=lambda w, input: str(Path(input.index).parent),
        mask_root=lambda w, input: str(Path(input.masks).parent),
        save_recon=config["evaluation"]["save_recon"],
    log:
        R("logs/evaluate/{method}_acc{acc}_seed{seed}.log"),
    benchmark:
        R("benchmarks/evaluate/{method}_acc{acc}_seed{seed}.tsv")
    threads: config["training"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
        gpu_share=gpu_share,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/evaluate.py"


rule collect_metrics:
    input:
        metric_files(),
    output:
        R("metrics/all.csv"),
    params:
        code=code("collect_metrics.py"),
    log:
        R("logs/collect_metrics.log"),
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/collect_metrics.py"
