"""Training engine: Lightning pre-training loop, optimisers and schedules."""
