"""Video backbones (registry, 3D ResNets) and projection heads."""
