"""Lungs: the U-Net, its training sets, lung masks and boxes precached once per image, the target
regions built from them, and segment-lungs for one's own films."""
