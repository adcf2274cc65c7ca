"""Self-supervised methods: ``create(name, backbone, **settings)``, ``list_methods()`` and ``settings()``."""

from __future__ import annotations

from vssl.methods.registry import get_method, list_methods

__all__ = ["create", "get_method", "list_methods", "settings"]


def settings() -> dict[str, tuple[str, dict]]:
    """Every method → (its module's one-line description, its settings with their paper defaults) (`vssl methods`)."""
    import dataclasses
    import sys

    table = {}
    for name in list_methods():
        method_class, config_class = get_method(name)
        doc = (sys.modules[method_class.__module__].__doc__ or "").strip().splitlines()[0]
        table[name] = (doc, {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                             for f in dataclasses.fields(config_class)})
    return table


def create(name: str, backbone, *, optim=None, num_classes: dict[str, int] | None = None, prepared=None,
           **settings):
    """The LightningModule of method ``name`` around ``backbone``.

    ``settings`` are the method's own config fields (``vssl methods`` lists them with their paper defaults), checked
    like the ``method`` section of a pre-training config. ``optim`` is an ``OptimConfig`` (default: its defaults);
    the LR schedule's step counts come from the trainer that fits the module. ``num_classes`` (label set → class
    count) is needed by methods that train on labels (``supervised``); ``prepared`` is what the method class's
    ``prepare(config, data)`` returned (the ``statistics`` method's label table).
    """
    from vssl.core.config import from_dict
    from vssl.core.optim import OptimConfig

    method_class, config_class = get_method(name)
    config = from_dict(config_class, settings, "method")
    return method_class.construct(backbone, config, optim or OptimConfig(), num_classes, prepared)
