"""Custom Lava processes of the lava-sim backend.

Side-effect free on purpose: Lava's compiler exec()s every .py file in this folder while it searches for
ProcessModels, so these modules only define classes and import nothing from ec_neuro.
"""
