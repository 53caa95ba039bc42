"""stgan: STGAN (Liu et al., CVPR 2019) for arbitrary facial attribute editing, in PyTorch."""

__version__ = "0.1.0"
