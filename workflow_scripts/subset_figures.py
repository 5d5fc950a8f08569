"""Fig 3-4 (AP vs number of pool5 filters) and Fig 3-5 (top-filter overlap between classes, ft)."""
import pandas as pd

from layerwise import figures
from layerwise.analysis.units import scaled_top, topk_overlap
from layerwise.data.voc import VOC_CLASSES
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
classes = list(VOC_CLASSES)
subsets = {}
for net in ("alexnet", "ft"):
    aps = pd.read_csv(snakemake.input[net]).pivot(index="class", columns="k", values="ap")
    subsets[net] = (aps.columns.tolist(), aps.loc[classes].to_numpy())
figures.set_style()
figures.save_figure(figures.subset_ap_grid(
    subsets, classes, f"Test AP with the top-k pool5 filters by |SVM weight| ({p.run} run)"),
    snakemake.output.fig3_4[0], tight=False)
ranking = pd.read_csv(snakemake.input.ft_ranking).sort_values(["class", "rank"])
rankings = [ranking.loc[ranking["class"] == c, "filter"].to_numpy() for c in classes]
n_filters, k = len(rankings[0]), scaled_top(p.top, len(rankings[0]))
figures.save_figure(figures.overlap_heatmap(
    topk_overlap(rankings, k), classes,
    f"Overlap of the top-{k} pool5 filters between classes, ft ({p.run} run)\n"
    f"the thesis' top-{p.top} of 256 filters, scaled to this layer's {n_filters}"),
    snakemake.output.fig3_5[0])
log.info("overlap of the top %d of %d filters", k, n_filters)
