"""Population forwards of the networks of real weights (ec_neuro/spec/weights.py): a whole population per call.

    net = DenseRSNNPopulation(spec, pop, indices)    # the members `indices` of an ES / EGGROLL population
    net.reset(v0);  actions = net.act(x, active)      # x (P, n_obs) normalised observations -> (P, n_act) in [-1, 1]

`members.py` turns a Population into what a forward reads (materialised weights, per-pair noise, or the center
plus low-rank factors), for any layout; `layers.py` has the dense layers of each kind; `dense_rsnn.py` and
`rnn.py` are the networks.  They run on the host CPU in numpy and numba only (README: which methods run where).
"""
