"""Video decoding, manifests, the synthetic benchmark, clip samplers, transforms and loaders."""
