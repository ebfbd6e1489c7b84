"""Training and evaluation: backbones as models, batched Grad-CAM, the objectives' terms, the step
and the job, metrics, localization and the results a run writes."""
