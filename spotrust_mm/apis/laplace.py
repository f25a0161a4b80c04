"""Fit a last-layer Laplace posterior to a trained model: uncertainty that
costs the plain model nothing of its accuracy.

The model's decode head is a :class:`BayesianTailHead` with
``tail='laplace'`` holding the plain model's classifier
(:class:`~spotrust_mm.models.layers.LaplaceConv2d`). :func:`fit_laplace`
runs the backbone and the head's body once over the training photos (the
test pipeline: whole photos, no augmentation), sums the GGN of the
classifier's loss at its trained weights over every labelled pixel
(:func:`last_layer_ggn`), and picks the one free number of the posterior,
the count of independent observations ``n`` that the pixels stand for, on
validation pixels: the widest posterior (smallest ``n``) whose sampled
predictive has a negative log likelihood within ``nll_tolerance`` (1 %)
of the best. The validation NLL alone always prefers the narrowest
posterior on these models (it falls as ``n`` grows, towards the plain
model's: docs/benchmarks.md), which would leave no epistemic uncertainty
at all; the tolerance keeps the predictive as good as the plain model's
while the posterior still says where the classifier's weights are
unsure. The posterior is stored in the classifier (``scale_tril``).
"""
import math
from typing import Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import is_model_wrapper

from ..models.layers import LaplaceConv2d
from ..models.layers.laplace_conv import (last_layer_ggn,
                                          posterior_scale_tril,
                                          sampled_probabilities,
                                          with_bias_column)

#: The candidate ``n`` (observations the training pixels stand for):
#: 1 to 10^8, a factor of sqrt(10) apart.
DEFAULT_GRID = tuple(10**(k / 2) for k in range(0, 17))


def laplace_classifier(model) -> LaplaceConv2d:
    """The :class:`LaplaceConv2d` classifier of ``model``'s decode head.

    Raises:
        ValueError: If the head has none, saying which config to use.
    """
    model = model.module if is_model_wrapper(model) else model
    conv = getattr(getattr(model, 'decode_head', None), 'conv_seg', None)
    if not isinstance(conv, LaplaceConv2d):
        raise ValueError(
            f'{type(model).__name__} has no Laplace classifier: use a config '
            "with model.type='BayesianEncoderDecoder' and bayesian_tail="
            "dict(tail='laplace', aleatoric=False) (configs/corrosion/"
            '*_laplace_corrosion.py inherit their plain model so)')
    return conv


def load_plain_weights(model, checkpoint: str) -> dict:
    """Load a trained model's checkpoint (the plain mmseg model, or a
    Laplace one to refit) into ``model``; only the posterior may be
    missing.

    Returns:
        dict: The checkpoint as read (its ``meta`` included).

    Raises:
        ValueError: Naming the checkpoint and the weights that do not fit.
    """
    from mmengine.runner import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {k[7:] if k.startswith('module.') else k: v
             for k, v in state.items()}
    own = model.state_dict()
    shapes = [k for k, v in state.items()
              if k in own and tuple(v.shape) != tuple(own[k].shape)]
    result = model.load_state_dict(state, strict=False) if not shapes \
        else None
    missing = [k for k in (result.missing_keys if result else [])
               if not k.endswith('scale_tril')]
    unexpected = list(result.unexpected_keys) if result else []
    if shapes or missing or unexpected:
        raise ValueError(
            f'{checkpoint} does not fit the Laplace model: ' + '; '.join(
                f'{what} {keys[:3]}' for what, keys in (
                    ('other shapes:', shapes), ('missing:', missing),
                    ('not in the model:', unexpected)) if keys) +
            '. Give the checkpoint of the plain model this config inherits.')
    return ckpt


def _pixels(model, batch, generator, limit: Optional[int]):
    """The head's body features, the classifier's MAP probabilities and the
    labels of one batch's labelled pixels, at the features' resolution;
    at most ``limit`` pixels per photo, drawn with ``generator``."""
    data = model.data_preprocessor(batch, training=False)
    head = model.decode_head
    feat = head.forward_body(model.extract_feat(data['inputs']))
    logits = head.conv_seg(feat)
    probs = logits.sigmoid() if logits.shape[1] == 1 else logits.softmax(1)
    out = []
    for i, sample in enumerate(data['data_samples']):
        gt = sample.gt_sem_seg.data.float()[None]
        gt = F.interpolate(gt, size=feat.shape[2:], mode='nearest')[0, 0]
        valid = (gt != head.ignore_index).flatten()
        f = feat[i].flatten(1).T[valid]
        p = probs[i].flatten(1).T[valid]
        y = gt.flatten()[valid].long()
        if limit is not None and len(y) > limit:
            keep = torch.randperm(len(y), generator=generator)[:limit]
            f, p, y = f[keep], p[keep], y[keep]
        out.append((f, p, y))
    return out


@torch.no_grad()
def fit_laplace(model,
                train_batches: Iterable,
                val_batches: Iterable,
                grid: Sequence[float] = DEFAULT_GRID,
                prior_precision: float = 1.0,
                num_samples: int = 32,
                val_pixels_per_image: int = 4096,
                nll_tolerance: float = 0.01,
                seed: int = 0) -> Dict:
    """Fit the Laplace posterior of ``model``'s classifier and store it.

    Args:
        model: A model with a Laplace classifier (:func:`laplace_classifier`)
            holding the trained weights, in eval mode.
        train_batches (Iterable): Batches of labelled photos (a data
            loader with the test pipeline) for the GGN.
        val_batches (Iterable): Batches of labelled validation photos for
            choosing ``n``.
        grid (Sequence[float]): Candidate ``n``. Defaults to
            :data:`DEFAULT_GRID`.
        prior_precision (float): Of the isotropic Gaussian prior.
            Defaults to 1.
        num_samples (int): Draws of the predictive on validation.
            Defaults to 32.
        val_pixels_per_image (int): Validation pixels drawn per photo.
            Defaults to 4096.
        nll_tolerance (float): The chosen ``n`` is the smallest whose
            validation NLL is at most ``1 + nll_tolerance`` times the
            lowest (of the candidates and the plain model's). Defaults to
            0.01.
        seed (int): For the pixel and weight draws. Defaults to 0.

    Returns:
        dict: ``num_observations`` (chosen), ``nll_tolerance``,
        ``prior_precision``,
        ``train_pixels``, ``val_pixels``, ``val_nll_map`` (the plain
        model's) and ``val_nll`` per candidate.
    """
    model = model.module if is_model_wrapper(model) else model
    conv = laplace_classifier(model)
    generator = torch.Generator().manual_seed(seed)
    ggn, count = None, 0
    for batch in train_batches:
        for f, p, _ in _pixels(model, batch, generator, None):
            g = last_layer_ggn(f, p)
            ggn = g if ggn is None else ggn + g
            count += len(f)
    if not count:
        raise ValueError('the training photos have no labelled pixel')
    val = [t for batch in val_batches
           for t in _pixels(model, batch, generator, val_pixels_per_image)]
    if not val:
        raise ValueError('the validation photos have no labelled pixel')
    phi = with_bias_column(torch.cat([f for f, _, _ in val]))
    labels = torch.cat([y for _, _, y in val])
    map_probs = torch.cat([p for _, p, _ in val])
    theta = conv.flat_parameters().detach().double()
    ggn_mean = ggn / count
    nll: List[float] = []
    for n in grid:
        scale = posterior_scale_tril(ggn_mean, n, prior_precision)
        draws = sampled_probabilities(
            phi.double(), theta, scale, num_samples,
            torch.Generator().manual_seed(seed))
        nll.append(_nll(draws.mean(0), labels))
    map_nll = _nll(map_probs.double(), labels)
    limit = (1 + nll_tolerance) * min(min(nll), map_nll)
    best = min((i for i in range(len(grid)) if nll[i] <= limit),
               key=lambda i: grid[i], default=None)
    if best is None:
        raise ValueError(
            f'no candidate n has a validation NLL within {nll_tolerance} of '
            f'the best ({limit:.4f}); the largest gives {nll[-1]:.4f}: '
            'extend the grid')
    conv.set_posterior(
        posterior_scale_tril(ggn_mean, grid[best], prior_precision))
    return dict(num_observations=float(grid[best]),
                nll_tolerance=float(nll_tolerance),
                prior_precision=float(prior_precision),
                train_pixels=int(count), val_pixels=int(len(labels)),
                val_nll_map=map_nll,
                val_nll={f'{n:.4g}': v for n, v in zip(grid, nll)},
                num_samples=num_samples)


def _nll(probs, labels) -> float:
    """Mean NLL of ``labels`` under (N, K) probabilities (K = 1: of label
    1, a sigmoid output)."""
    if probs.shape[1] == 1:
        probs = torch.cat([1 - probs, probs], 1)
    value = F.nll_loss(probs.clamp_min(1e-12).log(), labels)
    return float(value) if math.isfinite(float(value)) else float('inf')
