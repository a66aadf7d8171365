"""Graph plumbing for NIR import: splice nested graphs, walk Linear chains, check 1-bit weights, solve gains."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import UserError
from .nir import _nir

SUPPORTED = "Input, Output, Linear, Affine (zero bias), CubaLIF, LIF, LI, and nested NIRGraph"


def decode(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return decode(v[()])
    if isinstance(v, np.generic):
        return v.item()
    return v


def flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Splice nested NIRGraph nodes into one flat (nodes, edges); inner Input/Output markers disappear."""
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges = [(prefix + a, prefix + b) for a, b in graph.edges]
    for name, node in graph.nodes.items():
        full = prefix + name
        if not isinstance(node, nir.NIRGraph):
            nodes[full] = node
            continue
        inner, inner_edges = flatten(node, full + ".")
        ins = [k for k, v in inner.items() if isinstance(v, nir.Input)]
        outs = [k for k, v in inner.items() if isinstance(v, nir.Output)]
        heads = [b for a, b in inner_edges if a in ins]
        tails = [a for a, b in inner_edges if b in outs]
        inner_edges = [(a, b) for a, b in inner_edges if a not in ins and b not in outs]
        nodes.update({k: v for k, v in inner.items() if k not in ins and k not in outs})
        new = []
        for a, b in edges:
            srcs = tails if a == full else [a]
            dsts = heads if b == full else [b]
            new += [(s, d) for s in srcs for d in dsts]
        edges = new + inner_edges
    return nodes, list(dict.fromkeys(edges))


def uniform(node_name: str, field: str, arr: Any) -> float:
    a = np.asarray(arr, dtype=np.float64).ravel()
    if a.size == 0 or not np.all(a == a[0]):
        raise UserError(f"NIR node {node_name!r}: {field} must be the same for every neuron (ec-neuro has one "
                        f"value per network), got values from {a.min():.6g} to {a.max():.6g}")
    return float(a[0])


def weight(name: str, node: Any) -> np.ndarray:
    nir = _nir()
    if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
        raise UserError(f"NIR node {name!r}: Affine with a nonzero bias is not supported (ec-neuro networks have "
                        "no biases); use Linear")
    w = np.asarray(node.weight, dtype=np.float64)
    if w.ndim != 2:
        raise UserError(f"NIR node {name!r}: weight must be 2-D (out, in), got shape {w.shape}")
    return w


def magnitude(name: str, w: np.ndarray) -> float:
    """The single magnitude of the nonzero weights of a 1-bit group (0.0 if all zero)."""
    nz = np.abs(w[w != 0])
    if nz.size == 0:
        return 0.0
    lo, hi = float(nz.min()), float(nz.max())
    if hi - lo > 1e-6 * hi:
        raise UserError(f"NIR node {name!r}: non-binary weights ({np.unique(nz).size} distinct magnitudes from "
                        f"{lo:.6g} to {hi:.6g}); ec-neuro imports 1-bit connectivity, every nonzero weight of a "
                        "group must be +g or -g")
    return hi


def chain(nodes: dict[str, Any], edges: list[tuple[str, str]], start: str, stop: Callable[[Any], bool],
           what: str) -> tuple[list[str], str]:
    """Follow single edges from `start` through Linear/Affine nodes to the first node satisfying `stop`."""
    nir = _nir()
    path, cur = [], start
    for _ in range(len(nodes) + 1):
        nxt = [b for a, b in edges if a == cur]
        if len(nxt) != 1:
            raise UserError(f"NIR node {cur!r}: the {what} path must be a single chain, it has {len(nxt)} outgoing "
                            f"edges ({', '.join(nxt) or 'none'})")
        cur = nxt[0]
        if stop(nodes[cur]):
            return path, cur
        if not isinstance(nodes[cur], (nir.Linear, nir.Affine)):
            raise UserError(f"NIR node {cur!r} is a {type(nodes[cur]).__name__}, not supported on the {what} path; "
                            f"ec-neuro imports {SUPPORTED}")
        path.append(cur)
    raise UserError(f"NIR graph: the {what} path does not end")


def product(nodes: dict[str, Any], names: list[str]) -> np.ndarray:
    m = None
    for n in names:
        w = weight(n, nodes[n])
        m = w if m is None else w @ m
    return m


def solve_scale(target: float, make: Callable[[float], float], base: float) -> float:
    """A scale s with make(s) == target exactly when some float within a few ulps gives it (else the nearest)."""
    s = target / base
    cands = [s]
    lo = hi = s
    for _ in range(8):
        lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
        cands += [float(lo), float(hi)]
    for c in cands:
        if c > 0 and make(c) == target:
            return float(c)
    return float(s)
