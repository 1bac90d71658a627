"""Mixed precision, channels_last and compilation (ddei.mri.precision), on the CPU: bf16 autocast runs here too."""

from __future__ import annotations

import ddei  # noqa: F401

# isort: split

import pytest
import torch
from deepinv.physics import DynamicMRI

from ddei.mri.models import CRNN, build_model
from ddei.mri.precision import PrecisionError, check_precision, configure, full_precision, warm_up
from ddei.mri.transforms import cpab_basis, cpab_integrate, uniform_meshgrid
from ddei.mri.transforms.cpab import _findcellidx2d

T, H = 6, 16


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, T, H, H, generator=g)
    mask = (torch.rand(1, 1, T, 1, H, generator=g) > 0.5).float().expand(1, 2, T, H, H)
    physics = DynamicMRI(mask=mask)
    return physics(x), physics


def _crnn():
    torch.manual_seed(0)
    return CRNN(chans=4)


def test_cpab_integration_is_float32_under_bf16_autocast():
    """The H200 crash: under bf16 autocast the integration ran in bf16 and the cell index went out of range."""
    basis = torch.tensor(cpab_basis((3, 3), True, True), dtype=torch.float32)
    grid = uniform_meshgrid((24, 24))
    theta = torch.randn(3, basis.shape[1], generator=torch.Generator().manual_seed(1))
    reference = cpab_integrate(grid, theta, basis, (3, 3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = cpab_integrate(grid, theta, basis, (3, 3))
        from_bf16 = cpab_integrate(grid.bfloat16(), theta.bfloat16(), basis, (3, 3))
    assert under.dtype == from_bf16.dtype == torch.float32
    assert torch.equal(under, reference)
    assert torch.allclose(
        from_bf16, cpab_integrate(grid.bfloat16().float(), theta.bfloat16().float(), basis, (3, 3))
    )


def test_cell_search_never_indexes_out_of_range():
    px = torch.tensor([float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.5, 1.0 + 1e-3, -1e-3])
    py = torch.tensor([0.5, float("nan"), 1e30, -1e30, float("inf"), 0.5, 1.0 + 1e-3, 2.0])
    idx = _findcellidx2d(px, py, 3, 3)
    assert idx.min() >= 0 and idx.max() <= 4 * 3 * 3 - 1


def test_non_finite_cpab_parameters_raise():
    basis = torch.tensor(cpab_basis((3, 3), True, True), dtype=torch.float32)
    theta = torch.full((1, basis.shape[1]), float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite"):
        cpab_integrate(uniform_meshgrid((8, 8)), theta, basis, (3, 3))


def test_crnn_bf16_keeps_ffts_and_data_consistency_in_float32(data, monkeypatch):
    y, physics = data
    seen = []
    original = CRNN.data_consistency

    def spy(self, x, y, mask, lam):
        seen.append((x.dtype, y.dtype, torch.is_autocast_enabled("cpu")))
        return original(self, x, y, mask, lam)

    monkeypatch.setattr(CRNN, "data_consistency", spy)
    fp32 = _crnn()(y, physics)
    model = _crnn().configure(precision="bf16")
    with torch.autocast("cpu", dtype=torch.bfloat16):  # even inside the caller's autocast
        bf16 = model(y, physics)
    assert bf16.dtype == torch.float32
    assert seen and all(s == (torch.float32, torch.float32, False) for s in seen)
    rel = (bf16 - fp32).norm() / fp32.norm()
    assert 0 < rel < 0.02, rel  # bf16 rounding of the convolutions, nothing more


def test_channels_last_changes_nothing_but_the_memory_format(data):
    y, physics = data
    reference = _crnn()(y, physics)
    model = _crnn().configure(channels_last=True)
    assert model.bcrnn.h2h.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(model(y, physics), reference, atol=1e-5)


def test_other_backbones_get_autocast_and_return_float32(data):
    y, physics = data
    torch.manual_seed(0)
    unet = configure(build_model("unet", chans=4), "bf16", True, False, "cpu")
    out = unet(y, physics)
    assert out.dtype == torch.float32 and out.shape == y.shape


def test_compiled_crnn_traces_as_one_graph_and_matches(data, monkeypatch):
    """fullgraph=True: a graph break would be an error, never a silent eager fallback. The inductor backend
    compiles for minutes on a CPU, so the test traces with aot_eager (same graph capture and autograd), the backend
    of the GPU scripts' CPU smoke (DDEI_COMPILE_BACKEND)."""
    import ddei.mri.precision as precision

    monkeypatch.setattr(precision, "COMPILE_BACKEND", "aot_eager")
    torch._dynamo.reset()
    y, physics = data
    reference = _crnn().configure(precision="bf16")(y, physics)
    model = _crnn().configure(precision="bf16", compile=True)
    seconds = warm_up(model, y, physics)
    assert seconds > 0 and all(p.grad is None for p in model.parameters())
    assert torch.allclose(model(y, physics), reference, atol=1e-6)


def test_validation_runs_the_compiled_network_eagerly_in_float32(data, compiled_graphs):
    """Validation's float32, gradient-free pass (full_precision) compiles nothing: each guard it changes would
    compile the network anew, at a GPU's inductor cost. Its output is the eager float32 network's, bit for bit."""
    y, physics = data
    model = _crnn().configure(precision="bf16", compile=True)
    warm_up(model, y, physics)
    compiled = len(compiled_graphs)
    assert compiled > 0
    with torch.no_grad(), full_precision(model):
        out = model(y, physics)
    assert len(compiled_graphs) == compiled
    with torch.no_grad(), full_precision(eager := _crnn().configure(precision="bf16")):
        assert torch.equal(out, eager(y, physics))
    assert model.autocast_dtype == torch.bfloat16  # restored on exit


def test_compile_failure_names_the_key(data, monkeypatch):
    def broken(fn, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("no C++ compiler")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    y, physics = data
    model = _crnn().configure(compile=True)
    with pytest.raises(PrecisionError, match="training.compile"):
        warm_up(model, y, physics)


def test_bf16_on_a_gpu_without_it_names_the_key(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    with pytest.raises(PrecisionError, match="training.precision: bf16 is not supported by this GPU"):
        check_precision("bf16", "cuda")
    with pytest.raises(PrecisionError, match="evaluation.precision"):
        check_precision("bf16", "cuda", "evaluation.precision")
    check_precision("bf16", "cpu")  # autocast supports bf16 on every CPU
    check_precision("fp32", "cuda")
    with pytest.raises(PrecisionError, match="precision must be one of"):
        check_precision("fp16", "cpu")
