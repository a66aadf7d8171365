"""Core throughput, measured side by side in one process (the EC network against a dense one and the physics).

1. EC network alone at Humanoid-v5 sizes (348 obs -> 256 neurons -> 17 actions, 33 substeps), population
   1,024: member-env-steps/s through encode -> 33 substeps -> decode, float and fixed point.
2. The same shape as a dense float32 real-weight RSNN (the ES baseline: W_in 348x256, W_h 256x256,
   W_out 256x17, same LIF dynamics), every member's matrices multiplied with batched BLAS matmul.
3. MuJoCo Hopper-v5 physics alone (random actions), steps/s on one core.
4. At population 256 with Hopper sizes: the network's cost per env step against Hopper's physics.
5. EC's per-generation overhead at Humanoid sizes and the same population: ask (every member's masks
   regenerated from (seed, generation, index) and lowered, as a worker does) and tell (the strategy update,
   which regenerates every member again), and the seconds per generation they give with a 1,000-step
   episode at the float throughput of 1 (network only, no physics).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..backends.numpy import NumpyBackend
from ..compilers.common import lower
from ..sample.masks import initial_v, random_masks
from ..spec import NetworkSpec


def _timed(fn: Callable[[], Any], min_time: float) -> tuple[float, int]:
    """Seconds per call (best of repeated calls until min_time has passed) and the number of calls."""
    fn()  # warm-up (JIT compile, caches)
    best, n, start = float("inf"), 0, time.perf_counter()
    while time.perf_counter() - start < min_time or n < 2:
        t = time.perf_counter()
        fn()
        best, n = min(best, time.perf_counter() - t), n + 1
    return best, n


def ec_network(n_obs: int, n_act: int, population: int, precision: str, steps: int, min_time: float) -> dict[str, Any]:
    """member-env-steps/s of the EC network alone (no environment), rho = 0.5 masks."""
    spec = NetworkSpec(n_obs=n_obs, n_act=n_act)
    low = lower(spec, random_masks(spec, population, seed=0), precision)
    be = NumpyBackend()
    prog = be.compile(low)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(steps, population, n_obs))
    active = np.ones(population, bool)
    v0 = initial_v(spec.n_neurons, 0, 0, np.arange(population))

    def episode() -> None:
        be.reset(prog, v0)
        for t in range(steps):
            low.decode(be.advance(prog, low.encode(obs[t]), active))

    sec, reps = _timed(episode, min_time)
    rate = float(prog.counts.sum() / (population * spec.n_neurons * steps * spec.neuron.substeps))
    return {"member_env_steps_per_s": population * steps / sec, "spike_rate": rate, "repeats": reps}


def dense_network(n_obs: int, n_act: int, population: int, steps: int, min_time: float) -> dict[str, Any]:
    """member-env-steps/s of a dense float32 real-weight RSNN of the same shape, batched BLAS matmuls."""
    spec = NetworkSpec(n_obs=n_obs, n_act=n_act)
    N, K, p = spec.n_neurons, spec.neuron.substeps, spec.neuron
    rng = np.random.default_rng(0)
    W_in = rng.normal(size=(population, n_obs, N)).astype(np.float32) * np.float32(spec.R_in)
    W_h = rng.normal(size=(population, N, N)).astype(np.float32) * np.float32(spec.R / np.sqrt(N))
    W_out = rng.normal(size=(population, N, n_act)).astype(np.float32)
    obs = rng.normal(size=(steps, population, 1, n_obs)).astype(np.float32)
    du, dv = np.float32(1 - p.a_syn), np.float32(1 - p.a_mem)
    a_out, c_out = np.float32(p.a_out), np.float32((1 - p.a_out) / p.dt)

    def episode() -> None:
        u = np.zeros((population, 1, N), np.float32)
        v = rng.random((population, 1, N), dtype=np.float32)
        r = np.zeros_like(u)
        s = np.zeros_like(u)
        for t in range(steps):
            bias = dv * np.matmul(obs[t], W_in)
            for _ in range(K):
                u = u * (1 - du) + dv * np.matmul(s, W_h)
                v = v * (1 - dv) + u + bias
                spk = v > 1.0
                v[spk] = 0.0
                s = spk.astype(np.float32)
                r = r * a_out + c_out * s
            np.clip(np.matmul(r, W_out), -1, 1)

    sec, reps = _timed(episode, min_time)
    return {"member_env_steps_per_s": population * steps / sec, "repeats": reps}


def ec_generation(n_obs: int, n_act: int, population: int, min_time: float) -> dict[str, Any]:
    """Seconds of EC's ask (pop.masks + lower, float) and tell at this population (rho = 0.5)."""
    from ..strategies.ec import EC
    spec = NetworkSpec(n_obs=n_obs, n_act=n_act)
    ec = EC(spec.n_connections, population)
    state = ec.init(0)
    pop = ec.ask(state)
    fitness = np.random.default_rng(0).normal(size=population)
    ask, _ = _timed(lambda: lower(spec, pop.masks(spec), "float"), min_time)
    tell, reps = _timed(lambda: ec.tell(state, pop, fitness), min_time)
    return {"ask_s": ask, "tell_s": tell, "connections": spec.n_connections, "repeats": reps}


def mujoco_steps(env_id: str = "Hopper-v5", steps: int = 3000) -> dict[str, Any]:
    """Physics alone: env steps/s with random actions, resets included."""
    import gymnasium as gym
    env = gym.make(env_id)
    env.reset(seed=0)
    acts = np.random.default_rng(0).uniform(-1, 1, size=(steps, *env.action_space.shape))
    t = time.perf_counter()
    for a in acts:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    sec = time.perf_counter() - t
    env.close()
    return {"env_steps_per_s": steps / sec}


def run(quick: bool = False) -> dict[str, Any]:
    """All core figures from one run; prints a line per figure."""
    pop, steps, min_time = (128, 4, 0.5) if quick else (1024, 10, 3.0)
    out: dict[str, Any] = {"population": pop}
    for prec in ("float", "fixed"):
        out[f"ec_humanoid_{prec}"] = ec_network(348, 17, pop, prec, steps, min_time)
        print(f"EC network, Humanoid sizes, P={pop}, {prec}: "
              f"{out[f'ec_humanoid_{prec}']['member_env_steps_per_s']:,.0f} member-env-steps/s "
              f"(spike rate {out[f'ec_humanoid_{prec}']['spike_rate']:.4f})")
    out["ec_generation_humanoid"] = gen = ec_generation(348, 17, pop, min_time)
    episode = 1000 * pop / out["ec_humanoid_float"]["member_env_steps_per_s"]
    gen["s_per_generation_T1000"] = gen["ask_s"] + gen["tell_s"] + episode
    print(f"EC ask (masks + lower) {gen['ask_s']:.3f} s, tell {gen['tell_s']:.3f} s at P={pop}, Humanoid sizes; "
          f"with a 1,000-step episode (network only): {gen['s_per_generation_T1000']:.1f} s per generation")
    out["dense_float32_humanoid"] = dense_network(348, 17, pop, max(2, steps // 2), min_time)
    dense = out["dense_float32_humanoid"]["member_env_steps_per_s"]
    print(f"dense float32 RSNN (BLAS), same shape, P={pop}: {dense:,.0f} member-env-steps/s")
    out["ec_over_dense"] = out["ec_humanoid_float"]["member_env_steps_per_s"] / dense
    print(f"EC / dense: {out['ec_over_dense']:.1f}x (target >= 8x)")
    out["hopper_physics"] = mujoco_steps("Hopper-v5", 1000 if quick else 5000)
    hop = out["hopper_physics"]["env_steps_per_s"]
    print(f"MuJoCo Hopper-v5 physics alone: {hop:,.0f} env-steps/s (one core)")
    import numba
    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # one core against one core
    try:
        net = ec_network(11, 3, 256, "float", steps, min_time)["member_env_steps_per_s"]
    finally:
        numba.set_num_threads(threads)
    out["ec_hopper_p256"] = {"member_env_steps_per_s": net}
    out["network_cost_over_physics_p256"] = hop / net
    print(f"EC network at Hopper sizes, P=256, one thread: {net:,.0f} member-env-steps/s; network time per env step = "
          f"{hop / net:.2f}x the physics time (target < 1)")
    return out
