"""Random-walk trajectories of a simulated rat, vectorised over trajectories (torch, CPU or GPU).

The motion model is the one used to train path-integrating RNNs by Sorscher et al. (2019, 2023)
and Nayebi et al. (2021), restated from their descriptions:

* time step ``dt = 0.02`` s;
* at every step the speed is drawn from a Rayleigh distribution with scale ``0.13·2π`` m/s;
* the heading changes by ``dt·N(0, 11.52 rad/s)`` per step;
* when the agent is within ``0.03`` m of the nearest wall and heading into it (the angle ``a``
  between heading and the wall's outward normal satisfies ``|a| < π/2``), it turns away by
  ``sign(a)·(π/2 − |a|)`` (which makes it parallel to the wall) and its speed for that step is
  multiplied by ``0.25``;
* the start position is uniform in the box, the start heading uniform on the circle.

Order of operations per step ``t`` (as in the reference description): the wall test uses the
position and heading before the step; the step itself moves along the current heading with the
(possibly slowed) speed; the wall turn plus the random turn set the heading of the next step.

Two details the description leaves open, and what we do:

* **The box is never left.** With an unbounded (Rayleigh) speed an agent just outside the
  0.03 m border region can overshoot a wall. We shorten such a step along its heading so that it
  ends on the wall (the reported speed is the shortened one, so ``velocities`` stay exactly
  ``speed·dt·(cos θ, sin θ)`` and integrate to ``positions``). This shortens about 0.4 % of
  the steps in a 2.2 m box.
* **Periodic boundary** (``periodic=True``): there are no walls, no wall avoidance, and positions
  wrap onto the box ``[-W/2, W/2] × [-H/2, H/2]``; velocities are the unwrapped steps.

The box is centred on 0 and may be rectangular.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mecbench.errors import ConfigError

__all__ = [
    "Trajectory",
    "random_walk",
    "make_generator",
    "usable_device",
    "DT",
    "SPEED_SCALE",
    "TURN_STD",
    "BORDER",
    "WALL_SLOWDOWN",
]

DT = 0.02
"""Time step (s)."""
SPEED_SCALE = 0.13 * 2 * math.pi
"""Scale parameter of the Rayleigh-distributed speed (m/s)."""
TURN_STD = 11.52
"""Standard deviation of the angular velocity (rad/s); per step the heading changes by
``dt·N(0, TURN_STD)``."""
BORDER = 0.03
"""Distance from a wall (m) within which the agent turns away when heading into it."""
WALL_SLOWDOWN = 0.25
"""Speed factor applied while turning away from a wall."""

_TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class Trajectory:
    """A batch of random-walk trajectories.

    Attributes
    ----------
    positions : Tensor, shape (B, T+1, 2)
        Positions (m), including the start at index 0.
    velocities : Tensor, shape (B, T, 2)
        Displacement of each step (m), ``speed·dt·(cos heading, sin heading)``;
        ``positions[:, t+1] = positions[:, t] + velocities[:, t]`` (modulo the box when periodic).
    speed : Tensor, shape (B, T)
        Speed of each step (m/s), after the wall slowdown.
    heading : Tensor, shape (B, T)
        Direction of each step (rad, in ``(-π, π]``).
    start : Tensor, shape (B, 2)
        Start positions, equal to ``positions[:, 0]``.
    dt : float
        Time step (s).
    arena_width, arena_height : float
        Size of the box (m), centred on 0.
    periodic : bool
        Whether the box wraps around.
    """

    positions: torch.Tensor
    velocities: torch.Tensor
    speed: torch.Tensor
    heading: torch.Tensor
    start: torch.Tensor
    dt: float
    arena_width: float
    arena_height: float
    periodic: bool

    @property
    def n_trajectories(self) -> int:
        """Number of trajectories B."""
        return int(self.positions.shape[0])

    @property
    def n_steps(self) -> int:
        """Number of steps T."""
        return int(self.velocities.shape[1])

    def to(self, device: str | torch.device) -> Trajectory:
        """A copy on another device."""
        return Trajectory(
            *(getattr(self, f).to(device) for f in
              ("positions", "velocities", "speed", "heading", "start")),
            dt=self.dt, arena_width=self.arena_width, arena_height=self.arena_height,
            periodic=self.periodic,
        )


def usable_device(device: str | torch.device, name: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` of type cpu or cuda; a :class:`ConfigError` naming
    ``name`` (e.g. ``"--device"``) when it is malformed, of another type, or absent here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{name} {device!r}: not a torch device (use cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{name} cuda: CUDA is not available on this machine")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"{name} {device!r}: use cpu or cuda")
    return dev


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (never the global RNG)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    gen = torch.Generator(device=usable_device(device))
    gen.manual_seed(int(seed))
    return gen


def _wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """Angles wrapped into (-π, π]."""
    return math.pi - torch.remainder(math.pi - a, _TWO_PI)


def _check_positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a positive number, got {value!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return value


def _check_walk_args(
    n_trajectories: int, n_steps: int, arena_width: float, arena_height: float | None,
    dt: float, seed: int, device: str | torch.device, dtype: torch.dtype,
    generator: torch.Generator | None,
) -> tuple[float, float, float, torch.device, torch.Generator]:
    """Validated ``(width, height, dt, device, generator)`` of a :func:`random_walk` call."""
    for name, value in (("n_trajectories", n_trajectories), ("n_steps", n_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    width = _check_positive("arena_width", arena_width)
    height = width if arena_height is None else _check_positive("arena_height", arena_height)
    dt = _check_positive("dt", dt)
    if not dtype.is_floating_point:
        raise ConfigError(f"dtype must be a floating-point torch dtype, got {dtype}")
    device = usable_device(device)
    if generator is None:
        gen = make_generator(seed, device)
    elif not isinstance(generator, torch.Generator):
        raise ConfigError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    else:
        gen = generator
    return width, height, dt, device, gen


def _avoid_walls(
    pos: torch.Tensor, theta: torch.Tensor, direction: torch.Tensor, v: torch.Tensor,
    turn: torch.Tensor, half: torch.Tensor, wall_normals: torch.Tensor, dt: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Speed and turn of one step after the wall slowdown/turn and the no-crossing cap."""
    # distances to the walls at +x, +y, -x, -y and the heading relative to their normals
    d_wall = torch.cat([half - pos, half + pos], dim=-1)
    nearest = torch.argmin(d_wall, dim=-1)
    d_min = d_wall.gather(-1, nearest[:, None])[:, 0]
    a = _wrap_angle(theta - wall_normals[nearest])
    near = (d_min < BORDER) & (a.abs() < math.pi / 2)
    v = torch.where(near, v * WALL_SLOWDOWN, v)
    turn = turn + torch.where(near, torch.sign(a) * (math.pi / 2 - a.abs()),
                              torch.zeros_like(a))
    # shorten a step that would cross a wall so that it ends on the wall
    room = torch.where(direction > 0, half - pos,
                       torch.where(direction < 0, -half - pos, torch.full_like(pos, 1.0)))
    safe = torch.where(direction != 0, direction, torch.ones_like(direction))
    reach = torch.where(direction != 0, room / safe, torch.full_like(pos, math.inf))
    max_speed = reach.clamp(min=0).amin(dim=-1) / dt
    return torch.minimum(v, max_speed), turn


def random_walk(
    n_trajectories: int,
    n_steps: int,
    *,
    arena_width: float,
    arena_height: float | None = None,
    dt: float = DT,
    seed: int = 0,
    device: str | torch.device = "cpu",
    periodic: bool = False,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> Trajectory:
    """Simulate ``n_trajectories`` random walks of ``n_steps`` steps in a box centred on 0.

    Follows the motion model of Sorscher et al. (2019, 2023) described in the module docstring.
    All trajectories advance together (one vectorised update per time step).

    Parameters
    ----------
    n_trajectories : int
        Batch size B.
    n_steps : int
        Number of steps T (the reference protocol uses 20).
    arena_width : float
        Width of the box along x (m).
    arena_height : float, optional
        Height along y (m); default ``arena_width``.
    dt : float
        Time step (s).
    seed : int
        Seed of the ``torch.Generator`` that draws every random number; the same seed gives
        identical trajectories on CPU.
    device : str or torch.device
        Where to simulate (``"cpu"``, ``"cuda"``...).
    periodic : bool
        Wrap around the box instead of avoiding walls.
    dtype : torch.dtype
        Floating-point type of the results.
    generator : torch.Generator, optional
        Draw from this generator (on ``device``) instead of a new one seeded with ``seed``;
        successive calls then continue one random stream (used to simulate many batches).

    Returns
    -------
    Trajectory

    Raises
    ------
    ConfigError
        On a non-positive size, count or time step, or a negative seed.
    """
    width, height, dt, device, gen = _check_walk_args(
        n_trajectories, n_steps, arena_width, arena_height, dt, seed, device, dtype, generator)
    B, T = n_trajectories, n_steps
    kw = {"generator": gen, "device": device, "dtype": dtype}

    # Every random number is drawn up front, in a fixed order, from one generator.
    start = (torch.rand(B, 2, **kw) - 0.5) * torch.tensor([width, height], device=device,
                                                          dtype=dtype)
    heading0 = (torch.rand(B, **kw) * 2 - 1) * math.pi
    # Rayleigh(σ) = σ·sqrt(−2 ln U) with U uniform on (0, 1]
    u = 1.0 - torch.rand(B, T, **kw)
    speed_draw = SPEED_SCALE * torch.sqrt(-2.0 * torch.log(u))
    turn_noise = dt * TURN_STD * torch.randn(B, T, **kw)

    half = torch.tensor([width / 2, height / 2], device=device, dtype=dtype)
    wall_normals = torch.tensor([0.0, math.pi / 2, math.pi, -math.pi / 2], device=device,
                                dtype=dtype)
    positions = torch.empty(B, T + 1, 2, device=device, dtype=dtype)
    velocities = torch.empty(B, T, 2, device=device, dtype=dtype)
    speed = torch.empty(B, T, device=device, dtype=dtype)
    headings = torch.empty(B, T, device=device, dtype=dtype)
    positions[:, 0] = start
    pos = start.clone()
    theta = heading0
    for t in range(T):
        direction = torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)
        v = speed_draw[:, t]
        turn = turn_noise[:, t]
        if not periodic:
            v, turn = _avoid_walls(pos, theta, direction, v, turn, half, wall_normals, dt)
        step = (v * dt)[:, None] * direction
        new = pos + step
        if periodic:
            new = torch.remainder(new + half, 2 * half) - half
        else:
            new = torch.maximum(torch.minimum(new, half), -half)
        velocities[:, t] = step
        speed[:, t] = v
        headings[:, t] = _wrap_angle(theta)
        positions[:, t + 1] = new
        pos = new
        theta = theta + turn
    return Trajectory(
        positions=positions, velocities=velocities, speed=speed, heading=headings,
        start=start, dt=dt, arena_width=width, arena_height=height, periodic=bool(periodic),
    )
