"""Which intermediate outputs (taps) of a backbone to evaluate, by the papers' pool1…pool5 names or the backbone's own.

Wang 2020 (Tables 3.5/3.6, Fig. 3.8) and Kumar et al. 2023 read features at C3D's pooling layers pool1…pool5. Other backbones
name their taps differently, so the pool names are mapped onto them by one rule:

* a backbone that has taps named ``pool1``… (C3D) keeps them: ``poolN`` is its own tap;
* otherwise ``pool5`` is the last spatial tap (the feature map the final global pooling averages), ``pool4`` the
  one before it, and so on backwards; names before the first spatial tap do not exist for that backbone.

The spatial taps are all taps but ``pool`` (the encoder's own pooled output). Resulting mappings:

==========================  =======  =======  =======  =======  ========
backbone                    pool1    pool2    pool3    pool4    pool5
==========================  =======  =======  =======  =======  ========
c3d, c3d_light              pool1    pool2    pool3    pool4    pool5
c3d_bn                      pool1    pool2    pool3    pool4    conv5
ResNets (r3d, r2plus1d,     stem     layer1   layer2   layer3   layer4
mc3, slow)
swin3d_t                    embed    stage1   stage2   stage3   stage4
i3d, s3dg                   –        stem     mixed_3  mixed_4  mixed_5
shufflenet_v1_3d            –        stem     layer1   layer2   layer3
squeezenet_3d               stem     layer1   layer2   layer3   layer4
mobilenet_v2_3d             layer1   layer2   layer3   layer4   conv_last
vit_*                       block8   block9   block10  block11  block12
==========================  =======  =======  =======  =======  ========

For the ResNets this is the usual conv1…conv5 stage naming (stem = conv1, layer1 = conv2_x, …), each followed by
global average pooling. Every tap is reduced to one vector per clip by :func:`global_average`.
"""

from __future__ import annotations

import torch

from vssl.core.errors import ConfigError

POOL_NAMES = ("pool1", "pool2", "pool3", "pool4", "pool5")
ALL_TAPS = "all"


def pool_name_map(tap_names: tuple[str, ...]) -> dict[str, str]:
    """pool1…pool5 → the backbone's tap names (see the module docstring for the rule)."""
    if all(name in tap_names for name in POOL_NAMES):
        return {name: name for name in POOL_NAMES}
    spatial = [name for name in tap_names if name != "pool"]
    return {pool: tap for pool, tap in zip(reversed(POOL_NAMES), reversed(spatial))}


def parse_tap_list(taps: tuple[str, ...] | str) -> list[str]:
    """A config value (``"all"``, ``"pool3,pool5"`` or a list) as a list of names."""
    names = [t.strip() for t in taps.split(",")] if isinstance(taps, str) else [str(t).strip() for t in taps]
    return [name for name in names if name]


def resolve_taps(requested: tuple[str, ...] | str, tap_names: tuple[str, ...], key: str) -> list[str]:
    """The backbone tap names for a request of pool names, tap names or ``all`` (every tap, in order).

    ``key`` names the config key in errors. Duplicates (e.g. ``pool5`` and ``layer4``) are kept once.
    """
    names = parse_tap_list(requested)
    if names == [ALL_TAPS]:
        return list(tap_names)
    if not names:
        raise ConfigError(f"{key}: no tap given (valid: all, {', '.join(POOL_NAMES)}, {', '.join(tap_names)})")
    aliases = pool_name_map(tap_names)
    resolved: list[str] = []
    for name in names:
        tap = name if name in tap_names else aliases.get(name)
        if tap is None:
            raise ConfigError(f"{key}: unknown tap '{name}' (valid: all, {', '.join(sorted(aliases))}, "
                              f"{', '.join(tap_names)})")
        if tap not in resolved:
            resolved.append(tap)
    return resolved


def global_average(output: torch.Tensor) -> torch.Tensor:
    """One vector per clip from a tap's output: [B, C, T, H, W] → mean over T, H, W; tokens [B, N, D] → mean over
    N; [B, D] unchanged."""
    if output.dim() == 5:
        return output.mean(dim=(2, 3, 4))
    if output.dim() == 3:
        return output.mean(dim=1)
    if output.dim() == 2:
        return output
    raise ValueError(f"cannot pool a tap output of shape {tuple(output.shape)}")
