"""Open-field sessions of a simulated rat: positions, head direction and speed at 50 Hz (numpy).

The motion model is a stochastic process whose statistics were matched to the three rats of
../shared/data/real-mec (Sargolini et al. 2006, 1 m box, 600 s each; see the README of this
plugin for the measured numbers):

* **Speed** is a stationary Ornstein–Uhlenbeck (OU) process ``z`` (unit variance, time constant
  ``speed_tau``) mapped through the normal CDF and the inverse CDF of a gamma distribution
  (shape ``speed_shape``, scale ``speed_scale``), so the marginal speed distribution is that
  gamma distribution (fitted to the real rats) and its autocorrelation decays over
  ``speed_tau``. Each animal's speed is scaled by a per-animal factor.
* **Heading** (direction of running) integrates an OU angular velocity (s.d. ``turn_sd``,
  time constant ``turn_tau``) plus a pull towards the current *goal* (``goal_gain`` rad/s per
  rad of heading error): rats forage for scattered food. A new goal is drawn on arrival
  (``goal_radius``) or after ``goal_timeout``: the least visited (on a ``goal_cell`` grid) of
  ``goal_candidates`` points drawn uniformly in the box, a fraction ``goal_wall_fraction`` of
  them on a wall. Without this the 2.2 m box is badly covered in 30 min and walls are
  under-visited, unlike real rats.
* **Walls**: within ``wall_margin`` of a wall and heading into it, the heading turns towards
  the wall's direction (the nearer of the two parallel directions) at rate ``1/wall_turn_tau``
  and the speed is scaled by the remaining distance (``d / wall_margin``, at least 0.1), so rats
  slow down and run along walls; positions are finally kept ``body_margin`` inside the box.
* **Head direction** is the heading plus an OU deviation (s.d. ``hd_dev_sd``, time constant
  ``hd_dev_tau``): rats look around while running.
* **Two LEDs** sit ``led_distance`` apart on the head axis, LED 1 in front (the convention of
  :func:`mecbench.binning.bin_session`, where head direction = ``atan2(y1 - y2, x1 - x2)``).

Each session is one loop over time steps on plain floats (the process is sequential); everything
random comes from a child of one seeded :class:`numpy.random.Generator` per session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MotionParams", "Session", "simulate_sessions", "movement_statistics"]


@dataclass(frozen=True)
class MotionParams:
    """Parameters of the motion model (metres, seconds, radians)."""

    dt: float = 0.02
    speed_shape: float = 1.54
    speed_scale: float = 0.109
    speed_tau: float = 0.5
    animal_speed_spread: float = 0.12
    turn_sd: float = 5.0
    turn_tau: float = 0.12
    wall_margin: float = 0.05
    wall_turn_tau: float = 0.15
    body_margin: float = 0.02
    goal_gain: float = 1.5
    goal_radius: float = 0.05
    goal_timeout: float = 20.0
    goal_candidates: int = 6
    goal_cell: float = 0.1
    goal_wall_fraction: float = 0.4
    hd_dev_sd: float = 0.55
    hd_dev_tau: float = 0.8
    led_distance: float = 0.05


@dataclass
class Session:
    """One simulated session (arrays of length ``n_samples``)."""

    t: np.ndarray
    x: np.ndarray            # body centre (m)
    y: np.ndarray
    head_direction: np.ndarray
    speed: np.ndarray        # m/s along the path
    x1: np.ndarray           # front LED
    y1: np.ndarray
    x2: np.ndarray           # back LED
    y2: np.ndarray
    width: float
    height: float


def _ou(rng: np.random.Generator, n_steps: int, tau: float, dt: float) -> np.ndarray:
    """Stationary unit-variance Ornstein–Uhlenbeck process sampled every ``dt``."""
    a = np.exp(-dt / tau)
    eps = rng.standard_normal(n_steps) * np.sqrt(1 - a * a)
    eps[0] = rng.standard_normal()
    from scipy import signal  # imported on first simulation, not on import

    # z_0 ~ N(0, 1); z_t = a z_{t-1} + eps_t (an exact AR(1) filter)
    return signal.lfilter([1.0], [1.0, -a], eps)


def _walk(rng: np.random.Generator, width: float, height: float, n_steps: int,
          speed_factor: float, p: MotionParams) -> tuple[np.ndarray, ...]:
    """One session: body position, heading and speed per step (scalar loop over time; the
    process is sequential, and plain floats are faster here than small numpy arrays)."""
    from scipy import special, stats  # imported on first simulation, not on import

    z = _ou(rng, n_steps, p.speed_tau, p.dt)
    u = np.clip(special.ndtr(z), 1e-9, 1 - 1e-9)
    base_speed = (stats.gamma.ppf(u, p.speed_shape, scale=p.speed_scale) * speed_factor).tolist()
    omega = (_ou(rng, n_steps, p.turn_tau, p.dt) * p.turn_sd).tolist()
    coin = (rng.random(n_steps) < 0.5).tolist()
    hw = width / 2 - p.body_margin
    hh = height / 2 - p.body_margin
    dt = p.dt
    k_turn = min(1.0, dt / p.wall_turn_tau)
    gnx = max(1, int(round(width / p.goal_cell)))
    gny = max(1, int(round(height / p.goal_cell)))
    visits = np.zeros(gnx * gny)              # time spent per goal cell, updated lazily
    fx, fy = gnx / width, gny / height
    xs: list[float] = []
    ys: list[float] = []
    hs: list[float] = []
    vs: list[float] = []
    counted = 0

    def cell_index(px, py):
        ci = np.clip(((np.asarray(px) + width / 2) * fx).astype(int), 0, gnx - 1)
        cj = np.clip(((np.asarray(py) + height / 2) * fy).astype(int), 0, gny - 1)
        return ci * gny + cj

    def new_goal():
        nonlocal counted
        if len(xs) > counted:                 # add the path since the last goal to the visits
            visits[:] += np.bincount(cell_index(xs[counted:], ys[counted:]),
                                     minlength=gnx * gny) * dt
            counted = len(xs)
        cx = rng.uniform(-hw, hw, p.goal_candidates)
        cy = rng.uniform(-hh, hh, p.goal_candidates)
        at_wall = rng.random(p.goal_candidates) < p.goal_wall_fraction
        side = rng.integers(0, 4, p.goal_candidates)
        cx = np.where(at_wall & (side == 0), hw, np.where(at_wall & (side == 1), -hw, cx))
        cy = np.where(at_wall & (side == 2), hh, np.where(at_wall & (side == 3), -hh, cy))
        best = int(np.argmin(visits[cell_index(cx, cy)]))
        return float(cx[best]), float(cy[best])

    x = float(rng.uniform(-hw, hw))
    y = float(rng.uniform(-hh, hh))
    th = float(rng.uniform(-math.pi, math.pi))
    gx, gy = new_goal()
    goal_time = 0.0
    # outward normals of the walls +x, -x, +y, -y and their angles
    normals = ((1.0, 0.0, 0.0), (-1.0, 0.0, math.pi), (0.0, 1.0, math.pi / 2),
               (0.0, -1.0, -math.pi / 2))
    margin, goal_radius, timeout = p.wall_margin, p.goal_radius, p.goal_timeout
    gain, two_pi, half_pi = p.goal_gain, 2 * math.pi, math.pi / 2
    cos, sin, atan2, hypot, remainder = math.cos, math.sin, math.atan2, math.hypot, \
        math.remainder
    for i in range(n_steps):
        goal_time += dt
        if goal_time > timeout or hypot(gx - x, gy - y) < goal_radius:
            gx, gy = new_goal()
            goal_time = 0.0
        ch, sh = cos(th), sin(th)
        turn, slow = 0.0, 1.0
        if x > hw - margin or x < margin - hw or y > hh - margin or y < margin - hh:
            dists = (hw - x, x + hw, hh - y, y + hh)
            # the nearest wall that we are close to and heading into
            w, dw = -1, math.inf
            for k in range(4):
                if dists[k] < margin and dists[k] < dw \
                        and ch * normals[k][0] + sh * normals[k][1] > 0:
                    w, dw = k, dists[k]
            if w >= 0:
                nw = normals[w][2]
                rel = remainder(th - nw, two_pi)
                sgn = 1.0 if rel > 0 else -1.0 if rel < 0 else (1.0 if coin[i] else -1.0)
                # of the two directions along the wall, prefer one leading away from other
                # near walls (corners)
                pen = [0.0, 0.0]
                for j, sg in enumerate((1.0, -1.0)):
                    ca, sa = cos(nw + sg * half_pi), sin(nw + sg * half_pi)
                    for k in range(4):
                        if dists[k] < margin:
                            pen[j] += max(0.0, ca * normals[k][0] + sa * normals[k][1])
                if pen[0] < pen[1] - 1e-9:
                    sgn = 1.0
                elif pen[1] < pen[0] - 1e-9:
                    sgn = -1.0
                turn = remainder(nw + sgn * half_pi - th, two_pi) * k_turn
                slow = min(1.0, max(0.1, dw / margin))
        v = base_speed[i] * slow
        xs.append(x)
        ys.append(y)
        hs.append(th)
        vs.append(v)
        x = min(hw, max(-hw, x + v * dt * ch))
        y = min(hh, max(-hh, y + v * dt * sh))
        to_goal = remainder(atan2(gy - y, gx - x) - th, two_pi)
        th = remainder(th + omega[i] * dt + gain * to_goal * dt + turn, two_pi)
    return np.array(xs), np.array(ys), np.array(hs), np.array(vs)


def simulate_sessions(widths, heights, durations, *, rng: np.random.Generator,
                      params: MotionParams = MotionParams(),
                      speed_factors=None) -> list[Session]:
    """Simulate one session per entry of ``widths``/``heights``/``durations`` (boxes centred on
    0, sizes in m, durations in s), sampled every ``params.dt`` seconds.

    ``speed_factors`` (one per session) scale the speed; default: log-normal with s.d.
    ``params.animal_speed_spread``. Each session draws from its own child generator of ``rng``.
    """
    p = params
    widths = np.atleast_1d(np.asarray(widths, float))
    heights = np.atleast_1d(np.asarray(heights, float))
    durations = np.atleast_1d(np.asarray(durations, float))
    n = len(widths)
    if not (len(heights) == len(durations) == n):
        raise ValueError("widths, heights and durations must have the same length")
    if speed_factors is None:
        speed_factors = np.exp(rng.normal(0.0, p.animal_speed_spread, n))
    speed_factors = np.broadcast_to(np.asarray(speed_factors, float), (n,))
    out = []
    for k, child in enumerate(rng.spawn(n)):
        m = int(round(durations[k] / p.dt))
        xs, ys, th, vs = _walk(child, widths[k], heights[k], m, float(speed_factors[k]), p)
        hd = np.angle(np.exp(1j * (th + _ou(child, m, p.hd_dev_tau, p.dt) * p.hd_dev_sd)))
        off = p.led_distance / 2
        out.append(Session(
            t=np.arange(m) * p.dt, x=xs, y=ys, head_direction=hd, speed=vs,
            x1=xs + off * np.cos(hd), y1=ys + off * np.sin(hd),
            x2=xs - off * np.cos(hd), y2=ys - off * np.sin(hd),
            width=float(widths[k]), height=float(heights[k]),
        ))
    return out


def movement_statistics(t, x, y, width: float, height: float | None = None, *,
                        lag: int = 5) -> dict[str, float]:
    """Summary statistics of a 2-D path, used to match the simulation to real rats.

    Speeds are central differences over ``2·lag`` samples (0.2 s at 50 Hz), which averages out
    tracking jitter. Returns mean, median, 10th/90th percentile speed (m/s); ``speed_tau``, the
    lag (s) at which the speed autocorrelation falls below 1/e; ``heading_tau``, the same for the
    direction of running (samples faster than 5 cm/s); ``turn_sd``, the s.d. of the angular
    velocity of the running direction over ``lag`` samples (rad/s); ``wall_fraction``, the
    fraction of time within 10 % of the box side of a wall, divided by that band's share of the
    area (1 = uniform; > 1 = thigmotaxis).
    """
    height = width if height is None else height
    t = np.asarray(t, float).ravel()
    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    dt = float(np.median(np.diff(t)))
    k = lag
    vx = (x[2 * k:] - x[:-2 * k]) / (2 * k * dt)
    vy = (y[2 * k:] - y[:-2 * k]) / (2 * k * dt)
    s = np.hypot(vx, vy)
    ok = np.isfinite(s)
    out = {
        "speed_mean": float(np.mean(s[ok])),
        "speed_median": float(np.median(s[ok])),
        "speed_p10": float(np.percentile(s[ok], 10)),
        "speed_p90": float(np.percentile(s[ok], 90)),
    }
    sc = np.where(ok, s - s[ok].mean(), 0.0)
    max_lag = int(5 / dt)
    f = np.fft.rfft(sc, 2 * len(sc))
    ac = np.fft.irfft(f * np.conj(f))[:max_lag]
    ac = ac / ac[0]
    out["speed_tau"] = float(np.argmax(ac < np.exp(-1)) * dt)
    th = np.arctan2(vy, vx)
    moving = ok & (s > 0.05)
    zz = np.where(moving, np.exp(1j * th), 0)
    acz = []
    for lag_s in range(0, max_lag, 2):
        a, b = zz[lag_s:], zz[: len(zz) - lag_s]
        both = (a != 0) & (b != 0)
        acz.append(np.real(np.mean((a * np.conj(b))[both])) if both.any() else np.nan)
    acz = np.array(acz)
    out["heading_tau"] = float(np.argmax(acz < np.exp(-1)) * 2 * dt)
    dth = np.angle(np.exp(1j * (th[k:] - th[:-k]))) / (k * dt)
    mm = moving[k:] & moving[:-k]
    out["turn_sd"] = float(np.std(dth[mm]))
    band = 0.1 * min(width, height)
    dw = np.minimum.reduce([x + width / 2, width / 2 - x, y + height / 2, height / 2 - y])
    area_share = 1 - (width - 2 * band) * (height - 2 * band) / (width * height)
    out["wall_fraction"] = float(np.mean(dw[np.isfinite(dw)] < band) / area_share)
    return out
