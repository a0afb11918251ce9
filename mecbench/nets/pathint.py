"""Supervised path integrators: vanilla RNN, UGRNN, LSTM and GRU.

Every network integrates 2-d velocity inputs ``v·dt·(cos θ, sin θ)`` from an initial state that
is a linear encoding of the place-cell code at the start position (Sorscher et al. 2019/2023),
and reports position through a linear readout (:mod:`mecbench.nets.readouts`).

Layers exposed for scoring (activity after each step, shape (B, T, units)):

* ``rnn``: ``g`` — the recurrent state (Sorscher et al.'s grid layer), ``dc`` — the readout.
  ``h_t = act(W_rec h_{t−1} + W_in v_t)`` without bias (Sorscher et al. 2023).
* ``ugrnn``, ``lstm``, ``gru``: ``pre_g`` — the recurrent state, ``g`` — a dense layer after it
  (``g_activation``), ``dc`` — the linear readout of ``g`` (Nayebi et al. 2021's layout).
  UGRNN (Collins et al. 2017 as described by Nayebi et al.):
  ``u = sigmoid(W_u[v, h] + b_u + 1)``, ``c = act(W_c[v, h] + b_c)``, ``h' = u·h + (1 − u)·c``.
  LSTM and GRU follow the textbook equations (PyTorch's gate order), with ``activation`` in
  place of tanh for the candidate/output non-linearity.

``default_layer`` is ``"g"`` for all architectures. All parameters are drawn from a
:class:`torch.Generator` seeded by ``config.seed``: the same config gives the same network in
any process.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mecbench.errors import ModelError
from mecbench.nets.config import PathIntegratorConfig
from mecbench.nets.readouts import Readout, make_place_cells, make_readout

__all__ = ["PathIntegrator", "activation_fn"]

_ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda x: x,
}


def activation_fn(name: str):
    """The element-wise function called ``name`` (validated by the config)."""
    return _ACTIVATIONS[name]


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> nn.Parameter:
    return nn.Parameter((torch.rand(shape, generator=gen) * 2 - 1) * bound)


def _recurrent(n: int, blocks: int, how: str, gen: torch.Generator) -> nn.Parameter:
    """(blocks·n, n) hidden-to-hidden weights, each n×n block initialised as ``how``."""
    mats = []
    for _ in range(blocks):
        if how == "identity":
            mats.append(torch.eye(n))
        elif how == "orthogonal":
            q, r = torch.linalg.qr(torch.randn((n, n), generator=gen, dtype=torch.float64))
            mats.append((q * torch.sign(torch.diagonal(r))).to(torch.float32))
        else:
            mats.append((torch.rand((n, n), generator=gen) * 2 - 1) / math.sqrt(n))
    return nn.Parameter(torch.cat(mats, 0))


class PathIntegrator(nn.Module):
    """A recurrent network trained to path-integrate (see module docstring).

    Parameters
    ----------
    config : PathIntegratorConfig

    Attributes
    ----------
    layer_names : tuple of str
        ``("g", "dc")`` for ``rnn``; ``("pre_g", "g", "dc")`` for gated cells.
    default_layer : str
        ``"g"``.
    readout : Readout
        Targets, loss and decoding.
    """

    default_layer = "g"

    def __init__(self, config: PathIntegratorConfig):
        super().__init__()
        if not isinstance(config, PathIntegratorConfig):
            raise ModelError(f"PathIntegrator needs a PathIntegratorConfig, got "
                             f"{type(config).__name__}")
        self.config = config
        gen = torch.Generator().manual_seed(config.seed)
        ng, arch = config.n_hidden, config.arch
        self.readout: Readout = make_readout(config, gen)
        if not self.readout.is_place_code:
            # metric readouts still start from a place-cell code of the start position
            self.start_cells = make_place_cells(config, "gaussian", gen)
        n_code = self.start_code.n_outputs
        self.act = activation_fn(config.activation)
        self.g_act = activation_fn(config.g_activation)
        blocks = {"rnn": 1, "ugrnn": 2, "lstm": 4, "gru": 3}[arch]
        in_bound = 1 / math.sqrt(2)
        self.encoder = _uniform((ng, n_code), 1 / math.sqrt(n_code), gen)
        if arch == "lstm":
            self.encoder_c = _uniform((ng, n_code), 1 / math.sqrt(n_code), gen)
        self.w_in = _uniform((blocks * ng, 2), in_bound, gen)
        self.w_rec = _recurrent(ng, blocks, config.recurrent_init, gen)
        if arch != "rnn":
            self.b = _uniform((blocks * ng,), 1 / math.sqrt(ng), gen)
            if arch == "gru":
                self.b_rec = _uniform((blocks * ng,), 1 / math.sqrt(ng), gen)
            self.w_g = _uniform((ng, ng), 1 / math.sqrt(ng), gen)
            self.b_g = _uniform((ng,), 1 / math.sqrt(ng), gen)
            self.layer_names: tuple[str, ...] = ("pre_g", "g", "dc")
        else:
            self.layer_names = ("g", "dc")
        n_out = self.readout.n_outputs
        self.w_out = _uniform((n_out, ng), 1 / math.sqrt(ng), gen)
        if not self.readout.is_place_code:  # metric targets need an offset
            self.b_out = nn.Parameter(torch.zeros(n_out))

    # -- public API ---------------------------------------------------------------------------
    @property
    def start_code(self) -> Readout:
        """Place cells whose code at the start position is encoded into the initial state:
        the readout's own cells, or Gaussian cells (``n_place``, ``place_sigma``) for metric
        readouts."""
        return self.readout if self.readout.is_place_code else self.start_cells

    def recurrent_weights(self) -> list[Tensor]:
        """Hidden-to-hidden weights (the only ones under weight decay)."""
        return [self.w_rec]

    def initial_state(self, start: Tensor) -> tuple[Tensor, Tensor | None]:
        """Hidden (and LSTM cell) state encoded from the place-cell code at ``start`` (B, 2)."""
        code = self.start_code.targets(start)
        h0 = code @ self.encoder.T
        c0 = code @ self.encoder_c.T if self.config.arch == "lstm" else None
        return h0, c0

    def forward(self, start: Tensor, velocities: Tensor) -> dict[str, Tensor]:
        """All layers after each step: ``{layer: (B, T, units)}``.

        Parameters
        ----------
        start : Tensor, shape (B, 2)
            Start positions (m).
        velocities : Tensor, shape (B, T, 2)
            Displacement per step (m), ``v·dt·(cos θ, sin θ)``.
        """
        start, velocities = self._check_inputs(start, velocities)
        h, c = self.initial_state(start)
        ng = self.config.n_hidden
        x_all = velocities @ self.w_in.T  # (B, T, blocks·ng): input drive of every step
        arch = self.config.arch
        if arch != "rnn":
            x_all = x_all + self.b
        states = []
        for t in range(velocities.shape[1]):
            x = x_all[:, t]
            if arch == "rnn":
                h = self.act(x + h @ self.w_rec.T)
            elif arch == "ugrnn":
                z = x + h @ self.w_rec.T
                u = torch.sigmoid(z[:, :ng] + 1.0)
                cand = self.act(z[:, ng:])
                h = u * h + (1 - u) * cand
            elif arch == "lstm":
                z = x + h @ self.w_rec.T
                i, f, gg, o = z.split(ng, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.act(gg)
                h = torch.sigmoid(o) * self.act(c)
            else:  # gru
                zr = h @ self.w_rec.T + self.b_rec
                r = torch.sigmoid(x[:, :ng] + zr[:, :ng])
                z = torch.sigmoid(x[:, ng:2 * ng] + zr[:, ng:2 * ng])
                n = self.act(x[:, 2 * ng:] + r * zr[:, 2 * ng:])
                h = (1 - z) * n + z * h
            states.append(h)
        rec = torch.stack(states, 1)
        out: dict[str, Tensor] = {}
        if arch == "rnn":
            g = rec
        else:
            out["pre_g"] = rec
            g = self.g_act(rec @ self.w_g.T + self.b_g)
        out["g"] = g
        dc = g @ self.w_out.T
        if not self.readout.is_place_code:
            dc = dc + self.b_out
        out["dc"] = dc
        return out

    @torch.no_grad()
    def layer_activity(self, start: Tensor, velocities: Tensor) -> dict[str, Tensor]:
        """Activity of every layer after each step (positions[:, 1:]); no gradients."""
        return self.forward(start, velocities)

    def loss_terms(self, start: Tensor, velocities: Tensor,
                   positions: Tensor) -> dict[str, Tensor]:
        """Training objective on one batch.

        Parameters
        ----------
        positions : Tensor, shape (B, T, 2)
            True positions after each step.

        Returns
        -------
        dict with ``loss`` (total, differentiable), ``task`` (readout loss), ``decay`` and the
        network output ``dc``.
        """
        out = self.forward(start, velocities)
        task = self.readout.loss(out["dc"], self.readout.targets(positions))
        decay = sum((w * w).sum() for w in self.recurrent_weights())
        total = task + self.config.weight_decay * decay
        return {"loss": total, "task": task, "decay": decay, "dc": out["dc"]}

    @torch.no_grad()
    def decoding_error(self, output: Tensor, positions: Tensor) -> float:
        """Mean distance (m) between positions decoded from ``output`` and ``positions``."""
        return float(self.readout.decoding_error(output, positions))

    # -- helpers ------------------------------------------------------------------------------
    def _check_inputs(self, start: Tensor, velocities: Tensor) -> tuple[Tensor, Tensor]:
        if start.ndim != 2 or start.shape[-1] != 2:
            raise ModelError(f"start must have shape (B, 2), got {tuple(start.shape)}")
        if velocities.ndim != 3 or velocities.shape[-1] != 2 or \
                velocities.shape[0] != start.shape[0]:
            raise ModelError(f"velocities must have shape (B, T, 2) with B={start.shape[0]}, "
                             f"got {tuple(velocities.shape)}")
        kw = dict(dtype=self.w_rec.dtype, device=self.w_rec.device)
        return start.to(**kw), velocities.to(**kw)
