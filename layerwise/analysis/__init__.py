"""Analyses of the thesis, one module per concept (Agrawal 2014).

- :mod:`~layerwise.analysis.ap`: VOC2007 11-point interpolated average precision.
- :mod:`~layerwise.analysis.ablations`: feature ablations of §5 (Fig 5-1).
- :mod:`~layerwise.analysis.classification`: one-vs-rest linear SVMs, image and
  gt-box classification (§1.2, §2.4, §4, §5).
- :mod:`~layerwise.analysis.selectivity`: entropy curves, AuE and MCAuE (§2.2-2.3).
- :mod:`~layerwise.analysis.units`: grandmother cells: unit precision, unit AP,
  filter subsets and their overlap (§3).

Submodules are imported explicitly (``from layerwise.analysis import selectivity``)
so that importing one analysis does not pull in scikit-learn or h5py.
"""
