"""SpotRust-MM: Bayesian corrosion segmentation plugins for MMSegmentation.

Importing this package registers its models, datasets and transforms in
mmseg's registries. It must be imported before ``mmseg.models`` or
``mmseg.apis`` when only mmcv-lite is installed (see :mod:`.compat`).
"""
from .compat import (allow_mmengine_checkpoint_types,
                     install_cpu_distributed_support,
                     install_mmcv_ext_fallback)

install_mmcv_ext_fallback()
allow_mmengine_checkpoint_types()
install_cpu_distributed_support()

from . import (datasets, engine, evaluation, models,  # noqa: E402,F401
               registry, visualization)
from .apis import zoo  # noqa: E402,F401  (spotrust:// weights)

__version__ = '0.1.0'
