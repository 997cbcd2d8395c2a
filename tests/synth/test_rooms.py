"""Room impulse responses (method.md §6, §9.4): the shipped procedural bank and user banks."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from audiosplat.synth.rooms import (
    PROCEDURAL_BANK,
    PROCEDURAL_RT60_S,
    SHIPPED_BANK_SIZE,
    generate_procedural_bank,
    impulses_sha256,
    procedural_bank,
    user_bank,
)

SR = 22050
N = 65536


@pytest.fixture(scope="module")
def bank():
    return procedural_bank(N, SR)


def _measured_rt60(h: np.ndarray, rt60: float) -> float:
    """RT60 from the slope of the energy envelope (10 ms blocks, in dB) over the late
    decay, from half the nominal RT60 (where the bright-to-dark crossfade has ended) to
    the nominal RT60 or the end of the clip."""
    block = 220
    m = len(h) // block
    energy = (h[: m * block] ** 2).reshape(m, block).mean(-1)
    t = (np.arange(m) + 0.5) * block / SR
    sel = (t > 0.5 * rt60 + 0.02) & (t < min(rt60, len(h) / SR - 0.05))
    slope_db_per_s = np.polyfit(t[sel], 10 * np.log10(energy[sel]), 1)[0]
    return -60.0 / slope_db_per_s


def test_procedural_bank_is_deterministic(bank):
    again = procedural_bank(N, SR)
    assert bank.sha256 == again.sha256
    assert torch.equal(bank.impulses, again.impulses)
    raw = bank.impulses.numpy().astype("<f4").tobytes()
    assert bank.sha256 == hashlib.sha256(raw).hexdigest() == impulses_sha256(bank.impulses)
    # a different length is a different bank (but the same rooms' beginnings)
    short = procedural_bank(4096, SR)
    assert short.sha256 != bank.sha256
    assert short.impulses.shape == (8, 4096)


def test_the_shipped_bank_is_the_generated_one(bank):
    """The bank at the default size is read from a file that ships with the code: it must
    hold exactly what the generator makes (else regenerate it, see rooms.SHIPPED_BANK_FILE)."""
    assert (N, SR) == SHIPPED_BANK_SIZE
    assert torch.equal(bank.impulses, generate_procedural_bank(N, SR))
    procedural_bank(N, SR).impulses.zero_()  # each caller gets its own copy
    assert torch.equal(procedural_bank(N, SR).impulses, bank.impulses)


def test_procedural_bank_metadata(bank):
    assert bank.name == PROCEDURAL_BANK == "procedural-v1"
    assert bank.embedded is False
    assert bank.n_rooms == len(PROCEDURAL_RT60_S) == 8
    assert bank.impulses.shape == (8, N) and bank.impulses.dtype == torch.float32
    assert bank.room_names == tuple(f"rt60-{rt:.2f}s" for rt in PROCEDURAL_RT60_S)
    assert torch.isfinite(bank.impulses).all()


def test_each_room_has_unit_energy_and_decays(bank):
    x = bank.impulses.double().numpy()
    energy = (x**2).sum(-1)
    np.testing.assert_allclose(energy, 1.0, rtol=1e-5)
    q = N // 4
    first, last = (x[:, :q] ** 2).sum(-1), (x[:, -q:] ** 2).sum(-1)
    assert np.all(last < 1e-5 * first)
    # silent before its pre-delay (2 ms per room index), then it starts
    for i in range(8):
        onset = int(0.002 * SR * (1 + i))
        assert np.all(x[i, :onset] == 0) and x[i, onset] != 0


def test_rooms_decay_at_their_rt60(bank):
    x = bank.impulses.double().numpy()
    measured = [_measured_rt60(x[i], rt) for i, rt in enumerate(PROCEDURAL_RT60_S)]
    np.testing.assert_allclose(measured, PROCEDURAL_RT60_S, rtol=0.1)
    # longer RT60, slower decay: energy left after 0.1 s grows with the room
    assert all(a < b for a, b in zip(measured, measured[1:]))
    tail = [(x[i, int(0.1 * SR) :] ** 2).sum() for i in range(8)]
    assert all(a < b for a, b in zip(tail, tail[1:]))


def test_user_bank_normalises_to_unit_energy():
    gen = torch.Generator().manual_seed(0)
    impulses = torch.randn(3, 1024, generator=gen) * torch.tensor([[0.001], [1.0], [250.0]])
    bank = user_bank(["a", "b", "c"], impulses)
    assert bank.name == "user" and bank.embedded is True and bank.room_names == ("a", "b", "c")
    assert bank.impulses.dtype == torch.float32 and bank.impulses.shape == (3, 1024)
    energy = (bank.impulses.double() ** 2).sum(-1)
    torch.testing.assert_close(energy, torch.ones(3, dtype=torch.float64), rtol=1e-6, atol=0)
    # the shape is kept: each row is the input divided by its own norm
    expected = impulses.double() / impulses.double().norm(dim=-1, keepdim=True)
    torch.testing.assert_close(bank.impulses.double(), expected, rtol=1e-6, atol=1e-9)


def test_user_bank_rejects_silent_or_non_finite_impulses():
    good = torch.randn(1, 256, generator=torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match="silent"):
        user_bank(["ok", "quiet"], torch.cat([good, torch.zeros(1, 256)]))
    bad = good.clone()
    bad[0, 10] = float("nan")
    with pytest.raises(ValueError):
        user_bank(["nan"], bad)
    bad[0, 10] = float("inf")
    with pytest.raises(ValueError):
        user_bank(["inf"], bad)
