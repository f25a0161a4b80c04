"""What one inference call asks of the sampling: passed explicitly from
the predictor (``predict``, ``predict_at_temperatures``) through
``inference`` and the slide code to ``encode_decode`` and
``sample_outputs``, so no mode is set on the model and read back."""
from dataclasses import dataclass, replace
from typing import Any, List, Optional, Sequence, Tuple

from torch import Tensor

from .summaries import CLASS_UNCERTAINTY_FIELDS

#: Summary channels of a binary model: mean probability, epistemic std,
#: aleatoric variance.
UNCERTAINTY_FIELDS = ('seg_logits', 'epistemic_uncertainty',
                      'aleatoric_uncertainty')
#: More binary channels on request (``entropies``): predictive and
#: expected entropy (:func:`~.summaries.binary_entropies`).
BINARY_ENTROPY_FIELDS = ('predictive_entropy', 'expected_entropy')


def summary_channels(num_logits: int) -> int:
    """Channels of the summary for a head with ``num_logits`` logits: 3
    for the binary sigmoid head (:data:`UNCERTAINTY_FIELDS`), K + 4 for K
    softmax classes (the mean probabilities and
    :data:`CLASS_UNCERTAINTY_FIELDS`)."""
    return len(UNCERTAINTY_FIELDS) if num_logits == 1 else \
        num_logits + len(CLASS_UNCERTAINTY_FIELDS)


@dataclass
class SamplingRequest:
    """One inference call's request.

    Args:
        num_samples (int, optional): Samples of a stochastic head; None
            for the model's ``num_samples``.
        entropies (bool): A binary summary also carries
            :data:`BINARY_ENTROPY_FIELDS` (a K-class one always does).
        transforms (Sequence, optional): ``(temperature, logit bias)``
            pairs: the output is then the mean probability at each
            (``predict_at_temperatures``) instead of the summary.
        rng_states (list[Tensor], optional): One random stream per image
            (seeded predictions), advanced as the samples are drawn.
        window_count (int): Windows batched through the backbone
            (window-major); the head samples them in turn.
    """

    num_samples: Optional[int] = None
    entropies: bool = False
    transforms: Optional[Sequence[Tuple[float, Any]]] = None
    rng_states: Optional[List[Tensor]] = None
    window_count: int = 1

    def output_channels(self, num_logits: int) -> int:
        """Channels of ``encode_decode``'s output under this request."""
        if self.transforms is not None:
            return len(self.transforms) * num_logits
        extra = len(BINARY_ENTROPY_FIELDS) if self.entropies and \
            num_logits == 1 else 0
        return summary_channels(num_logits) + extra

    def for_windows(self, count: int) -> 'SamplingRequest':
        """The same request for ``count`` windows batched together (the
        random streams are shared, not copied, so they run on)."""
        return replace(self, window_count=count)
