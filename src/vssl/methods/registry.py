"""Name → (method class, config dataclass) for every self-supervised method."""

from __future__ import annotations

from vssl.errors import ConfigError
from vssl.methods.rho_byol import RhoBYOL, RhoBYOLConfig
from vssl.methods.rho_moco import RhoMoCo, RhoMoCoConfig
from vssl.methods.rho_simclr import RhoSimCLR, RhoSimCLRConfig
from vssl.methods.rho_swav import RhoSwAV, RhoSwAVConfig

METHODS = {
    "rho_byol": (RhoBYOL, RhoBYOLConfig),
    "rho_moco": (RhoMoCo, RhoMoCoConfig),
    "rho_simclr": (RhoSimCLR, RhoSimCLRConfig),
    "rho_swav": (RhoSwAV, RhoSwAVConfig),
}


def get_method(name: str):
    if name not in METHODS:
        raise ConfigError(f"method.name: unknown method '{name}' (available: {', '.join(sorted(METHODS))})")
    return METHODS[name]


def list_methods() -> list[str]:
    return sorted(METHODS)
