"""vssl: self-supervised video representation learning and its honest benchmarking.

The public API, imported on first use so that ``import vssl`` does not load torch or Lightning:
``vssl.models`` (``create``, ``list_models``, ``load_pretrained``), ``vssl.methods`` (``create``,
``list_methods``), ``vssl.data`` (``VideoReader``, manifests, ``synthesize``), ``vssl.pretrain``,
``vssl.evaluate`` and ``vssl.results`` (``load``, ``summarise``, ``comparison_table``). See docs/api.md.
"""

from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = ("models", "methods", "data", "results", "evaluation", "core", "app")
_FUNCTIONS = {"pretrain": "vssl.app.api", "evaluate": "vssl.app.api"}

__all__ = ["__version__", "data", "evaluate", "methods", "models", "pretrain", "results"]


def __getattr__(name: str):
    if name in _FUNCTIONS:
        return getattr(import_module(_FUNCTIONS[name]), name)
    if name in _SUBMODULES:
        return import_module(f"vssl.{name}")
    raise AttributeError(f"module 'vssl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES, *_FUNCTIONS})
