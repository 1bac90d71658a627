# Evaluation of every trained model and of the zero-filled baseline on the test split.


rule evaluate:
    input:
        unpack(get_model_input),
        index=rules.extract.output.index,
        slices=rules.extract.output.slices,
        masks=get_mask_dir,
    output:
        metrics=results_path(METRICS),
        record=str(record_path(results_path(METRICS))),  # its checksum, checked by collect_metrics
        recon=results_path(RECON),
    params:
        cfg=get_run_config,
        code=get_code_fingerprint("evaluate.py"),
        precision=config["evaluation"]["precision"],
        extract_dir=lambda w, input: str(Path(input.index).parent),
        mask_root=lambda w, input: str(Path(input.masks).parent),
        save_recon=config["evaluation"]["save_recon"],
    log:
        results_path(f"logs/evaluate/{RUN_NAME}.log"),
    benchmark:
        results_path(f"benchmarks/evaluate/{RUN_NAME}.tsv")
    threads: config["training"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
        gpu_share=get_gpu_share,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/evaluate.py"


rule collect_metrics:
    input:
        metrics=get_metric_files(),
        records=[str(record_path(path)) for path in get_metric_files()],
    output:
        results_path(ALL_METRICS),
        record=ALL_METRICS_RECORD,  # its checksum, checked by the tables and figures
    params:
        code=get_code_fingerprint("collect_metrics.py"),
    log:
        results_path("logs/collect_metrics.log"),
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/collect_metrics.py"
