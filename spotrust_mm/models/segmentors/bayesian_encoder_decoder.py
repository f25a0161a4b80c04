from typing import List, Optional, Tuple

import torch
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from ..layers import sampling, stochastic_layers
from .sampling_request import SamplingRequest
from .uncertainty import (UncertaintyPredictorMixin, get_rng_state,
                          predicts_log_var, set_rng_state, split_head_output,
                          summary_channels)


@MODELS.register_module()
class BayesianEncoderDecoder(UncertaintyPredictorMixin, EncoderDecoder):
    """Encoder-decoder that predicts with Monte Carlo samples of its head.

    Training is mmseg's :class:`EncoderDecoder` unchanged. At inference the
    backbone runs once per image (or window, in slide mode); only the
    decode head is sampled, ``num_samples`` times, batched ``sample_chunk``
    samples at a time by repeating the features along the batch axis. The
    stochastic layers (MC dropout, Bayes-by-backprop convs) sit after the
    backbone, so this gives the same distribution as N full passes. A head
    with a body (:class:`BayesianTailHead`: ``forward_body`` and
    ``forward_tail``) runs its body once too, and only its tail is
    sampled. A head without stochastic layers (also a plain mmseg head) is
    run once: its epistemic uncertainty is 0, and without a predicted log
    variance so is the aleatoric one.

    Any mmseg model becomes Bayesian with ``bayesian_tail``: its
    ``decode_head`` config is wrapped in a :class:`BayesianTailHead` with
    these arguments (docs/any_head.md).

    Args:
        num_samples (int): Monte Carlo samples. Defaults to 24 (paper).
        sample_chunk (int): Samples decoded together; bounds memory.
            Defaults to 8.
        seed (int, optional): Seed for the sampling noise. With a seed the
            same image gives bit-identical maps on every call, and the global
            RNG is left untouched; None draws from the global RNG.
            Defaults to 0.
        log_var_range (tuple[float, float]): Clamp for ``s`` before
            ``exp``. Defaults to (-10, 10), as the loss.
        bayesian_tail (dict, optional): :class:`BayesianTailHead` arguments
            (``tail``, ``dropout_ratio``, ``aleatoric``...) to put on
            ``decode_head``, e.g. ``dict(tail='mc_dropout',
            dropout_ratio=0.5)``. Defaults to None (the head as it is).
        **kwargs: :class:`EncoderDecoder` arguments.
    """

    def __init__(self,
                 num_samples: int = 24,
                 sample_chunk: int = 8,
                 seed: int = 0,
                 log_var_range: Tuple[float, float] = (-10.0, 10.0),
                 bayesian_tail: Optional[dict] = None,
                 **kwargs):
        if bayesian_tail is not None:
            if 'type' in bayesian_tail or 'head' in bayesian_tail:
                raise ValueError(
                    'bayesian_tail takes BayesianTailHead arguments (tail, '
                    'dropout_ratio, aleatoric, ...); the head is '
                    f'decode_head: got {dict(bayesian_tail)}')
            kwargs['decode_head'] = dict(
                type='BayesianTailHead',
                head=kwargs['decode_head'],
                **bayesian_tail)
        super().__init__(**kwargs)
        if num_samples < 1 or sample_chunk < 1:
            raise ValueError('num_samples and sample_chunk must be >= 1, got '
                             f'{num_samples} and {sample_chunk}')
        self.num_samples = num_samples
        self.sample_chunk = sample_chunk
        self.seed = seed
        self.log_var_range = tuple(log_var_range)
        self.out_channels = summary_channels(self.decode_head.out_channels)
        self.test_cfg = ConfigDict(self.test_cfg or dict(mode='whole'))

    @property
    def threshold(self) -> float:
        """Probability threshold of the decode head."""
        return self.decode_head.threshold

    @property
    def with_log_var(self) -> bool:
        """Whether the decode head predicts a log variance."""
        return predicts_log_var(self.decode_head)

    @property
    def is_stochastic(self) -> bool:
        """Whether the decode head has layers that sample at inference."""
        return bool(stochastic_layers(self.decode_head))

    def num_output_samples(self) -> int:
        return self.num_samples if self.is_stochastic else 1

    def sample_outputs(self, inputs: Tensor, batch_img_metas: List[dict],
                       request: Optional[SamplingRequest] = None
                       ) -> Tuple[Tensor, Tensor]:
        """Backbone once, head ``num_samples`` (or the request's) times.

        The backbone runs on the whole batch. With per-image random streams
        (the request's ``rng_states``, set by :meth:`predict` when seeded)
        and more than one image, each image's head samples are drawn from
        its own stream, so batching does not change an image's noise.

        Returns:
            tuple[Tensor, Tensor]: logits, (S, N, H, W) for a binary head
            or (S, N, K, H, W) for K classes, and log variances (S, N, H,
            W).
        """
        request = request or SamplingRequest()
        feats = self.head_features(self.extract_feat(
            self.backbone_input(self, inputs)))
        # slide mode may batch windows (window-major): the head samples
        # them in turn, as it would one window at a time
        windows = request.window_count
        n = len(inputs) // windows
        total = request.num_samples or self.num_output_samples()
        if not self.is_stochastic:
            total = 1
        out = torch.cat([
            self._sample_images([f[w * n:(w + 1) * n] for f in feats],
                                batch_img_metas[:n], request.rng_states,
                                total) for w in range(windows)
        ], dim=1)
        return split_head_output(out, self.with_log_var)

    def _sample_images(self, feats: List[Tensor],
                       batch_img_metas: List[dict], states, total: int
                       ) -> Tensor:
        """``total`` head samples of a batch of images, each image's from
        its own random stream (``states``) when seeded with more than
        one image."""
        if not self.is_stochastic or states is None or len(feats[0]) == 1:
            return self._sample_head(feats, batch_img_metas, total)
        device = feats[0].device
        outs = []
        for i in range(len(feats[0])):
            set_rng_state(states[i], device)
            outs.append(  # the head sizes its output by the first
                self._sample_head(  # meta (slide mode sets its window)
                    [f[i:i + 1] for f in feats], batch_img_metas[:1],
                    total))
            states[i] = get_rng_state(device)
        return torch.cat(outs, dim=1)

    def _sample_head(self, feats: List[Tensor], batch_img_metas: List[dict],
                     total: int) -> Tensor:
        """(S, N, C [+ 1], H, W) head outputs, ``sample_chunk`` samples at a
        time (one sample if the head is deterministic). A head with
        ``forward_body`` runs it once and its ``forward_tail`` draws the k
        samples of a chunk from it; any other head runs whole on the
        features repeated k times."""
        head = self.decode_head
        split = hasattr(head, 'forward_body')
        body = head.forward_body(feats) if split else feats
        n = len(feats[0])
        outputs = []
        with sampling(head, True):
            for start in range(0, total, self.sample_chunk):
                k = min(self.sample_chunk, total - start)
                out = head.forward_tail(body, k) if split else \
                    head.forward([f.repeat(k, 1, 1, 1) for f in body])
                out = head.predict_by_feat(out, batch_img_metas)
                outputs.append(out.unflatten(0, (k, n)))
        return torch.cat(outputs)
