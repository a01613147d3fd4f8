"""l2rw-viz: Learning to Reweight Examples (Ren et al., ICML 2018), taught and visualised.

The flow runs one way::

    data (toy, MNIST) -> corruption (imbalance, flips) -> method -> trainer -> History -> figures/widgets

Sub-modules: ``data``, ``models``, ``reweight`` (the algorithm), ``methods`` (L2RW and the baselines),
``train`` (one loop and its History), ``experiments``, ``viz``, ``cli``.
"""

__version__ = "0.1.0"
