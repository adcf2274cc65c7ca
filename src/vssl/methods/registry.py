"""Name → (method class, config dataclass) for every self-supervised method, imported on first use."""

from __future__ import annotations

from importlib import import_module

from vssl.core.errors import ConfigError

# name → (module, method class, config class); modules are imported lazily so listing stays cheap
_METHODS = {
    "ctp": ("vssl.methods.ctp", "CtP", "CtPConfig"),
    "cvrl": ("vssl.methods.cvrl", "CVRL", "CVRLConfig"),
    "kd": ("vssl.methods.kd", "KnowledgeDistillation", "KDConfig"),
    "modality_transfer": ("vssl.methods.modality_transfer", "ModalityTransfer", "ModalityTransferConfig"),
    "pace": ("vssl.methods.pace", "PacePrediction", "PaceConfig"),
    "pretext_contrast": ("vssl.methods.pretext_contrast", "PretextContrast", "PretextContrastConfig"),
    "prp": ("vssl.methods.prp", "PRP", "PRPConfig"),
    "rspnet": ("vssl.methods.rspnet", "RSPNet", "RSPNetConfig"),
    "rotnet3d": ("vssl.methods.rotnet3d", "RotNet3D", "RotNet3DConfig"),
    "videomoco": ("vssl.methods.videomoco", "VideoMoCo", "VideoMoCoConfig"),
    "videomae": ("vssl.methods.videomae", "VideoMAE", "VideoMAEConfig"),
    "vcop": ("vssl.methods.vcop", "VCOP", "VCOPConfig"),
    "rho_byol": ("vssl.methods.rho_byol", "RhoBYOL", "RhoBYOLConfig"),
    "rho_moco": ("vssl.methods.rho_moco", "RhoMoCo", "RhoMoCoConfig"),
    "rho_simclr": ("vssl.methods.rho_simclr", "RhoSimCLR", "RhoSimCLRConfig"),
    "rho_swav": ("vssl.methods.rho_swav", "RhoSwAV", "RhoSwAVConfig"),
    "statistics": ("vssl.methods.statistics", "Statistics", "StatisticsConfig"),
    # skeleton sequences, not videos (Thoker 2023 Ch. 3)
    "intra_skeleton": ("vssl.methods.skeleton_contrast", "IntraSkeletonContrast", "IntraSkeletonConfig"),
    "inter_skeleton": ("vssl.methods.skeleton_contrast", "InterSkeletonContrast", "InterSkeletonConfig"),
    "tclr": ("vssl.methods.tclr", "TCLR", "TCLRConfig"),
    "tdl": ("vssl.methods.tdl", "TDL", "TDLConfig"),
    "tubelet_contrast": ("vssl.methods.tubelet_contrast", "TubeletContrast", "TubeletContrastConfig"),
    "supervised": ("vssl.methods.supervised", "Supervised", "SupervisedConfig"),  # the labelled ceiling
}


def get_method(name: str):
    """(method class, config dataclass) of a registered method."""
    if name not in _METHODS:
        raise ConfigError(f"method.name: unknown method '{name}' (available: {', '.join(list_methods())})")
    module, method_class, config_class = _METHODS[name]
    loaded = import_module(module)
    return getattr(loaded, method_class), getattr(loaded, config_class)


def list_methods() -> list[str]:
    return sorted(_METHODS)
