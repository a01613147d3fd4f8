"""l2rw-viz: Learning to Reweight Examples (Ren et al., ICML 2018), taught and visualised.

The flow runs one way::

    data (toy, MNIST) -> corruption (imbalance, flips) -> method -> trainer -> History -> figures/widgets

Grouped by layer:

- the algorithm and its loop: ``data``, ``models``, ``reweight`` and ``reweight_fused`` (L2RW), ``bilevel`` (the
  exact problem), ``methods`` (L2RW and the baselines), ``train`` and ``history``;
- experiments and results: ``experiments`` (named runs, sweeps; ``sweep_worker`` and ``sweep_cluster`` run them in
  pinned processes or on Dask, ``numerics`` pins their arithmetic), ``results`` (the shipped tables), ``bench``;
- teaching and publishing: ``viz`` (figures, widgets), ``exercises``, ``course`` (the notebooks' helpers, the site,
  decks and slides), ``lab`` (the browser Lab);
- the command line: ``cli``.
"""

__version__ = "0.1.0"
