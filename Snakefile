# cxrloc: localization-aware chest X-ray classification, from data to the paper's appendix.
# `snakemake --cores all` runs the embedded synthetic default; `--configfile config/nih.yaml` the NIH study.
from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded default, unless --configfile names a study config (which then stands alone,
# rather than being merged over the synthetic default's keys).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# One line naming the bad key, then Snakemake's own validation fills in the schema's defaults.
from cxrloc.config import schema_error

if error := schema_error(config):
    raise ValueError(error)
validate(config, "config/schema.yaml", set_default=True)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/masks.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/external.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_targets(),
