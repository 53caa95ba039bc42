"""stgan: STGAN (Liu et al., CVPR 2019) for arbitrary facial attribute editing, in PyTorch.

The docstrings cite the project's specification as "reference §N": section N of
docs/reference.md in the repository.
"""

__version__ = "0.1.0"
