"""Drive EC's ask/tell from your own gymnasium loop (no run directory, no ec-neuro task)."""
import os

import gymnasium as gym
import numpy as np

import ec_neuro as ecn

generations = 2 if os.environ.get("EC_NEURO_TINY") == "1" else 25
env = gym.make("CartPole-v1")
spec = ecn.NetworkSpec(n_obs=4, n_act=2, n_neurons=64)
ec = ecn.EC(spec.n_connections, population=24)
state = ec.init(seed=0)
for generation in range(generations):
    pop = ec.ask(state)                                            # a handle: seed, generation, rho
    fitness = np.zeros(pop.size)
    for i in range(pop.size):                                      # one member at a time, on one env
        policy = ecn.Policy(spec, pop.masks(spec, [i]), action_space=env.action_space)
        obs, _ = env.reset(seed=generation)
        done = False
        while not done:
            obs, reward, term, trunc, _ = env.step(policy.act(obs[None])[0])
            fitness[i] += reward
            done = term or trunc
    state, metrics = ec.tell(state, pop, fitness)                  # the population goes back with its fitness
    print(f"generation {generation}: best {fitness.max():.0f}, mean {fitness.mean():.1f}")
