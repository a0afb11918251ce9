"""Readout targets of the path integrators: place-cell codes and metric coordinates.

A readout turns true positions into training targets, scores the network's linear output
against them, and decodes a position back from that output:

* :class:`DoSPlaceCells` — difference of softmaxes (Sorscher et al. 2019/2023): for centres
  c_i and distance d_i = ‖x − c_i‖,

  ``softmax_i(−d²/2σ²) − softmax_i(−d²/(2·s·σ²))``

  with ``s`` = ``surround_scale`` a **variance** ratio (surround variance s·σ², std √s·σ; the
  convention of Sorscher et al.'s code). The No-Free-Lunch code of
  Schaeffer et al. 2022 uses std s·σ instead; with s = 2 that is a wider surround (variance
  4σ²). Each code is then shifted by its minimum over cells to be ≥ 0 and renormalised to
  sum 1, so it can be the target of a cross-entropy.
* :class:`GaussianPlaceCells` — the centre term alone, ``softmax_i(−d²/2σ²)``.
* :class:`MultiFieldPlaceCells` — heterogeneous place cells (Schaeffer et al. 2022): cell i has
  1 + Poisson(m − 1) fields, each with its own centre and a width σ drawn log-uniformly from a
  range; the code is ``softmax_i(log Σ_f exp(−d_f²/2σ_f²))`` (sum of the cell's Gaussian
  fields, normalised over cells).
* :class:`CartesianReadout` — (x, y) with a mean-squared-error loss.
* :class:`PolarReadout` — (r, θ) about the arena centre with loss
  ``(r̂ − r)² + 2(1 − cos(θ̂ − θ))`` (the angular term is the wrapped squared error for small
  errors).

Place-cell losses are the cross-entropy ``−Σ_i y_i log softmax_i(output)``. Centres are
uniform in the box, drawn from a seeded :class:`torch.Generator`, and stored as buffers so they
travel with the checkpoint.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mecbench.errors import UnknownIdentifierError
from mecbench.nets.config import PLACE_CELL_READOUTS, READOUTS, PathIntegratorConfig

__all__ = [
    "Readout",
    "PlaceCellReadout",
    "DoSPlaceCells",
    "GaussianPlaceCells",
    "MultiFieldPlaceCells",
    "CartesianReadout",
    "PolarReadout",
    "make_readout",
    "make_place_cells",
]


def _uniform_in_box(n: int, width: float, height: float, generator: torch.Generator) -> Tensor:
    u = torch.rand((n, 2), generator=generator, dtype=torch.float64)
    scale = torch.tensor([width, height], dtype=torch.float64)
    return ((u - 0.5) * scale).to(torch.float32)


class Readout(nn.Module):
    """Base class: maps positions to targets, scores outputs, decodes positions."""

    #: Number of linear outputs the network must produce.
    n_outputs: int
    #: Whether the code is a probability vector (cross-entropy target).
    is_place_code: bool = False

    def targets(self, positions: Tensor) -> Tensor:
        """Targets for positions of shape (..., 2) → (..., n_outputs)."""
        raise NotImplementedError

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Mean loss over all leading dims."""
        raise NotImplementedError

    def decode(self, output: Tensor) -> Tensor:
        """Positions (..., 2) read out of network outputs (..., n_outputs)."""
        raise NotImplementedError

    def decoding_error(self, output: Tensor, positions: Tensor) -> Tensor:
        """Mean Euclidean distance (m) between decoded and true positions."""
        return (self.decode(output) - positions).norm(dim=-1).mean()


class PlaceCellReadout(Readout):
    """Common machinery of single-field place-cell codes (centres, distances, decoding).

    Parameters
    ----------
    n_cells : int
        Number of place cells.
    sigma : float
        Field width σ (m).
    arena_width, arena_height : float
        Box (m) centred on 0; centres are uniform in it.
    periodic : bool
        Wrap displacements on the torus of the box.
    top_k : int
        Decoding: mean of the centres of the ``top_k`` most active cells.
    generator : torch.Generator
        Draws the centres.
    """

    is_place_code = True

    def __init__(self, n_cells: int, sigma: float, arena_width: float, arena_height: float,
                 *, periodic: bool = False, top_k: int = 3,
                 generator: torch.Generator | None = None):
        super().__init__()
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.n_outputs = int(n_cells)
        self.sigma = float(sigma)
        self.periodic = bool(periodic)
        self.top_k = int(top_k)
        self.box = (float(arena_width), float(arena_height))
        self.register_buffer("centres", _uniform_in_box(n_cells, *self.box, generator))

    def _sq_dist(self, positions: Tensor, centres: Tensor) -> Tensor:
        """Squared distances (..., n_centres) from positions (..., 2)."""
        diff = positions.unsqueeze(-2).to(centres.dtype) - centres
        if self.periodic:
            box = torch.tensor(self.box, dtype=diff.dtype, device=diff.device)
            diff = torch.remainder(diff + box / 2, box) - box / 2
        return (diff * diff).sum(-1)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy between the target code and softmax(output), averaged."""
        return -(target * torch.log_softmax(output, dim=-1)).sum(-1).mean()

    def decode(self, output: Tensor) -> Tensor:
        """Mean of the centres of the ``top_k`` most active cells (Sorscher et al.)."""
        idx = torch.topk(output, self.top_k, dim=-1).indices
        return self.centres[idx].mean(-2)


class GaussianPlaceCells(PlaceCellReadout):
    """Gaussian place cells: ``softmax_i(−‖x − c_i‖²/2σ²)``."""

    def targets(self, positions: Tensor) -> Tensor:
        return torch.softmax(-self._sq_dist(positions, self.centres) / (2 * self.sigma**2), -1)


class DoSPlaceCells(PlaceCellReadout):
    """Difference-of-softmaxes place cells with a surround variance ratio ``surround_scale``.

    The surround has variance ``surround_scale · σ²`` (Sorscher et al.'s convention); the code is
    shifted by its per-position minimum over cells and renormalised to sum 1.
    """

    def __init__(self, *args, surround_scale: float = 2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.surround_scale = float(surround_scale)

    def targets(self, positions: Tensor) -> Tensor:
        d2 = self._sq_dist(positions, self.centres)
        centre = torch.softmax(-d2 / (2 * self.sigma**2), -1)
        surround = torch.softmax(-d2 / (2 * self.surround_scale * self.sigma**2), -1)
        code = centre - surround
        code = code - code.min(-1, keepdim=True).values
        return code / code.sum(-1, keepdim=True)


class MultiFieldPlaceCells(PlaceCellReadout):
    """Place cells with several fields of heterogeneous widths (Schaeffer et al. 2022).

    Cell i has ``1 + Poisson(mean_fields − 1)`` fields (capped at 8); each field's σ is drawn
    log-uniformly from ``sigma_range``. Fields are stored padded: ``field_centres``
    (Np, K, 2), ``field_sigmas`` (Np, K) and ``field_mask`` (Np, K). The code is the softmax
    over cells of ``log Σ_f exp(−d_f²/2σ_f²)``. Decoding picks the position of a 2 cm grid
    whose code q maximises Σ_i p_i log q_i with p = softmax(output) (top-k centres are not
    meaningful when cells have several fields).
    """

    max_fields = 8

    def __init__(self, n_cells: int, arena_width: float, arena_height: float, *,
                 mean_fields: float = 2.0, sigma_range: tuple[float, float] = (0.06, 0.24),
                 periodic: bool = False, generator: torch.Generator | None = None,
                 decode_resolution: float = 0.02):
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        super().__init__(n_cells, math.sqrt(sigma_range[0] * sigma_range[1]), arena_width,
                         arena_height, periodic=periodic, top_k=1, generator=generator)
        rate = torch.full((n_cells,), float(mean_fields) - 1.0, dtype=torch.float64)
        counts = 1 + torch.poisson(rate, generator=generator).clamp(max=self.max_fields - 1)
        k = int(counts.max())
        centres = _uniform_in_box(n_cells * k, *self.box, generator).reshape(n_cells, k, 2)
        lo, hi = math.log(sigma_range[0]), math.log(sigma_range[1])
        u = torch.rand((n_cells, k), generator=generator, dtype=torch.float64)
        sigmas = torch.exp(lo + (hi - lo) * u).to(torch.float32)
        mask = torch.arange(k)[None, :] < counts[:, None].long()
        self.register_buffer("field_centres", centres)
        self.register_buffer("field_sigmas", sigmas)
        self.register_buffer("field_mask", mask)
        # the first field of each cell doubles as its nominal centre
        self.centres = centres[:, 0].clone()
        self.decode_resolution = float(decode_resolution)

    def _log_activity(self, positions: Tensor) -> Tensor:
        n, k = self.field_sigmas.shape
        d2 = self._sq_dist(positions, self.field_centres.reshape(n * k, 2))
        d2 = d2.reshape(*d2.shape[:-1], n, k)
        logits = -d2 / (2 * self.field_sigmas**2)
        logits = logits.masked_fill(~self.field_mask, float("-inf"))
        return torch.logsumexp(logits, dim=-1)

    def targets(self, positions: Tensor) -> Tensor:
        return torch.softmax(self._log_activity(positions), -1)

    def _templates(self) -> tuple[Tensor, Tensor]:
        """Grid positions and the log of their codes (cached per device)."""
        device = self.field_centres.device
        cached = getattr(self, "_template_cache", None)
        if cached is not None and cached[0].device == device:
            return cached
        w, h = self.box
        r = self.decode_resolution
        xs = torch.arange(-w / 2 + r / 2, w / 2, r, device=device)
        ys = torch.arange(-h / 2 + r / 2, h / 2, r, device=device)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
        with torch.no_grad():
            log_codes = torch.log_softmax(self._log_activity(grid), -1)
        self._template_cache = (grid, log_codes)
        return grid, log_codes

    def decode(self, output: Tensor) -> Tensor:
        """The grid position whose code q maximises Σ_i p_i log q_i, p = softmax(output)
        (the position under which the network's output is most likely)."""
        grid, log_codes = self._templates()
        p = torch.softmax(output.detach(), -1)
        flat = p.reshape(-1, p.shape[-1])
        best = torch.cat([(chunk @ log_codes.T).argmax(-1) for chunk in flat.split(4096)])
        return grid[best].reshape(*output.shape[:-1], 2)


class CartesianReadout(Readout):
    """(x, y) in metres; loss = mean over samples of the squared Euclidean error."""

    n_outputs = 2

    def targets(self, positions: Tensor) -> Tensor:
        return positions

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return ((output - target) ** 2).sum(-1).mean()

    def decode(self, output: Tensor) -> Tensor:
        return output


class PolarReadout(Readout):
    """(r, θ) about the arena centre; loss ``(r̂ − r)² + 2(1 − cos(θ̂ − θ))``."""

    n_outputs = 2

    def targets(self, positions: Tensor) -> Tensor:
        r = positions.norm(dim=-1)
        theta = torch.atan2(positions[..., 1], positions[..., 0])
        return torch.stack([r, theta], -1)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        radial = (output[..., 0] - target[..., 0]) ** 2
        angular = 2 * (1 - torch.cos(output[..., 1] - target[..., 1]))
        return (radial + angular).mean()

    def decode(self, output: Tensor) -> Tensor:
        r, theta = output[..., 0], output[..., 1]
        return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], -1)


def make_place_cells(config: PathIntegratorConfig, kind: str,
                     generator: torch.Generator) -> PlaceCellReadout:
    """Place cells of ``kind`` ("dos", "gaussian", "multifield") sized by ``config``."""
    if kind not in PLACE_CELL_READOUTS:
        raise UnknownIdentifierError("place-cell readout", kind, PLACE_CELL_READOUTS)
    box = (config.arena_width, config.arena_height)
    if kind == "multifield":
        return MultiFieldPlaceCells(config.n_place, *box, mean_fields=config.multifield_mean_fields,
                                    sigma_range=config.multifield_sigma_range,
                                    periodic=config.periodic, generator=generator)
    common = dict(periodic=config.periodic, top_k=config.decode_top_k, generator=generator)
    if kind == "dos":
        return DoSPlaceCells(config.n_place, config.place_sigma, *box,
                             surround_scale=config.surround_scale, **common)
    return GaussianPlaceCells(config.n_place, config.place_sigma, *box, **common)


def make_readout(config: PathIntegratorConfig, generator: torch.Generator) -> Readout:
    """The readout named by ``config.readout``."""
    if config.readout not in READOUTS:
        raise UnknownIdentifierError("readout", config.readout, READOUTS)
    if config.readout == "cartesian":
        return CartesianReadout()
    if config.readout == "polar":
        return PolarReadout()
    return make_place_cells(config, config.readout, generator)
