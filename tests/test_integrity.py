"""Integrity of every artifact (issue 15): each case of "What does not hold", reproduced.

1. a checkpoint corrupted in place is reported and training starts afresh; a corrupted ``model.pt`` is refused
   by the evaluation; non-finite weights are refused at save and at load;
2. a truncated or overwritten slice or mask is named, with the command that rebuilds it, by its readers and by
   the workflow's planning;
3. a non-finite loss names the batch's slices and whether their input or the network went non-finite;
4. a results folder of another checkout is refused unless sharing is asked for;
5. impossible settings are refused before any job runs (or, for the real data, before the job writes anything);
6. a full disk says so, with the path, and leaves nothing;
7. the README says what to do when something goes wrong.
"""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import errno
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_training import IMG, _Killer, _run
from test_workflow import REPO, snakemake, tiny_config

from ddei.data.dataset import CineSliceDataset
from ddei.data.extract import ImageSizeError, Selection, extract
from ddei.io.files import CorruptFileError, DiskFullError, LockedError, atomic_write, file_record, warn
from ddei.methods.config import ConfigError, check_config
from ddei.mri.masks import AccelerationError, gaussian_kt_mask, write_mask_folder
from ddei.mri.sampling import check_acceleration
from ddei.provenance.integrity import ForeignResultsError, check_stamp, make_stamp, write_stamp
from ddei.runs.training import NonFiniteLossError
from ddei.runs.weights import NonFiniteWeightsError, load_state, save_state


@pytest.fixture
def dataset(extracted):
    return CineSliceDataset(extracted, "train", extracted.parent / "masks", 4, img_size=IMG[2:])


@pytest.fixture
def copied(extracted, tmp_path) -> Path:
    """A copy of the extraction (and its masks) to damage."""
    shutil.copytree(extracted, tmp_path / "extract")
    shutil.copytree(extracted.parent / "masks", tmp_path / "masks")
    return tmp_path / "extract"


def _flip_weight(path: Path, tensor: torch.Tensor) -> None:
    """Overwrite 8 bytes of ``tensor``'s data inside the saved file with a huge float (the size stays the same)."""
    data = bytearray(path.read_bytes())
    raw = bytes(tensor.untyped_storage().tolist())  # as stored (conv weights are channels_last)
    at = data.find(raw[:32])
    assert at >= 0, "the tensor's bytes are stored as they are"
    data[at : at + 8] = np.array([3e26, 3e26], dtype=np.float32).tobytes()
    path.write_bytes(bytes(data))


# 1. checkpoints and models carry a checksum


def test_checkpoint_corrupted_in_place_is_reported_and_training_starts_afresh(dataset, tmp_path, capfd):
    with pytest.raises(KeyboardInterrupt):  # killed in the second epoch: a checkpoint after epoch 1
        _run("sup", _Killer(dataset, limit=4), tmp_path, epochs=2, name="x")
    path = tmp_path / "x.pt"
    state = torch.load(path, weights_only=True)
    size = path.stat().st_size
    _flip_weight(path, next(iter(state["model"].values())))
    assert path.stat().st_size == size
    reference = _run("sup", dataset, tmp_path, epochs=2, name="reference").state_dict()
    capfd.readouterr()
    resumed = _run("sup", dataset, tmp_path, epochs=2, name="x").state_dict()
    out, err = capfd.readouterr()
    for stream in (out, err):  # the job's log (stdout) and the console (the original stderr)
        assert f"Ignoring {path}: corrupt" in stream and "checksum" in stream
    assert "Resuming" not in out
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
    assert max(v.abs().max().item() for v in resumed.values()) < 1e6


def test_warning_reaches_the_log_and_the_console(tmp_path, capfd, monkeypatch):
    """As in a workflow job, whose output _preamble.redirect sends to the log."""
    log = open(tmp_path / "job.log", "w", buffering=1)
    monkeypatch.setattr(sys, "stdout", log)
    monkeypatch.setattr(sys, "stderr", log)
    warn("checkpoint damaged")
    log.close()
    assert "checkpoint damaged" in (tmp_path / "job.log").read_text()
    assert "checkpoint damaged" in capfd.readouterr().err


def test_corrupted_model_is_refused_by_the_evaluation(extracted, tmp_path):
    from test_pipeline import CFG, _train

    from ddei.runs.evaluation import SavedRecon, run_evaluation
    from ddei.runs.preparation import Run

    _train(extracted, tmp_path, "a")
    model = tmp_path / "a" / "model.pt"
    weights = torch.load(model, weights_only=True)["state_dict"].values()
    _flip_weight(model, next(w for w in weights if w.is_floating_point() and w.numel() >= 8))
    with pytest.raises(CorruptFileError, match=f"{model}.*checksum.*snakemake --forcerun {model}"):
        run_evaluation(Run(CFG, 4, 0, extracted, extracted.parent / "masks"), model, tmp_path / "m.csv",
                       SavedRecon(tmp_path / "r.npz", 0), progress=False)  # fmt: skip
    assert not (tmp_path / "m.csv").exists()


def test_non_finite_weights_are_refused_at_save_and_at_load(tmp_path):
    bad = {"state_dict": {"w": torch.tensor([1.0, float("nan")])}}
    with pytest.raises(NonFiniteWeightsError, match=r"state_dict\.w"):
        save_state(tmp_path / "m.pt", bad, ("state_dict",))
    assert list(tmp_path.iterdir()) == []
    save_state(tmp_path / "m.pt", bad, ())  # written without the check, then read with it
    with pytest.raises(NonFiniteWeightsError, match=r"m\.pt.*state_dict\.w"):
        load_state(tmp_path / "m.pt", ("state_dict",), "snakemake --forcerun m.pt")
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "old.pt")
    with pytest.raises(CorruptFileError, match="no checksum"):
        load_state(tmp_path / "old.pt", ("state_dict",))


# 2. intermediates are verifiable


def _slice(extract_dir: Path) -> Path:
    return extract_dir / pd.read_csv(extract_dir / "index.csv").query("split == 'train'").file.iloc[0]


def test_truncated_slice_is_named_when_the_dataset_opens(copied):
    path = _slice(copied)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CorruptFileError, match=f"{path} has 1000 bytes.*snakemake -R extract"):
        CineSliceDataset(copied, "train", copied.parent / "masks", 4, img_size=IMG[2:])


def test_overwritten_slice_is_named_when_first_read(copied):
    path = _slice(copied)
    array = np.load(path)
    array[0, 0, 0, 0, 0] = np.nan  # same size, other content
    np.save(path, array)
    ds = CineSliceDataset(copied, "train", copied.parent / "masks", 4, img_size=IMG[2:])
    i = ds.index.index[ds.index.file == str(path.relative_to(copied))][0]
    with pytest.raises(CorruptFileError, match=f"{path}: its content differs.*snakemake -R extract"):
        ds[i]


def test_truncated_mask_is_named_when_the_dataset_opens(copied):
    path = next((copied.parent / "masks" / "TimeVaryingGaussianMask04").rglob("*.mat"))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptFileError, match=f"{path} has 100 bytes.*snakemake -R masks"):
        CineSliceDataset(copied, "train", copied.parent / "masks", 4, img_size=IMG[2:])


def test_the_workflow_names_a_damaged_slice_before_planning(extracted, tmp_path):
    """`snakemake -n` stops with the file and the command; that command itself plans the rebuild."""
    config = tiny_config(tmp_path / "results")
    shutil.copytree(extracted, tmp_path / "results" / "extract")
    path = _slice(tmp_path / "results" / "extract")
    path.write_bytes(path.read_bytes()[:1000])
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{path} has 1000 bytes" in output and "snakemake -R extract" in output
    rebuild = snakemake(tmp_path, config, "-n", "-R", "extract")
    assert rebuild.returncode == 0, rebuild.stderr[-2000:]
    assert "extract" in rebuild.stdout


def _truncate(path: Path, work: Path = Path("/")) -> str:
    path.write_bytes(path.read_bytes()[:100])
    return f"{path.relative_to(work)} has 100 bytes"


def _drop_ky(path: Path, work: Path = Path("/")) -> str:
    index = pd.read_csv(path / "index.csv", dtype={"patient": str})
    index.drop(columns="ky").to_csv(path / "index.csv", index=False)
    return f"{(path / 'index.csv').relative_to(work)} has no 'ky' column"


DAMAGES = {  # what is damaged after a finished run (in the clone `w`), the damage, what rebuilds it
    "slice": (
        lambda w: _truncate(next((w / "results/extract/slices").glob("*.npy")), w),
        "snakemake -R extract",
    ),
    "mask": (lambda w: _truncate(next((w / "results/masks").rglob("*.mat")), w), "snakemake -R masks"),
    "index without ky": (lambda w: _drop_ky(w / "results/extract", w), "snakemake -R extract"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(DAMAGES))
def test_damage_with_a_config_change_stops_the_planning(finished_run, tmp_path, case):
    """After a finished run, a damaged slice, mask or index with a changed setting makes `snakemake -n` stop,
    naming the file and the command that rebuilds it (it used to plan nothing, or only the report rules, and
    keep the models of the old setting); that command plans the rebuild."""
    clone, config = finished_run
    work = tmp_path / "clone"
    shutil.copytree(clone, work, symlinks=True)
    damage, rebuild = DAMAGES[case]
    expected = damage(work)
    changed = config | {"training": config["training"] | {"epochs": 2}}
    result = snakemake(work, changed, "-n", snakefile=work / "Snakefile")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert expected in output and rebuild in output, output[-3000:]
    fixed = snakemake(work, changed, "-n", *rebuild.split()[1:], snakefile=work / "Snakefile")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert rebuild.split()[-1] in fixed.stdout


def test_a_table_without_a_required_column_is_named(copied):
    """index.csv, split.csv and manifest.csv: each missing column is named with its file, by their readers."""
    from ddei.data.extract import load_index
    from ddei.mri.masks import write_mask_folder
    from ddei.provenance.integrity import damaged_intermediates

    _drop_ky(copied)
    with pytest.raises(CorruptFileError, match=r"index.csv has no 'ky' column.*snakemake -R extract"):
        load_index(copied)
    with pytest.raises(CorruptFileError, match=r"index.csv has no 'ky' column.*snakemake -R extract"):
        write_mask_folder(copied / "index.csv", copied.parent / "more", 4, progress=False)
    split = pd.read_csv(copied / "split.csv").rename(columns={"split": "set"})
    split.to_csv(copied / "split.csv", index=False)
    manifest = copied.parent / "masks" / "TimeVaryingGaussianMask04" / "manifest.csv"
    pd.read_csv(manifest).drop(columns="bytes").to_csv(manifest, index=False)
    messages = [d.message for d in damaged_intermediates(copied, [manifest.parent])]
    assert "index.csv has no 'ky' column" in messages[0]
    assert "manifest.csv has no 'bytes' column" in messages[1] and "snakemake -R masks" in messages[1]
    (copied / "index.csv").write_text(pd.read_csv(copied / "index.csv").assign(ky=1).to_csv(index=False))
    assert "split.csv has no 'split' column" in damaged_intermediates(copied, [])[0].message


class Planted:
    """An object whose unpickling runs code (here: writes a file), as a file planted in a results folder would."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


@pytest.mark.parametrize("key", ["state_dict", "random"])
def test_a_file_whose_unpickling_runs_code_is_refused_unread(tmp_path, key):
    """A checkpoint or model.pt is read with torch.load(weights_only=True): a planted object is refused, and its
    code never runs (the checksum is never reached)."""
    from ddei.runs.weights import UnsafeFileError, content_digest

    marker = tmp_path / "marker"
    state = {"run_id": "x", "state_dict": {"w": torch.zeros(2)}, key: Planted(marker)}
    torch.save(state | {"sha256": content_digest({"run_id": "x"})}, tmp_path / "model.pt")
    assert not marker.exists()
    with pytest.raises(UnsafeFileError, match=r"model.pt holds objects other than tensors.*could run code"):
        load_state(tmp_path / "model.pt", ("state_dict",))
    assert not marker.exists()


def test_a_checkpoint_holds_tensors_and_plain_values_only(dataset, tmp_path):
    """What training saves (random states included) reads back with weights_only=True, and resumes exactly
    (tests/test_training.py kills and resumes)."""
    with pytest.raises(KeyboardInterrupt):  # killed during the second epoch
        _run("ddei", _Killer(dataset, limit=4), tmp_path, epochs=2)
    state = torch.load(tmp_path / "run.pt", weights_only=True)
    assert state["epoch"] == 1 and isinstance(state["random"]["numpy"]["keys"], torch.Tensor)


def test_a_truncated_checkpoint_says_truncated(tmp_path):
    save_state(tmp_path / "model.pt", {"state_dict": {"w": torch.zeros(1000)}}, ("state_dict",))
    path = tmp_path / "model.pt"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptFileError, match=r"model.pt is truncated or is not a torch file \(300 bytes"):
        load_state(path, ("state_dict",))


HOLD = """
import sys, time
from pathlib import Path
from ddei.io.files import exclusive
with exclusive(Path(sys.argv[1]), "the run"):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_of_a_run_refuses_to_start(extracted, tmp_path):
    """Two processes: while one holds a run's lock (as its train job does for its whole life), training the same
    run refuses to start, naming the holder's PID and how to stop it; once the holder is gone, it trains."""
    import subprocess

    from ddei.methods.config import ModelConfig, RunConfig, TrainingConfig
    from ddei.runs.preparation import Run
    from ddei.runs.training import RunFiles, run_training

    cfg = RunConfig("sup", "sup", (32, 32), "reference", 0.0, "cpu", 1, ModelConfig("crnn", 2, 4),
                    TrainingConfig(1, 1, 1e-3, 1, "fp32", False, False, True, "last"))  # fmt: skip
    files = RunFiles(tmp_path / "checkpoints" / "sup.pt", tmp_path / "loss.csv")

    def train():
        run_training(Run(cfg, 4, 0, extracted, extracted.parent / "masks"), tmp_path / "model.pt", files,
                     progress=False)  # fmt: skip

    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "checkpoints" / "sup.lock")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match=rf"another process \(PID {holder.pid}\).*kill {holder.pid}"):
            train()
        assert not (tmp_path / "model.pt").exists()
    finally:
        holder.kill()
        holder.wait()
    train()
    assert (tmp_path / "model.pt").exists()


ORPHAN = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "from ddei.io.files import die_with_parent; die_with_parent(); "
                          "import time; print('ready', flush=True); time.sleep(60)"], stdout=sys.stdout)
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_job_dies_with_its_parent(tmp_path):
    """A job process (train.py, evaluate.py call die_with_parent) ends when the process that started it, Snakemake,
    is killed with SIGKILL, instead of writing on as an orphan."""
    import os
    import signal
    import subprocess
    import time

    parent = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True, cwd=REPO)
    child = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "ready"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its killed parent")


# 3. a non-finite loss names its slices and its cause


def _with_nan_input(copied: Path) -> Path:
    """A slice that holds NaN, recorded as written (as bad data that came in through the extraction would be)."""
    index = pd.read_csv(copied / "index.csv", dtype={"patient": str})
    path = copied / index.file.iloc[0]
    array = np.load(path)
    array[:, :, 0, 0, 0] = np.nan
    np.save(path, array)
    record = file_record(path)
    index.loc[0, ["bytes", "sha256"]] = [record["bytes"], record["sha256"]]
    index.loc[:, "split"] = "train"
    index.to_csv(copied / "index.csv", index=False)
    return path


def test_nan_input_names_the_slice_and_the_data(copied, tmp_path):
    path = _with_nan_input(copied)
    ds = CineSliceDataset(copied, "train", copied.parent / "masks", 4, img_size=IMG[2:])
    ds.index = ds.index.iloc[:1]  # the damaged slice only
    with pytest.raises(NonFiniteLossError, match="loss is nan at epoch 1, step 1") as e:
        _run("sup", ds, tmp_path, epochs=1, steps=1)
    message = str(e.value)
    assert path.name in message and "input" in message and "snakemake -R extract" in message
    assert "learning rate" not in message


def test_diverging_network_names_the_slices_and_the_learning_rate(dataset, tmp_path, monkeypatch):
    import ddei.runs.training as training

    step = training.train_step
    monkeypatch.setattr(training, "train_step", lambda *a, **k: step(*a, **k) * float("inf"))
    with pytest.raises(NonFiniteLossError) as e:
        _run("sup", dataset, tmp_path, epochs=1, steps=2)
    message = str(e.value)
    assert "inputs are finite" in message and "training.lr" in message
    assert " slice " in message and "slices/" in message


# 4. results know where they came from


def test_results_of_another_checkout_are_refused(tmp_path):
    config = tiny_config("/elsewhere/results")
    results = tmp_path / "a" / "results"
    write_stamp(results, make_stamp(config, "code1", tmp_path / "a"))
    other = config | {"training": config["training"] | {"lr": 0.01}}
    ours = make_stamp(other, "code1", tmp_path / "b")
    with pytest.raises(
        ForeignResultsError, match=r"another checkout.*another configuration.*allow_shared_results"
    ):
        check_stamp(results, ours)
    assert "shared" in check_stamp(results, ours, allow_shared=True)
    assert check_stamp(results, make_stamp(other, "code2", tmp_path / "a")) is None  # the same checkout
    assert check_stamp(results, make_stamp(config, "code1", tmp_path)) is None  # inside this checkout: moved


def test_the_workflow_refuses_another_checkouts_results(tmp_path):
    results = tmp_path / "a" / "results"
    write_stamp(results, make_stamp(tiny_config(results), "code", tmp_path / "a"))
    (tmp_path / "b").mkdir()
    config = tiny_config(results)
    config["training"]["lr"] = 0.01
    result = snakemake(tmp_path / "b", config, "-n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "made by another checkout" in output and "allow_shared_results" in output
    shared = snakemake(tmp_path / "b", config | {"allow_shared_results": True}, "-n")
    assert shared.returncode == 0, shared.stderr[-2000:]


# 5. impossible settings are refused before work starts


def _config(**changes) -> dict:
    from snakemake.utils import validate

    config = tiny_config("results")
    for key, value in changes.items():
        node, *path = key.split("__")
        target = config
        for part in [node, *path][:-1]:
            target = target[part]
        target[[node, *path][-1]] = value
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"masks__accelerations": [4, 64]}, r"masks.accelerations: 64 .*data.synthetic.lax_shape.*largest"),
        (
            {"image_size": [8, 8]},
            r"image_size: \[8, 8\] is smaller than data.synthetic.lax_shape.*image_crop",
        ),
        ({"data__lax_slices": 0, "data__sax_slices": 0}, "data.lax_slices and data.sax_slices"),
    ],
)
def test_impossible_settings_are_refused_by_the_config_check(changes, message):
    with pytest.raises(ConfigError, match=message):
        check_config(_config(**changes))


def test_cropping_on_request_and_imported_masks_pass():
    check_config(_config(image_size=[8, 8], image_crop=True))
    check_config(_config(masks__accelerations=[64], masks__import_dir="published"))


@pytest.mark.parametrize("ky", [8, 24, 34, 100, 204, 246])
def test_acceleration_check_is_deepinvs_condition(ky):
    """check_acceleration refuses exactly the accelerations deepinv's generator refuses."""
    for acceleration in range(2, 100):
        try:
            gaussian_kt_mask((4, ky), acceleration, frames=2)
            works = True
        except ValueError as e:
            assert "center_fraction is too high" in str(e)
            works = False
        if works:
            check_acceleration(ky, acceleration)
        else:
            with pytest.raises(AccelerationError):
                check_acceleration(ky, acceleration)


def test_real_data_too_large_for_image_size_is_refused_before_writing(raw_root, tmp_path, capsys):
    with pytest.raises(
        ImageSizeError, match=r"image_size \[8, 8\] is smaller than the data.*cine_.*image_crop"
    ):
        extract(raw_root, tmp_path / "out", Selection(img_size=(8, 8)), progress=False)
    assert not (tmp_path / "out").exists()
    capsys.readouterr()
    index = extract(raw_root, tmp_path / "out", Selection(lax_slices=1, sax_slices=0, img_size=(8, 8)), progress=False,
                    crop=True)  # fmt: skip
    assert set(index.height) == {8}
    said = capsys.readouterr().out  # the extract log
    assert "image_crop: centre-cropping 5 of 5 files to image_size [8, 8] (kx, ky), from (30, 24)" in said


def test_real_data_acceleration_is_refused_before_writing(extracted, tmp_path):
    with pytest.raises(AccelerationError, match="masks.accelerations: 64 .*P00"):
        write_mask_folder(extracted / "index.csv", tmp_path / "masks", 64, progress=False)
    assert not (tmp_path / "masks").exists()


# 6. a full disk says so


@pytest.mark.parametrize(
    "error",
    [OSError("49152 requested and 16352 written"), OSError(errno.ENOSPC, "No space left on device")],
)
def test_full_disk_is_named_with_the_path(tmp_path, error):
    def write(tmp):
        tmp.write_bytes(b"partial")
        raise error

    with pytest.raises(DiskFullError, match=f"Disk full: no space left to write {tmp_path / 'f.csv'}"):
        atomic_write(tmp_path / "f.csv", write)
    assert list(tmp_path.iterdir()) == []


def test_full_disk_during_extraction_names_the_slice(raw_root, tmp_path, monkeypatch):
    import ddei.data.extract as module

    def full(*args, **kwargs):
        raise OSError("49152 requested and 16352 written")

    monkeypatch.setattr(module.np, "save", full)
    with pytest.raises(DiskFullError, match=r"Disk full.*out/slices/P001_lax_s0.npy"):
        extract(raw_root, tmp_path / "out", Selection(img_size=(32, 32)), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_full_disk_during_a_checkpoint_names_it(dataset, tmp_path, monkeypatch):
    import ddei.runs.weights as weights

    def full(obj, path):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(weights.torch, "save", full)
    with pytest.raises(DiskFullError, match=f"Disk full: no space left to write {tmp_path / 'run.pt'}"):
        _run("sup", dataset, tmp_path, epochs=1, steps=1)
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob(".*"))


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs (where root can mount one), else None."""
    import subprocess

    folder = tmp_path / "tmpfs"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    yield folder if mounted.returncode == 0 else None
    if mounted.returncode == 0:
        subprocess.run(["umount", str(folder)], check=True)


def test_torch_save_into_a_full_disk_says_disk_full(full_disk, tmp_path, monkeypatch):
    """torch.save reports a full disk as `RuntimeError: [enforce fail at inline_container.cc] . unexpected pos`: the
    free space at the target makes it "disk full", with the path, and nothing is left (a real tmpfs where one can
    be mounted, else torch's error with no space left)."""
    state = {"w": torch.zeros(100_000)}
    if full_disk is None:
        import ddei.io.files as files

        def full(obj, path):
            Path(path).write_bytes(b"partial")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")

        monkeypatch.setattr(torch, "save", full)
        monkeypatch.setattr(files, "_free", lambda path: 0)
    target = (full_disk or tmp_path) / "model.pt"
    with pytest.raises(DiskFullError, match=f"Disk full: no space left to write {target}.*unexpected pos"):
        save_state(target, state, ("w",))
    assert list(target.parent.iterdir()) == []


def test_an_error_with_free_space_is_not_called_a_full_disk(tmp_path):
    def write(tmp):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")

    with pytest.raises(RuntimeError, match="unexpected pos"):
        atomic_write(tmp_path / "model.pt", write)


# 7. the README says what to do


def test_readme_says_what_to_do_when_something_goes_wrong():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## When something goes wrong")[1].split("\n## ")[0]
    for text in ("--unlock", "-R extract", "-R masks", "checkpoints/", "checksum", "allow_shared_results",
                 "image_crop", "NonFiniteLossError", "Disk full"):  # fmt: skip
        assert text in section, text
