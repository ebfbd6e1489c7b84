"""cxrloc: localization-aware chest X-ray classification, from data to the paper's appendix."""

__version__ = "0.4.0"
