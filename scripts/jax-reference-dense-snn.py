"""The reference's DenseSNN forward (networks/dense_snn.py) re-typed in plain JAX (no flax/brax: the reference needs
flax<0.7.1 and brax<0.9), vmapped over a population of parameters like es_dense._evaluate_step, timed on this CPU.

Needs JAX, which is not in the pinned environment: a venv with jax==0.6.2 jaxlib==0.6.2 (on the project machine:
/work/venvs/jax/bin/python). Prints one JSON line; BENCHMARKS.md (methods) compares it with ES-RSNN side by side.
usage: scripts/jax-reference-dense-snn.py [population] [steps]
"""
import json, math, sys, time

import jax
import jax.numpy as jnp

jax.config.update("jax_default_prng_impl", "rbg")  # as es_dense.py

P = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
T = int(sys.argv[2]) if len(sys.argv) > 2 else 10
n_obs, n_act, N = 348, 17, 256
dt, sim_time, tau_syn, tau_Vm, tau_out, Vth = 0.5, 16.6, 5.0, 10.0, 10.0, 1.0
R_in = 0.1 * Vth * tau_Vm * math.sqrt(2 / n_obs)
R = 1.0 * Vth * tau_Vm / tau_syn * math.sqrt(2 / N)
R_out = 5.0 * math.sqrt(1 / N)
a_syn, a_Vm, a_out = (math.exp(-dt / t) for t in (tau_syn, tau_Vm, tau_out))
K = round(sim_time / dt)


def lerp(y, x, alpha):
    return x + alpha * (y - x)


def conn_dense(kernel, x):
    return jax.lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))


def apply(params, carry, x):
    k_in, k_h, k_out = params
    i_in = R_in * conn_dense(k_in, x)

    def step(c, _):
        v_m, i_syn, rate, spike = c
        i_spike = R * conn_dense(k_h, spike.astype(k_h.dtype))
        i_syn = i_syn * a_syn + i_spike
        v_m = lerp(v_m, i_syn + i_in, a_Vm)
        spike = v_m > Vth
        v_m = jnp.where(spike, 0, v_m)
        rate = lerp(rate, (1 / dt) * spike.astype(rate.dtype), a_out)
        return (v_m, i_syn, rate, spike), None

    carry, _ = jax.lax.scan(step, carry, None, K)
    return carry, R_out * conn_dense(k_out, carry[2])


@jax.jit
def rollout(params, carry, obs):
    def env_step(c, x):
        c, act = jax.vmap(apply)(params, c, x)
        return c, jnp.clip(act, -1, 1).sum()
    return jax.lax.scan(env_step, carry, obs)


key = jax.random.PRNGKey(0)
k1, k2, k3, k4, k5 = jax.random.split(key, 5)
params = (jax.random.normal(k1, (P, n_obs, N)), jax.random.normal(k2, (P, N, N)), jax.random.normal(k3, (P, N, n_act)))
carry = (jax.random.uniform(k4, (P, N), jnp.float32, 0, Vth), jnp.zeros((P, N)), jnp.zeros((P, N)),
         jnp.zeros((P, N), jnp.bool_))
obs = jax.random.normal(k5, (T, P, n_obs))
jax.block_until_ready(rollout(params, carry, obs))  # compile
best = float("inf")
for _ in range(2):
    t = time.perf_counter()
    c, s = rollout(params, carry, obs)
    jax.block_until_ready(s)
    best = min(best, time.perf_counter() - t)
print(json.dumps({"jax": jax.__version__, "population": P, "steps": T,
                  "member_env_steps_per_s": P * T / best, "spike_rate": float(jnp.mean(c[2]) * dt)}))
