"""Self-supervised methods: one file per method on a shared base; losses as pure functions."""
