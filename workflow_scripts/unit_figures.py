"""Figs 3-1 and 3-2: the most selective and the most discriminative pool5 filters per class (§3.2-3.3)."""
import h5py

from layerwise import figures
from layerwise.analysis.classification import load_features
from layerwise.analysis.units import best_unit_pr_curves, most_selective_curves
from layerwise.data.voc import VOC_CLASSES
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
K = len(VOC_CLASSES)
precision, pr = {}, {}
for net in ("alexnet", "ft"):
    with h5py.File(snakemake.input[net], "r") as f:
        spmax = load_features(f["features"], p.memory_mb << 20, ablation="sp-max")
        labels = f["labels"][:]
    filters, areas, n_above, prec = most_selective_curves(spmax, labels, K, p.top, p.T)
    precision[net] = (n_above, prec)
    log.info("%s: most selective filters per class %s, areas %s", net, filters.tolist(),
             areas.round(3).tolist())
    filters, aps, pr[net] = best_unit_pr_curves(spmax, labels, K, p.top, p.max_recall)
    log.info("%s: best filters per class %s, AP up to recall %g %s", net, filters.tolist(),
             p.max_recall, aps.round(1).tolist())
figures.set_style()
figures.save_figure(figures.precision_grid(
    precision, VOC_CLASSES, f"Precision of the {p.top} most selective pool5 filters per class, "
    f"VOC 2007 test gt boxes ({p.run} run)"), snakemake.output.fig3_1[0], tight=False)
figures.save_figure(figures.pr_grid(
    pr, VOC_CLASSES, f"Precision-recall of the {p.top} pool5 filters with the best AP up to "
    f"recall {p.max_recall} per class ({p.run} run)"), snakemake.output.fig3_2[0], tight=False)
