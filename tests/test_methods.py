"""Each method is what it says it is, checked against independent computations: which losses a method
gets and what they do, the T-SSDU split, PSNR and SSIM against numpy, the normalisation against numpy, the Holm
adjustment where the tables apply it, and the package versions of the imports of imports."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
from pathlib import Path

import deepinv as dinv
import numpy as np
import pandas as pd
import pytest
import torch
from deepinv.loss.mri import Phase2PhaseLoss
from scipy.ndimage import correlate1d
from test_training import IMG, SETTINGS

from ddei.methods.registry import METHODS
from ddei.mri.losses import LossContext
from ddei.mri.models import build_model
from ddei.mri.transforms import ChoiceTransform, Diffeomorphism, PerSampleTransform, Rotate, TimeShift
from ddei.runs.preparation import build_method, make_physics
from ddei.runs.training import train_step

REPO = Path(__file__).resolve().parents[1]


def built(method: str, settings: dict | None = None):
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    net = build_model("crnn", chans=4)
    return build_method(METHODS[method], net, LossContext(IMG, rng, 0.0, settings or SETTINGS, "cpu"))


def leaves(transform) -> list:
    """The transforms a transform is made of, depth first."""
    if isinstance(transform, PerSampleTransform):
        return leaves(transform.inner)
    if isinstance(transform, ChoiceTransform):
        return [leaf for t in transform.transforms for leaf in leaves(t)]
    return [transform]


# ------------------------------------------------------------------------------------------------------------------
# Each method's losses
# ------------------------------------------------------------------------------------------------------------------


def test_ddei_is_consistency_plus_ei_over_diffeomorphisms_rotations_and_time_shifts():
    model, losses = built("ddei")
    assert [type(loss) for loss in losses] == [dinv.loss.MCLoss, dinv.loss.EILoss]
    group = losses[1].T
    assert isinstance(group, PerSampleTransform)  # one transform per sample
    assert [type(t) for t in leaves(group)] == [Diffeomorphism, Rotate, TimeShift]
    # the reference's nested `|`: diffeomorphism 1/4, rotation 1/4, time shift 1/2
    assert group.inner.weights.tolist() == [0.5, 0.5] and group.inner.transforms[0].weights.tolist() == [
        0.5,
        0.5,
    ]


def test_ei_rotate_is_consistency_plus_ei_over_rotations():
    _, losses = built("ei-r")
    assert [type(loss) for loss in losses] == [dinv.loss.MCLoss, dinv.loss.EILoss]
    assert [type(t) for t in leaves(losses[1].T)] == [Rotate]


def test_splitting_methods_get_their_splitting_losses_and_wrapped_models():
    model, losses = built("t-ssdu")
    assert [type(loss) for loss in losses] == [dinv.loss.SplittingLoss]
    assert isinstance(model, dinv.loss.SplittingLoss.SplittingModel)
    assert losses[0].split_ratio == SETTINGS["split_ratio"] and not model.eval_split_input
    star, star_losses = built("t-ssdu*")
    assert isinstance(star, dinv.loss.SplittingLoss.SplittingModel)
    assert star.eval_split_input and star.eval_n_samples == SETTINGS["eval_n_samples"]
    p2p, p2p_losses = built("phase2phase")
    assert [type(loss) for loss in p2p_losses] == [Phase2PhaseLoss]
    assert type(p2p).__name__ == "Phase2PhaseModel" and p2p is not model
    sup, sup_losses = built("sup")
    assert [type(loss) for loss in sup_losses] == [dinv.loss.SupLoss]


def _one_step(model, losses, batch):
    physics = make_physics(IMG, 0.0, torch.Generator().manual_seed(1), "cpu")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_step(model, losses, batch, physics, optimizer, 0)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_a_ddei_step_is_not_a_step_of_consistency_alone(extracted):
    """With the same seed and sample, one DDEI step moves the weights elsewhere than one step of its measurement
    consistency alone: the equivariance term is trained on."""
    from ddei.data.dataset import CineSliceDataset

    sample = CineSliceDataset(extracted, "train", extracted.parent / "masks", 4, img_size=IMG[2:])[0]
    batch = {
        "x": sample["x"][None],
        "y": sample["y"][None],
        "params": {"mask": sample["params"]["mask"][None]},
    }
    ddei_model, ddei_losses = built("ddei")
    after_ddei = _one_step(ddei_model, ddei_losses, batch)
    mc_model, _ = built("ddei")
    after_mc = _one_step(mc_model, [dinv.loss.MCLoss()], batch)
    assert any(not torch.equal(after_ddei[k], after_mc[k]) for k in after_ddei)


# ------------------------------------------------------------------------------------------------------------------
# The T-SSDU split
# ------------------------------------------------------------------------------------------------------------------


def test_t_ssdu_loss_is_on_the_measured_lines_the_input_did_not_see(extracted):
    """The input mask is a subset of the measured lines, the loss mask is the rest of them (disjoint from the input
    mask), and the loss only sees the loss lines: an output that matches y on the loss lines only has zero loss,
    one that matches it on the input lines only does not."""
    from ddei.data.dataset import CineSliceDataset

    sample = CineSliceDataset(extracted, "train", extracted.parent / "masks", 4, img_size=IMG[2:])[0]
    y = sample["y"][None]
    physics = make_physics(IMG, 0.0, torch.Generator().manual_seed(1), "cpu")
    physics.update(mask=sample["params"]["mask"][None])
    model, (loss,) = built("t-ssdu")
    model.train()
    model(y, physics, update_parameters=True)
    (split,) = model.get_masks()
    measured = physics.mask
    inputs = split * measured
    rest = measured - inputs
    assert set(torch.unique(inputs).tolist()) == {0.0, 1.0} and set(torch.unique(rest).tolist()) == {0.0, 1.0}
    assert torch.equal(inputs * rest, torch.zeros_like(rest)) and torch.equal(inputs + rest, measured)
    assert 0 < inputs.sum() < measured.sum()
    on_rest = physics.A_adjoint(y * rest)  # A(on_rest) = y on the loss lines, 0 on the input lines
    on_inputs = physics.A_adjoint(y * inputs)
    assert float(loss(x_net=on_rest, y=y, physics=physics, model=model)) < 1e-10
    assert float(loss(x_net=on_inputs, y=y, physics=physics, model=model)) > 1e-3


# ------------------------------------------------------------------------------------------------------------------
# Metrics against numpy
# ------------------------------------------------------------------------------------------------------------------


def _magnitude(t: torch.Tensor) -> np.ndarray:
    return np.sqrt((t.double().numpy() ** 2).sum(1))  # (B, 2, T, H, W) -> (B, T, H, W)


def numpy_psnr(x_hat: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """PSNR of the magnitudes, the peak being each ground truth's maximum (the paper's ``max_pixel=None``)."""
    a, b = _magnitude(x_hat), _magnitude(x)
    return np.array([10 * np.log10(b[i].max() ** 2 / ((a[i] - b[i]) ** 2).mean()) for i in range(len(a))])


def numpy_ssim(x_hat: torch.Tensor, x: torch.Tensor, size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """SSIM (Wang et al. 2004) of the magnitude videos: a Gaussian window of ``size`` taps over time, height and
    width, data range the ground truth's maximum (minimum 0), reflect-padded and cropped back to the valid region."""
    a, b = _magnitude(x_hat), _magnitude(x)
    r = np.arange(size) - (size - 1) / 2
    w = np.exp(-(r**2) / (2 * sigma**2))
    w /= w.sum()
    p = (size - 1) // 2

    def blur(z):
        z = np.pad(z, p, mode="reflect")
        for axis in range(z.ndim):
            z = correlate1d(z, w, axis=axis, mode="constant")
        return z

    out = []
    for ai, bi in zip(a, b):
        c1, c2 = (0.01 * bi.max()) ** 2, (0.03 * bi.max()) ** 2
        ma, mb = blur(ai), blur(bi)
        saa, sbb, sab = blur(ai * ai) - ma**2, blur(bi * bi) - mb**2, blur(ai * bi) - ma * mb
        s = ((2 * ma * mb + c1) * (2 * sab + c2)) / ((ma**2 + mb**2 + c1) * (saa + sbb + c2))
        out.append(s[p:-p, p:-p, p:-p].mean())
    return np.array(out)


@pytest.mark.parametrize("scale", [1.0, 3.0, 0.2])
def test_psnr_and_ssim_are_the_papers_on_magnitudes(scale):
    """deepinv's metrics as configured (ddei.mri.metrics) equal independent numpy computations, also for images
    whose peak is not 1."""
    from ddei.mri.metrics import metric_functions

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(2, 2, 12, 20, 24, generator=g) + 0.5) * scale
    x_hat = x + 0.3 * scale * torch.randn(x.shape, generator=g)
    metrics = metric_functions()
    assert _magnitude(x).max() > 1.5 * scale  # the peak is the data's, not 1
    np.testing.assert_allclose(metrics["psnr"](x_hat, x).numpy(), numpy_psnr(x_hat, x), atol=2e-4)
    np.testing.assert_allclose(metrics["ssim"](x_hat, x).numpy(), numpy_ssim(x_hat, x), atol=1e-6)


# ------------------------------------------------------------------------------------------------------------------
# Normalisation
# ------------------------------------------------------------------------------------------------------------------


def test_normalisation_is_the_references(raw_root, tmp_path):
    """Each slice is normalised by the mean and standard deviation of its padded image's real and imaginary values
    pooled, with torch's (the reference's, deepinv's CMRxReconSliceDataset) unbiased std: numpy with ddof=1."""
    from ddei.data.extract import KSPACE_KEY, Selection, center_fit, extract
    from ddei.io.matlab import read_mat_slice
    from ddei.mri.fft import kspace_to_image

    index = extract(raw_root, tmp_path / "out", Selection(img_size=(32, 32)), progress=False)
    for row in index.head(3).itertuples():
        kspace = read_mat_slice(raw_root / "SingleCoil/Cine/TrainingSet/FullSample" / row.patient
                                / f"cine_{row.view}.mat", KSPACE_KEY, row.slice, axis=2)  # fmt: skip
        image = center_fit(kspace_to_image(np.moveaxis(kspace, -1, 0)).astype(np.complex64), (32, 32))
        pooled = np.stack([image.real, image.imag]).astype(np.float64)
        np.testing.assert_allclose(row.mean, pooled.mean(), rtol=1e-9)
        np.testing.assert_allclose(row.std, pooled.std(ddof=1), rtol=1e-9)
        reference = torch.from_numpy(np.stack([image.real, image.imag]).astype(np.float64))
        np.testing.assert_allclose(row.std, float(reference.std()), rtol=1e-9)


# ------------------------------------------------------------------------------------------------------------------
# Holm where the tables apply it
# ------------------------------------------------------------------------------------------------------------------


def holm(p: list[float]) -> list[float]:
    """Holm's step-down adjustment, by hand: sort, multiply the k-th smallest by (m - k), running maximum, cap 1."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - k) * p[i]))
        out[i] = running
    return out


def test_wilcoxon_tests_adjust_each_block_by_holm():
    """In each (acceleration, metric) block, p_holm is the Holm adjustment of that block's raw p values (here they
    differ from the raw ones)."""
    from ddei.report.tables import wilcoxon_tests

    rng = np.random.default_rng(0)
    rows = []
    for acc in (4, 8):
        for i in range(12):
            base = rng.normal(20, 1)
            for method, shift in (("ddei", 1.0), ("t-ssdu", 0.2), ("ei-r", 0.9), ("phase2phase", -0.4)):
                value = base + shift + rng.normal(0, 0.3 + acc / 20)
                rows.append({"method": method, "acceleration": acc, "seed": 0, "patient": f"P{i:03d}",
                             "view": "lax", "slice": 0, "psnr": value, "ssim": value / 40, "nmse": 1 / value})  # fmt: skip
    tests = wilcoxon_tests(pd.DataFrame(rows), "ddei")
    for (acc, metric), block in tests.groupby(["acceleration", "metric"]):
        expected = holm(block["p_value"].tolist())
        np.testing.assert_allclose(block["p_holm"].to_numpy(), expected, rtol=1e-12)
        assert len(block) == 3
    assert (tests["p_holm"] > tests["p_value"]).any()


# ------------------------------------------------------------------------------------------------------------------
# Package versions of the imports of imports
# ------------------------------------------------------------------------------------------------------------------


def test_a_package_imported_only_through_other_modules_is_in_the_fingerprint(monkeypatch):
    """The train script imports libcpab only through ddei.runs.training -> ddei.mri.losses -> ddei.mri.transforms:
    its version is part of the script's fingerprint and of the versions recorded with the metrics."""
    from ddei.provenance import fingerprints as provenance

    script = REPO / "workflow" / "scripts" / "train.py"
    assert "libcpab" not in script.read_text()
    assert "libcpab" in provenance.versions_of(["ddei.runs.training"])
    before = provenance.script_fingerprint(script)
    real = provenance.package_versions
    monkeypatch.setattr(
        provenance,
        "package_versions",
        lambda names: real(names) | ({"libcpab": "99"} if "libcpab" in names else {}),
    )
    assert provenance.script_fingerprint(script) != before


# The mutants of tests/mutation stay applicable


def test_every_mutant_still_applies_to_the_code():
    """Each mutant's text is in its file exactly once, and its tests exist: a refactor that moves the text would
    otherwise make ``tests/mutation/run.py`` skip the mutant ("NOT APPLIED") and the check it stands for."""
    import json

    mutants = json.loads((REPO / "tests" / "mutation" / "mutants.json").read_text())
    stale = {m["name"]: (REPO / m["file"]).read_text().count(m["old"]) for m in mutants}
    assert {name: n for name, n in stale.items() if n != 1} == {}
    for m in mutants:
        assert all((REPO / t.split("::")[0]).exists() for t in m["tests"] if t.startswith("tests/")), m[
            "name"
        ]
