# Data: synthetic CMRxRecon-format data (default), extraction to per-slice arrays, k-t masks. With
# data.measurements: acquired, the extraction reads the release's undersampled scans and writes their own masks.


rule synthetic_data:
    output:
        directory(R("synthetic/CMRxRecon")),
    params:
        synthetic=config["data"].get("synthetic"),
        frames=config["masks"]["frames"],
        acquired=ACCELERATIONS if ACQUIRED else [],  # also the release's AccFactorXX folders, of both sets
        code=code("synthetic_data.py"),
    log:
        R("logs/synthetic_data.log"),
    benchmark:
        R("benchmarks/synthetic_data.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/synthetic_data.py"


rule extract:
    input:
        synthetic_input,
    output:
        index=R("extract/index.csv"),
        split=R("extract/split.csv"),
        slices=directory(R("extract/slices")),
        masks=[directory(mask_folder(a)) for a in ACCELERATIONS] if ACQUIRED else [],
    params:
        root=data_root(),
        root_digest=read_by_path(config["data"]["root"]) if config["data"]["source"] == "cmrxrecon" else None,
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
        code=code("extract.py"),
    log:
        R("logs/extract.log"),
    benchmark:
        R("benchmarks/extract.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/extract.py"


rule masks:
    input:
        index=R("extract/index.csv"),
    output:
        directory(R(f"masks/{MASK_FOLDER_PREFIX}{{acc2}}")),
    params:
        seed=config["masks"]["seed"],
        frames=config["masks"]["frames"],
        import_dir=config["masks"]["import_dir"],
        import_digest=read_by_path(config["masks"]["import_dir"]),
        code=code("masks.py"),
    log:
        R("logs/masks/acc{acc2}.log"),
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/ddei.yaml"
    script:
        "../scripts/masks.py"
