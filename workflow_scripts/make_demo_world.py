"""Generate the demo world (SPEC §4.1) into the rule's output folder."""
from layerwise.data import demo_world
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
demo_world.generate(snakemake.output[0], snakemake.params.demo,
                    progress=lambda it, total: progress(it, total=total, desc="images"))
log.info("demo world written to %s", snakemake.output[0])
