"""SNELLA's bi-level sparsity allocation (issue 40, row 45, paper 45)."""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import lrkit.nn as lnn  # noqa: E402

WIDTH = 32


def _network(generator):
    layers = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Tanh(), nn.Linear(WIDTH, WIDTH), nn.Tanh(),
                           nn.Linear(WIDTH, WIDTH))
    with torch.no_grad():
        for layer in layers[::2]:
            layer.weight.copy_(torch.randn(WIDTH, WIDTH, generator=generator) / WIDTH**0.5)
            layer.bias.zero_()
    return layers


def _task(seed):
    """A pretrained network and a target that moves its middle layer densely (a rank-3 change)
    and its first layer barely: one fixed density per layer starves the middle one."""
    generator = torch.Generator().manual_seed(seed)
    base = _network(generator)
    teacher = _network(generator)
    teacher.load_state_dict(base.state_dict())
    with torch.no_grad():
        teacher[2].weight.add_(torch.randn(WIDTH, 3, generator=generator)
                               @ torch.randn(3, WIDTH, generator=generator) / WIDTH**0.5)
        teacher[0].weight.add_(0.02 * torch.randn(WIDTH, WIDTH, generator=generator) / WIDTH**0.5)
    inputs, held_out = (torch.randn(n, WIDTH, generator=generator) for n in (1024, 1024))
    return base, teacher, inputs, held_out


def _fit(seed, allocate, density=0.1, epochs=10):
    base, teacher, inputs, held_out = _task(seed)
    with torch.no_grad():
        targets, expected = teacher(inputs), teacher(held_out)
        untuned = float(((base(held_out) - expected) ** 2).mean())
    model = lnn.adapt(base, method="snell", rank=4, density=density, seed=seed)
    batches = [(inputs[i:i + 32], targets[i:i + 32]) for i in range(0, len(inputs), 32)]
    allocator = (lnn.SparsityAllocator(model, density, epochs * len(batches)) if allocate
                 else None)
    lnn.finetune(model, batches, lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(), epochs,
                 lr=3e-3, seed=seed, progress=False, after_step=allocator)
    with torch.no_grad():
        error = float(((model(held_out) - expected) ** 2).mean()) / untuned
    return error, model, allocator


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_competition_beats_one_density_per_layer_at_the_same_budget(seed):
    fixed, _, _ = _fit(seed, allocate=False)
    shared, model, allocator = _fit(seed, allocate=True)
    layers = lnn.adapter_layers(model)
    kept = sum(float(layer.density) * layer.weight.numel() for layer in layers.values())
    assert kept == pytest.approx(0.1 * 3 * WIDTH**2, abs=1.0)  # the same non-zero budget
    assert allocator.densities["2"] == max(allocator.densities.values()) > 0.15
    assert shared < 0.8 * fixed


def test_budget_falls_cubically_from_the_initial_to_the_target():
    model = lnn.adapt(_network(torch.Generator().manual_seed(0)), method="snell", rank=2)
    allocator = lnn.SparsityAllocator(model, 0.2, steps=100, initial_density=0.8, warmup=0.1,
                                      final=0.2)
    total = 3 * WIDTH**2
    assert allocator.budget(0) == allocator.budget(10) == round(0.8 * total)
    assert allocator.budget(80) == allocator.budget(100) == round(0.2 * total)
    halfway = 0.2 + 0.6 * 0.5**3  # progress 1/2 between steps 10 and 80
    assert allocator.budget(45) == round(halfway * total)
    budgets = [allocator.budget(step) for step in range(101)]
    assert all(a >= b for a, b in zip(budgets, budgets[1:], strict=False))


def test_a_layer_never_takes_more_than_all_its_entries():
    model = lnn.adapt(_network(torch.Generator().manual_seed(0)), method="snell", rank=2)
    allocator = lnn.SparsityAllocator(model, 0.5, steps=10)
    allocator._allocate(torch.tensor([0.98, 0.01, 0.01]), round(0.5 * 3 * WIDTH**2))
    assert allocator.densities["0"] == pytest.approx(1.0)
    assert allocator.densities["2"] == allocator.densities["4"] == pytest.approx(0.25)


def test_per_layer_densities_are_saved_with_the_adapter(tmp_path):
    _, model, allocator = _fit(0, allocate=True, epochs=1)
    lnn.save_adapter(model, tmp_path / "snella")
    base, _, _, held_out = _task(0)
    loaded = lnn.load_adapter(base, tmp_path / "snella")
    for name, layer in lnn.adapter_layers(loaded).items():
        assert float(layer.density) == pytest.approx(allocator.densities[name])
    with torch.no_grad():
        assert torch.allclose(loaded(held_out), model(held_out), atol=1e-6)


def test_a_layer_at_density_zero_adds_nothing():
    layer = lnn.adapt(nn.Sequential(nn.Linear(8, 8)), method="snell", rank=2)[0]
    with torch.no_grad():
        layer.lora_B.fill_(1.0)
    layer.set_density(0.0)
    assert not layer.delta().any()
    with pytest.raises(ValueError, match="density must be in"):
        layer.set_density(1.5)


def test_bad_arguments_are_refused_in_one_line():
    model = lnn.adapt(_network(torch.Generator().manual_seed(0)), method="snell", rank=2)
    with pytest.raises(ValueError, match="no SNELL layers"):
        lnn.SparsityAllocator(lnn.adapt(nn.Sequential(nn.Linear(4, 4)), "lora", 2), 0.1, 10)
    with pytest.raises(ValueError, match="density must be in"):
        lnn.SparsityAllocator(model, 0.0, 10)
    with pytest.raises(ValueError, match="initial_density must be in"):
        lnn.SparsityAllocator(model, 0.3, 10, initial_density=0.2)
    with pytest.raises(ValueError, match="warmup \\+ final"):
        lnn.SparsityAllocator(model, 0.1, 10, warmup=0.5, final=0.5)
    with pytest.raises(ValueError, match="steps must be"):
        lnn.SparsityAllocator(model, 0.1, 0)
