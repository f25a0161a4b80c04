from .hooks import BayesianWarmupHook, KLNormaliserHook, count_label_pixels

__all__ = ['BayesianWarmupHook', 'KLNormaliserHook', 'count_label_pixels']
