"""Inference adapters, one module per recipe; importing the package registers every module's adapter.

A recipe adds ``emo_lobes/adapters/<recipe>.py`` holding a :class:`emo_lobes.inference.classifier.RecipeAdapter` subclass
decorated with ``@register_adapter("<Recipe>")`` (the ``recipe`` name its ``test_results.json`` carries); every
module of this package is imported here, so nothing else needs editing.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
