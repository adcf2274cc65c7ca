"""The bottom layer: errors, config, runtime (threads, devices), atomic writes, optimisers and LR schedules."""
