"""The splitting methods' settings compute what they say: the split masks (``split_mask``, ``split_centre``) against
deepinv's generators built directly and hand-computed centre blocks, and hard data consistency (``split_dc``)
against the measurement itself."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split
import math

import pytest
import torch
from deepinv.physics.generator import BernoulliSplittingMaskGenerator, GaussianSplittingMaskGenerator
from test_training import IMG, SETTINGS
from test_training import dataset as dataset  # the fixture

from ddei.methods.registry import METHODS
from ddei.mri.losses import LossContext, centre_block
from ddei.mri.models import build_model
from ddei.runs.preparation import build_method, make_physics


def built(method: str, **settings):
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    net = build_model("crnn", chans=4)
    context = LossContext(IMG, rng, 0.0, SETTINGS | settings, "cpu")
    return net, *build_method(METHODS[method], net, context)


@pytest.mark.parametrize(
    ("size", "expected"), [((512, 256), (8, 8)), ((32, 32), (1, 1)), ((32, 64), (1, 2)), ((256, 256), (4, 8))]
)
def test_the_scaled_centre_block_is_the_papers_fraction_of_the_image(size, expected):
    """8x8 of 512x256, scaled: 8 * 32 / 512 = 0.5 rounds up to 1, 8 * 64 / 256 = 2 (hand-computed)."""
    assert centre_block(size, "scaled") == expected
    assert centre_block(size, "reference") == (8, 8)
    with pytest.raises(ValueError, match="split_centre"):
        centre_block(size, "other")


def _measured() -> torch.Tensor:
    """A k-t mask of measured lines, (2, T, H, W): every third phase-encode line in each frame, shifted by frame."""
    mask = torch.zeros(IMG)
    for t in range(IMG[1]):
        mask[:, t, :, (t % 3) :: 3] = 1
    return mask


@pytest.mark.parametrize(
    ("split_mask", "split_centre", "reference"),
    [
        ("gaussian", "reference", lambda kw: GaussianSplittingMaskGenerator(IMG, center_block=(8, 8), **kw)),
        # 1x1 at 32x32, handed to deepinv as the 2x2 around the centre (deepinv keeps an even number of rows)
        ("gaussian", "scaled", lambda kw: GaussianSplittingMaskGenerator(IMG, center_block=(2, 2), **kw)),
        ("uniform", "reference", lambda kw: BernoulliSplittingMaskGenerator(IMG, **kw)),
    ],
)
def test_split_masks_are_deepinvs_generators_with_the_settings(split_mask, split_centre, reference):
    """The splitting loss draws its masks from the deepinv generator the settings name, on the run's generator:
    the same masks as that generator built directly on a generator of the same seed."""
    _, _, losses = built("t-ssdu", split_mask=split_mask, split_centre=split_centre)
    mine = losses[0].mask_generator
    theirs = reference(dict(split_ratio=SETTINGS["split_ratio"], rng=torch.Generator().manual_seed(0)))
    assert type(mine) is type(theirs)
    measured = _measured()
    for _ in range(3):
        a = mine.step(batch_size=1, input_mask=measured[None])["mask"]
        b = theirs.step(batch_size=1, input_mask=measured[None])["mask"]
        assert torch.equal(a, b)
        assert ((a > 0) <= (measured[None] > 0)).all()  # a subset of the measured points


def test_uniform_split_keeps_each_measured_point_with_the_split_ratio():
    """deepinv's uniform split keeps int(split_ratio * n) of the n measured points, a uniformly random subset: over
    400 draws the points near the k-space centre and at its edge are kept equally often, within 4 standard errors
    of that fraction (sampling without replacement makes the binomial standard error an upper bound). The
    reference's Gaussian split keeps the centre block every time and the edge points more often than that fraction
    (it draws the loss points with a Gaussian density around the centre)."""
    _, _, losses = built("t-ssdu", split_mask="uniform")
    measured, draws = _measured(), 400
    n = int((measured[0] > 0).sum())
    q = int(SETTINGS["split_ratio"] * n) / n
    h, w = IMG[-2:]
    centre = torch.zeros(IMG[1:], dtype=torch.bool)
    centre[:, h // 2 - 4 : h // 2 + 4, w // 2 - 4 : w // 2 + 4] = True
    edge = torch.zeros(IMG[1:], dtype=torch.bool)
    edge[:, :, :4] = True
    edge[:, :, -4:] = True

    def kept(generator, draws):
        masks = [generator.step(1, input_mask=measured[None])["mask"][0, 0] for _ in range(draws)]
        return masks

    masks = kept(losses[0].mask_generator, draws)
    assert {int(m.sum()) for m in masks} == {int(q * n)}
    total = sum(masks)
    for region in (centre, edge):
        points = region & (measured[0] > 0)
        frequency = float(total[points].sum()) / (draws * int(points.sum()))
        assert abs(frequency - q) < 4 * math.sqrt(q * (1 - q) / (draws * int(points.sum())))

    gaussian = built("t-ssdu", split_mask="gaussian", split_centre="reference")[2][0].mask_generator
    total = sum(kept(gaussian, 50))
    assert float(total[(measured[0] > 0) & centre].min()) == 50  # the 8x8 centre block: always kept
    edge_points = (measured[0] > 0) & edge
    bound = 4 * math.sqrt(q * (1 - q) / (50 * int(edge_points.sum())))
    assert float(total[edge_points].mean()) / 50 > q + bound  # the loss points are drawn near the centre


@pytest.mark.parametrize("method", ["t-ssdu", "phase2phase"])
def test_hard_data_consistency_keeps_the_measured_points_exactly(method, dataset):
    """split_dc hard: lambda is 0 and not trained, and the reconstruction's k-space equals the measurement on
    every measured point (to float precision); learned: lambda is the reference's log(e - 1), trained."""
    net, model, _ = built(method, split_dc="hard")
    assert float(net.lam) == 0.0 and not net.lam.requires_grad
    sample = dataset[0]
    physics = make_physics(IMG, 0.0, torch.Generator(), "cpu")
    physics.update(mask=sample["params"]["mask"][None])
    with torch.no_grad():
        x_hat = net(sample["y"][None], physics)
    error = physics.A(x_hat) - sample["y"][None]
    assert float(error.abs().max()) < 1e-5 * float(sample["y"].abs().max())

    net, _, _ = built(method, split_dc="learned")
    assert float(net.lam.detach()) == pytest.approx(math.log(math.e - 1)) and net.lam.requires_grad
    with torch.no_grad():
        x_hat = net(sample["y"][None], physics)
    assert float((physics.A(x_hat) - sample["y"][None]).abs().max()) > 1e-3 * float(sample["y"].abs().max())


def test_unknown_split_settings_are_refused():
    with pytest.raises(ValueError, match="split_mask"):
        built("t-ssdu", split_mask="poisson")
    with pytest.raises(ValueError, match="split_dc"):
        built("phase2phase", split_dc="soft")
