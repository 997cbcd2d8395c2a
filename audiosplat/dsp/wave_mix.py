"""Mixing the wavetable's rows by per-event weights that are mostly zero.

A direct model's event weighs only the rows within a few pitches of its own (its Gaussian
pitch bump underflows to exactly 0 about 5 grid steps out at the default width), so of the
(E, W) @ (W, L) product, ~90% multiplies zeros. Events are mixed a group at a time over the runs of rows
the group uses: for 64 events of 512 waves at L = 65536, about a sixth of the
multiply-adds and of the reading of the table.
"""

from __future__ import annotations

import torch

GROUP_EVENTS = 8  # events mixed together: their rows are read once for all of them
DENSE_ABOVE = 0.5  # the plain product when the groups would multiply more than this fraction of it
MAX_RUNS = 64  # ... or would take more than this many small products


def mix_waves(weights: torch.Tensor, waves: torch.Tensor) -> torch.Tensor:
    """weights (E, W) @ waves (W, L) -> (E, L), skipping the rows no event of a group uses.

    The gradient of a weight that is exactly 0 comes out as 0 (the product's own would be
    its row against the output's gradient). Both models make their weights with functions
    that are flat where they are 0 (relu; a Gaussian underflowed to 0), so their
    parameters' gradients are the same as through the plain product.
    """
    groups = _groups(weights.detach() != 0)
    if groups is None:
        return weights @ waves
    mixed, order = [], []
    for rows, runs in groups:
        part = weights[rows.to(weights.device)]
        out = None
        for first, last in runs:
            out = part[:, first:last] @ waves[first:last] if out is None else torch.addmm(out, part[:, first:last], waves[first:last])
        mixed.append(out)
        order.append(rows)
    mixed, order = torch.cat(mixed), torch.cat(order)
    # index_copy puts rows back in order with a backward pass that gathers (see synth.render_placed)
    return mixed.new_empty(mixed.shape).index_copy(0, order.to(mixed.device), mixed)


def _groups(used: torch.Tensor) -> list[tuple[torch.Tensor, list[tuple[int, int]]]] | None:
    """Events in groups of GROUP_EVENTS, in the order of the first row each uses (so a
    group's events use nearby rows), each with the [first, last) runs of rows that any of
    them uses; None where the plain product would be as cheap. (E, W) bool -> groups."""
    n_events, n_waves = used.shape
    used = used.cpu()
    first_used = torch.where(used.any(dim=1), used.to(torch.int8).argmax(dim=1), n_waves)
    order = torch.argsort(first_used, stable=True)
    groups, cost, n_runs = [], 0, 0
    for start in range(0, n_events, GROUP_EVENTS):
        rows = order[start : start + GROUP_EVENTS]
        columns = used[rows].any(dim=0)
        if not columns.any():  # silent events: a product of no rows is not defined, use one
            columns[0] = True
        edges = torch.diff(columns.to(torch.int8), prepend=torch.zeros(1, dtype=torch.int8), append=torch.zeros(1, dtype=torch.int8))
        starts, ends = (edges == 1).nonzero()[:, 0].tolist(), (edges == -1).nonzero()[:, 0].tolist()
        groups.append((rows, list(zip(starts, ends))))
        cost += len(rows) * int(columns.sum())
        n_runs += len(starts)
    if cost > DENSE_ABOVE * n_events * n_waves or n_runs > MAX_RUNS:
        return None
    return groups
