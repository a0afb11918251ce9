"""Self-supervised grid model of Schaeffer, Khona et al. (NeurIPS 2023).

The network has no positional readout. Its state ``g`` lives on the positive orthant of the
unit sphere and is updated by a velocity-dependent linear map:

``g_t = Norm(ReLU(W(v_t) g_{t−1}))``, ``W(v) = MLP(v) ∈ R^{N×N}``, ``Norm(z) = z / ‖z‖``.

The MLP is 2 → H → H → N² (three linear layers). Its last bias is initialised to the
flattened identity so that W(v) ≈ I at initialisation (a standing start; our choice).

A training batch is **one** trajectory of T velocities (uniform per component in
±``max_step``) and B random permutations of it; all start from the shared state ``g_0``, so
positions (cumulative sums) coincide at many points, which the losses exploit
(:func:`ssl_losses`, Schaeffer, Khona et al. 2023):

* separation: mean over pairs with ‖x − x'‖ > σx of ``exp(−‖g − g'‖²/2σg²)``;
* invariance: mean over pairs (i ≠ j) with ‖x − x'‖ < σx of ``‖g − g'‖²``;
* capacity: ``−‖mean g‖²``;
* conformal isometry: ``Var(‖g_t − g_{t−1}‖ / ‖v_t‖)`` over steps with 0 < ‖v_t‖ < σx.

Pairs run over all (permutation, time) states of the batch. The paper writes sums; we use means
over each pair set so that the loss weights do not depend on the batch size.

For scoring (:meth:`SSLGridNet.layer_activity`), ``g_0`` represents the arena centre: the
network first integrates a straight "homing" path from the centre to each start position in
equal steps no longer than ``max_step`` per component, then the given velocities.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mecbench.errors import ModelError
from mecbench.nets.config import SSLGridConfig
from mecbench.nets.pathint import activation_fn

__all__ = ["SSLGridNet", "ssl_batch", "ssl_losses", "nearest_neighbour_error"]

_EPS = 1e-12


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> nn.Parameter:
    return nn.Parameter((torch.rand(shape, generator=gen) * 2 - 1) * bound)


class SSLGridNet(nn.Module):
    """Velocity-conditioned normalised-ReLU recurrence (see module docstring).

    Parameters
    ----------
    config : SSLGridConfig
    """

    layer_names: tuple[str, ...] = ("g",)
    default_layer = "g"

    def __init__(self, config: SSLGridConfig):
        super().__init__()
        if not isinstance(config, SSLGridConfig):
            raise ModelError(f"SSLGridNet needs an SSLGridConfig, got {type(config).__name__}")
        self.config = config
        gen = torch.Generator().manual_seed(config.seed)
        n, h = config.n_units, config.mlp_hidden
        self.act = activation_fn(config.mlp_activation)
        self.w1 = _uniform((h, 2), 1 / math.sqrt(2), gen)
        self.b1 = _uniform((h,), 1 / math.sqrt(2), gen)
        self.w2 = _uniform((h, h), 1 / math.sqrt(h), gen)
        self.b2 = _uniform((h,), 1 / math.sqrt(h), gen)
        self.w3 = _uniform((n * n, h), 1 / math.sqrt(h), gen)
        self.b3 = nn.Parameter(torch.eye(n).reshape(-1).clone())
        g0 = torch.rand((n,), generator=gen)
        self.register_buffer("g0", g0 / g0.norm())

    # -- dynamics -----------------------------------------------------------------------------
    def transition(self, v: Tensor) -> Tensor:
        """W(v): (..., 2) → (..., N, N), velocities in m per step."""
        n = self.config.n_units
        z = self.act(v @ self.w1.T + self.b1)
        z = self.act(z @ self.w2.T + self.b2)
        return (z @ self.w3.T + self.b3).reshape(*v.shape[:-1], n, n)

    @staticmethod
    def _norm_relu(z: Tensor) -> Tensor:
        z = torch.relu(z)
        return z / (z.norm(dim=-1, keepdim=True) + _EPS)

    def integrate(self, velocities: Tensor, g_start: Tensor | None = None) -> Tensor:
        """States after each step, (B, T, N), from ``g_start`` (B, N) or the shared ``g_0``."""
        b, t, _ = velocities.shape
        g = self.g0.expand(b, -1) if g_start is None else g_start
        mats = self.transition(velocities)  # (B, T, N, N)
        states = []
        for k in range(t):
            g = self._norm_relu(torch.bmm(mats[:, k], g.unsqueeze(-1)).squeeze(-1))
            states.append(g)
        return torch.stack(states, 1)

    def integrate_permutations(self, steps: Tensor, perms: Tensor) -> Tensor:
        """States for B permutations of one velocity sequence.

        Parameters
        ----------
        steps : Tensor, shape (T, 2)
            The velocities.
        perms : LongTensor, shape (B, T)
            Row b is the order in which permutation b visits ``steps``.

        W(v) is evaluated once per distinct velocity (T calls, not B·T).
        """
        mats = self.transition(steps)  # (T, N, N)
        b = perms.shape[0]
        g = self.g0.expand(b, -1)
        states = []
        for k in range(perms.shape[1]):
            g = self._norm_relu(torch.bmm(mats[perms[:, k]], g.unsqueeze(-1)).squeeze(-1))
            states.append(g)
        return torch.stack(states, 1)

    def forward(self, velocities: Tensor) -> Tensor:
        """States (B, T, N) after each of ``velocities`` (B, T, 2), starting from ``g_0``."""
        return self.integrate(velocities)

    @torch.no_grad()
    def layer_activity(self, start: Tensor, velocities: Tensor) -> dict[str, Tensor]:
        """``{"g": (B, T, N)}`` along trajectories that start at ``start`` (B, 2).

        The state at ``start`` is reached by integrating a straight path from the arena centre
        (where ``g_0`` sits) in ``ceil(max(|x|, |y|) / max_step)`` equal steps, so each
        trajectory's homing depends only on its own start.
        """
        kw = dict(dtype=self.w1.dtype, device=self.w1.device)
        start, velocities = start.to(**kw), velocities.to(**kw)
        if start.ndim != 2 or start.shape[-1] != 2 or velocities.ndim != 3 or \
                velocities.shape[-1] != 2 or velocities.shape[0] != start.shape[0]:
            raise ModelError(f"expected start (B, 2) and velocities (B, T, 2), got "
                             f"{tuple(start.shape)} and {tuple(velocities.shape)}")
        # each trajectory homes in ceil(max|start| / max_step) equal steps, whatever else is
        # in the batch (trajectories sharing a step count are integrated together)
        n_home = torch.ceil(start.abs().amax(-1) / self.config.max_step).long()
        g = self.g0.expand(start.shape[0], -1).clone()
        for n in torch.unique(n_home).tolist():
            if n == 0:
                continue
            rows = torch.nonzero(n_home == n).squeeze(1)
            home = (start[rows] / n).unsqueeze(1).expand(-1, n, -1)
            g[rows] = self.integrate(home)[:, -1]
        return {"g": self.integrate(velocities, g)}


def ssl_batch(config: SSLGridConfig, seed: int,
              device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
    """One training batch: velocities (T, 2) and permutations (B, T), seeded.

    Velocities are uniform in ±``max_step`` per component; permutation b visits them in the
    order ``perms[b]``.
    """
    gen = torch.Generator().manual_seed(int(seed))
    t, b = config.seq_len, config.n_permutations
    steps = (torch.rand((t, 2), generator=gen) * 2 - 1) * config.max_step
    perms = torch.argsort(torch.rand((b, t), generator=gen), dim=1)
    return steps.to(device), perms.to(device)


def _sq_dists(a: Tensor) -> Tensor:
    sq = (a * a).sum(-1)
    return (sq[:, None] + sq[None, :] - 2 * a @ a.T).clamp_min(0)


def ssl_losses(g: Tensor, positions: Tensor, velocities: Tensor, g_prev: Tensor,
               config: SSLGridConfig) -> dict[str, Tensor]:
    """The four losses and their weighted sum.

    Parameters
    ----------
    g : Tensor, shape (B, T, N)
        States after each step.
    positions : Tensor, shape (B, T, 2)
        Positions after each step (cumulative sums of ``velocities``).
    velocities : Tensor, shape (B, T, 2)
    g_prev : Tensor, shape (B, T, N)
        States before each step.
    config : SSLGridConfig

    Returns
    -------
    dict with ``loss``, ``separation``, ``invariance``, ``capacity``, ``conformal``.
    """
    n_pts = g.shape[0] * g.shape[1]
    flat_g = g.reshape(n_pts, -1)
    dx2 = _sq_dists(positions.reshape(n_pts, 2).to(torch.float64))
    dg2 = _sq_dists(flat_g)
    far = dx2 > config.sigma_x**2
    near = (dx2 < config.sigma_x**2) & ~torch.eye(n_pts, dtype=torch.bool, device=g.device)
    kernel = torch.exp(-dg2 / (2 * config.sigma_g**2))
    zero = g.new_zeros(())
    sep = (kernel * far).sum() / far.sum() if bool(far.any()) else zero
    inv = (dg2 * near).sum() / near.sum() if bool(near.any()) else zero
    cap = -(flat_g.mean(0) ** 2).sum()
    speed = velocities.norm(dim=-1)
    ok = (speed > 0) & (speed < config.sigma_x)
    if int(ok.sum()) >= 2:
        ratio = (g - g_prev).norm(dim=-1)[ok] / speed[ok]
        conf = ratio.var(unbiased=False)
    else:
        conf = zero
    total = (config.w_separation * sep + config.w_invariance * inv + config.w_capacity * cap
             + config.w_conformal * conf)
    return {"loss": total, "separation": sep, "invariance": inv, "capacity": cap,
            "conformal": conf}


@torch.no_grad()
def nearest_neighbour_error(g: Tensor, positions: Tensor) -> float:
    """Position decoding error (m) of a code without readout.

    Each state of permutation b is decoded as the position of its nearest state (Euclidean in
    g) among the *other* permutations of the batch; returns the mean distance to the truth.

    Parameters
    ----------
    g : Tensor, shape (B, T, N)
    positions : Tensor, shape (B, T, 2)
    """
    b, t, _ = g.shape
    if b < 2:
        raise ModelError("nearest-neighbour decoding needs at least 2 trajectories")
    flat = g.reshape(b * t, -1)
    d = _sq_dists(flat)
    owner = torch.arange(b, device=g.device).repeat_interleave(t)
    d = d.masked_fill(owner[:, None] == owner[None, :], float("inf"))
    nn_idx = d.argmin(1)
    pos = positions.reshape(b * t, 2)
    return float((pos[nn_idx] - pos).norm(dim=-1).mean())
