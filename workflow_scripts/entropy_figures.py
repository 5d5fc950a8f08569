"""Figs 2-1 (AuE histograms) and 2-2 (MCAuE vs fraction of filters), alexnet vs ft (§2.3)."""
import pandas as pd

from layerwise import figures
from layerwise.analysis.selectivity import METHODS, mcaue
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
aue = {net: {layer: pd.read_csv(path) for layer, path in zip(p.layers, snakemake.input[net])}
       for net in ("alexnet", "ft")}
columns = {f"aue_{k}": method for k, method in METHODS.items()}
figures.set_style()
figures.save_figure(figures.aue_histograms(
    aue, p.layers, columns, f"AuE of every filter, VOC 2007 test gt boxes ({p.run} run)"),
    snakemake.output.fig2_1[0], tight=False)
curves = {net: {layer: {c: mcaue(t[c]) for c in columns} for layer, t in by_layer.items()}
          for net, by_layer in aue.items()}
figures.save_figure(figures.mcaue_curves(
    curves, p.layers, columns, f"MCAuE: alexnet dash-dot, ft solid ({p.run} run)"),
    snakemake.output.fig2_2[0])
log.info("fig2_1, fig2_2 written")
