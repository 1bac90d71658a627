# One training job per method x acceleration x seed. The checkpoint lives outside the rule's outputs, so
# Snakemake does not delete it when a job fails: rerunning a killed job resumes from its last epoch, and only
# then (a checkpoint is resumed only by a run of the same configuration, data and code that did not finish).


rule train:
    input:
        index=rules.extract.output.index,
        slices=rules.extract.output.slices,
        masks=get_mask_dir,
    output:
        model=results_path(MODEL),
        loss=results_path(LOSS),
        val=results_path(VAL),
    params:
        cfg=get_run_config,
        code=get_code_fingerprint("train.py"),
        extract_dir=lambda w, input: str(Path(input.index).parent),
        mask_root=lambda w, input: str(Path(input.masks).parent),
        checkpoint=lambda wc: results_path(result(CHECKPOINT, wc.method, wc.acc, wc.seed)),
    log:
        results_path(f"logs/train/{RUN_NAME}.log"),
    benchmark:
        results_path(f"benchmarks/train/{RUN_NAME}.tsv")
    threads: config["training"]["threads"]
    priority: get_train_priority
    resources:
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
        gpu=GPU,
        gpu_share=get_gpu_share,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/train.py"
