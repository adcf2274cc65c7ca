"""vssl: self-supervised video representation learning and its honest benchmarking."""

__version__ = "0.1.0"
