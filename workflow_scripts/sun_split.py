"""The seeded, class-stratified 50 / 10 / 40 SUN split (thesis §1.2)."""
from layerwise.data import scenes
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
found, skipped = scenes.drop_unreadable(scenes.scan_scenes(p.sun_root), p.sun_root,
                                        p.on_bad_file)
for reason in skipped:
    log.warning("skipped: %s", reason)
split = scenes.stratified_split(found, p.fractions, p.seed)
write_csv(split, snakemake.output[0])
log.info("%d images in %d scenes, %d skipped", len(split), split["scene"].nunique(), len(skipped))
