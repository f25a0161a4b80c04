from .bayesian_encoder_decoder import BayesianEncoderDecoder
from .classical import ClassicalSegmentor, fit_threshold
from .ensemble_segmentor import EnsembleSegmentor
from .uncertainty import UNCERTAINTY_FIELDS, seeded, summarize_samples

__all__ = [
    'BayesianEncoderDecoder', 'ClassicalSegmentor', 'fit_threshold',
    'EnsembleSegmentor', 'summarize_samples',
    'seeded', 'UNCERTAINTY_FIELDS'
]
