"""Custom Lava processes of the lava-sim backend (imported only in the lava-sim worker process).

Side-effect free on purpose: Lava's compiler exec()s every .py file in this folder while it searches for
ProcessModels, so these modules only define classes and import side-effect-free modules (Lava, numpy,
numba, ec_neuro.kernels, each other by absolute name).
"""
