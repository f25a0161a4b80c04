from .bayesian_encoder_decoder import BayesianEncoderDecoder
from .ensemble_segmentor import EnsembleSegmentor
from .uncertainty import UNCERTAINTY_FIELDS, seeded, summarize_samples

__all__ = [
    'BayesianEncoderDecoder', 'EnsembleSegmentor', 'summarize_samples',
    'seeded', 'UNCERTAINTY_FIELDS'
]
