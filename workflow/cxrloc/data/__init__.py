"""Data: the sources (synthetic, NIH, a table, an image folder, real films with an implanted finding),
patient-disjoint splits, downloads, and the image cache every later stage reads."""
