"""Join a split's proposal shards, in image order, into one file (SPEC §4.3)."""
from layerwise.data import proposals
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
proposals.merge_proposals(snakemake.input, snakemake.output[0])
log.info("merged %d shards", len(snakemake.input))
