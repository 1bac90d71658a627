# One training job per method x acceleration x seed. The checkpoint lives outside the rule's outputs, so
# Snakemake does not delete it when a job fails: rerunning a killed job resumes from its last epoch, and only
# then (a checkpoint is resumed only by a run of the same configuration, data and code that did not finish).


rule train:
    input:
        index=R("extract/index.csv"),
        slices=R("extract/slices"),
        masks=mask_dir,
    output:
        model=R("models/{method}/acc{acc}/seed{seed}/model.pt"),
        loss=R("models/{method}/acc{acc}/seed{seed}/loss.csv"),
        val=R("models/{method}/acc{acc}/seed{seed}/val.csv"),
    params:
        cfg=run_config,
        code=code("train.py"),
        extract_dir=lambda w, input: str(Path(input.index).parent),
        mask_root=lambda w, input: str(Path(input.masks).parent),
        checkpoint=lambda wc: R(f"checkpoints/{wc.method}_acc{wc.acc}_seed{wc.seed}.pt"),
    log:
        R("logs/train/{method}_acc{acc}_seed{seed}.log"),
    benchmark:
        R("benchmarks/train/{method}_acc{acc}_seed{seed}.tsv")
    threads: config["training"]["threads"]
    resources:
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
        gpu=GPU,
        gpu_share=gpu_share,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/train.py"
