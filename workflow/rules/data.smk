# Data: synthetic CMRxRecon-format data (default), extraction to per-slice arrays, k-t masks. With
# data.measurements: acquired, the extraction reads the release's undersampled scans and writes their own masks.


rule synthetic_data:
    output:
        directory(results_path("synthetic/CMRxRecon")),
    params:
        synthetic=config["data"].get("synthetic"),
        frames=config["masks"]["frames"],
        acquired=ACCELERATIONS if ACQUIRED else [],  # also the release's AccFactorXX folders, of both sets
        code=get_code_fingerprint("synthetic_data.py"),
    log:
        results_path("logs/synthetic_data.log"),
    benchmark:
        results_path("benchmarks/synthetic_data.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/synthetic_data.py"


rule extract:
    input:
        get_synthetic_input,
    output:
        index=results_path(f"{EXTRACTION}/{INDEX}"),
        split=results_path(f"{EXTRACTION}/{SPLIT}"),
        slices=directory(results_path(f"{EXTRACTION}/{SLICES}")),
        masks=[directory(get_mask_folder(a)) for a in ACCELERATIONS] if ACQUIRED else [],
    params:
        root=get_data_root(),
        root_digest=get_path_digest(config["data"]["root"]) if config["data"]["source"] == "cmrxrecon" else None,
        lax_slices=config["data"]["lax_slices"],
        sax_slices=config["data"]["sax_slices"],
        train_fraction=config["data"]["train_fraction"],
        val_fraction=config["data"]["val_fraction"],
        seed=config["data"]["split_seed"],
        img_size=config["image_size"],
        crop=config["image_crop"],
        acquired={"set": config["data"]["set"], "accelerations": ACCELERATIONS, "frames": config["masks"]["frames"]}
        if ACQUIRED
        else None,
        code=get_code_fingerprint("extract.py"),
    log:
        results_path("logs/extract.log"),
    benchmark:
        results_path("benchmarks/extract.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/extract.py"


rule masks:
    input:
        index=rules.extract.output.index,
    output:
        directory(results_path(f"{MASKS}/{MASK_FOLDER_PREFIX}{{acc2}}")),
    params:
        seed=config["masks"]["seed"],
        frames=config["masks"]["frames"],
        import_dir=config["masks"]["import_dir"],
        import_digest=get_path_digest(config["masks"]["import_dir"]),
        code=get_code_fingerprint("masks.py"),
    log:
        results_path("logs/masks/acc{acc2}.log"),
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/masks.py"
