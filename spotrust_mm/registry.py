"""SpotRust-MM's scope in mmengine's registry tree.

SpotRust-MM registers its modules in mmseg's registries (configs keep
``default_scope='mmseg'``). This module adds the ``spotrust_mm`` scope the
way OpenMMLab's downstream codebases do: one child registry of each of
mmseg's, empty, whose lookups fall through to mmseg's (and so find
SpotRust's modules and mmseg's alike), and the package in mmengine's table
of scopes (``MODULE2PACKAGE``). That is what mmengine's inferencers need to
find a model by name in this package's ``model-index.yml``:
``MMSegInferencer(model='spotrust-corrosion-lite0', scope='spotrust_mm')``
(:mod:`spotrust_mm.apis.zoo`).
"""
import mmseg.registry as mmseg_registry
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry

SCOPE = 'spotrust_mm'
MODULE2PACKAGE.setdefault(SCOPE, 'spotrust_mm')


def _child(parent: Registry) -> Registry:
    """An empty ``spotrust_mm`` registry under ``parent``."""
    return Registry(parent.name, parent=parent, scope=SCOPE,
                    locations=['spotrust_mm'])


# one child of each of mmseg's registries, under the same names
# (MODELS, TRANSFORMS, DATASETS, VISUALIZERS, ...)
__all__ = [name for name in mmseg_registry.__all__
           if isinstance(getattr(mmseg_registry, name), Registry)]
globals().update({name: _child(getattr(mmseg_registry, name))
                  for name in __all__})
# mmseg has no child of mmengine's FUNCTIONS (collate functions)
FUNCTIONS = _child(MMENGINE_FUNCTIONS)
__all__.append('FUNCTIONS')
