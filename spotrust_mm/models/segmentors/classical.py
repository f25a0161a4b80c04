"""A classical defect detector without learning, as an mmseg segmentor, so
that tools/test.py scores it with the same metrics as the networks."""
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from .head_outputs import _restore_original_shape
from .uncertainty import probability_logit

#: Hue of rust (orange-brown, about 20 degrees), in radians.
RUST_HUE = math.radians(20.0)


def _gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, 1, H, W), edge-replicated."""
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma)**2)
    k = k / k.sum()
    x = F.pad(x, (radius, ) * 4, mode='replicate')
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def darkness_score(rgb: Tensor, sigma: float = 8.0) -> Tensor:
    """How much darker each pixel is than its blurred surroundings, in
    units of the image's own spread: ``(blur(g) - g) / std(g - blur(g))``
    for the grey level ``g`` of (N, 3, H, W) RGB in [0, 255]. Cracks are
    thin dark lines, so they score high. Returns (N, 1, H, W)."""
    grey = rgb.mean(1, keepdim=True)
    residual = _gaussian_blur(grey, sigma) - grey
    spread = residual.flatten(1).std(1).clamp_min(1e-3)
    return residual / spread.view(-1, 1, 1, 1)


def rust_score(rgb: Tensor) -> Tensor:
    """Rust-likeness of (N, 3, H, W) RGB in [0, 255], as simple colour-range
    rust detectors do: saturation times closeness of the hue to orange-brown
    (``cos`` of the hue difference, 0 beyond 90 degrees), times
    ``min(1, value / 0.25)`` so that near-black pixels do not count.
    Returns (N, 1, H, W) in [0, 1]."""
    x = rgb / 255.0
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    mx, mn = x.max(1).values, x.min(1).values
    sat = torch.where(mx > 0, (mx - mn) / mx.clamp_min(1e-6),
                      torch.zeros_like(mx))
    hue = torch.atan2(math.sqrt(3) * (g - b), 2 * r - g - b)
    closeness = torch.cos(hue - RUST_HUE).clamp_min(0)
    return (sat * closeness * (mx / 0.25).clamp(max=1)).unsqueeze(1)


SCORES = dict(darkness=darkness_score, rust=rust_score)


def fit_threshold(scores: np.ndarray, labels: np.ndarray,
                  num_thresholds: int = 200) -> Tuple[float, float]:
    """Fit the detector's threshold and temperature on labelled pixels.

    The threshold maximises the defect F1 of ``score > threshold`` over a
    grid of score quantiles. The temperature ``T`` of the probability
    ``sigmoid((score - threshold) / T)`` then minimises the mean NLL over a
    log-spaced grid, so the calibration metrics have a soft probability to
    score. Pixels labelled other than 0/1 are left out.

    Returns:
        tuple[float, float]: (threshold, temperature).
    """
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels).ravel()
    keep = (labels == 0) | (labels == 1)
    scores, pos = scores[keep], labels[keep] == 1
    if not pos.any() or pos.all():
        raise ValueError('fitting needs both defect and background pixels')
    grid = np.unique(np.quantile(scores, np.linspace(0.5, 0.9999,
                                                     num_thresholds)))
    order = np.argsort(scores)
    s_sorted, pos_sorted = scores[order], pos[order]
    # positives/predictions above each threshold from cumulative counts
    idx = np.searchsorted(s_sorted, grid, side='right')
    pos_above = pos.sum() - np.concatenate([[0], np.cumsum(pos_sorted)])[idx]
    pred_above = len(scores) - idx
    f1 = 2 * pos_above / np.maximum(pred_above + pos.sum(), 1)
    threshold = float(grid[int(np.argmax(f1))])
    sub = np.random.default_rng(0).choice(
        len(scores), size=min(len(scores), 200_000), replace=False)
    z, y = scores[sub] - threshold, pos[sub]
    spread = max(float(np.std(scores)), 1e-6)
    best = (np.inf, spread)
    for t in spread * np.logspace(-3, 1, 60):
        p = np.clip(1 / (1 + np.exp(-np.clip(z / t, -50, 50))), 1e-7,
                    1 - 1e-7)
        nll = -np.mean(np.where(y, np.log(p), np.log(1 - p)))
        best = min(best, (nll, float(t)))
    return threshold, best[1]


@MODELS.register_module()
class ClassicalSegmentor(BaseSegmentor):
    """A classical defect detector with no learned weights: a per-pixel
    score (:data:`SCORES`) turned into the probability
    ``sigmoid((score - threshold) / temperature)``.

    - ``score='darkness'``: pixels darker than their blurred surroundings
      (:func:`darkness_score`), for cracks;
    - ``score='rust'``: a colour range around orange-brown
      (:func:`rust_score`), for rust.

    ``threshold`` and ``temperature`` are buffers, fitted on the training
    split by ``tools/fit_classical.py`` (:func:`fit_threshold`) and saved
    as a checkpoint that ``tools/test.py`` loads like any other. It gives
    ``seg_logits`` (the logit of the probability, as mmseg's one-channel
    heads give it) and ``pred_sem_seg`` only: a threshold
    has no epistemic or aleatoric uncertainty, so only the predictive
    entropy is scored.

    Args:
        score (str): 'darkness' or 'rust'. Defaults to 'darkness'.
        blur_sigma (float): Surround scale of the darkness score, in
            pixels. Defaults to 8.
        threshold (float): Initial threshold. Defaults to 2.5.
        temperature (float): Initial temperature. Defaults to 0.5.
        data_preprocessor (dict, optional): Must give RGB in [0, 255]
            (mean 0, std 1, ``bgr_to_rgb=True``).
        pretrained, train_cfg: Accepted for ``mmseg.apis.init_model``,
            which always sets them; must be None (nothing to load or
            train).
    """

    def __init__(self,
                 score: str = 'darkness',
                 blur_sigma: float = 8.0,
                 threshold: float = 2.5,
                 temperature: float = 0.5,
                 data_preprocessor=None,
                 init_cfg=None,
                 pretrained=None,
                 train_cfg=None):
        if pretrained is not None or train_cfg:
            raise ValueError('ClassicalSegmentor has no pretrained weights '
                             'or training schedule: it is fitted by '
                             'tools/fit_classical.py')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if score not in SCORES:
            raise ValueError(f'score must be one of {sorted(SCORES)}: '
                             f'{score}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0: {temperature}')
        self.score_name = score
        self.blur_sigma = blur_sigma
        self.register_buffer('threshold', torch.tensor(float(threshold)))
        self.register_buffer('temperature', torch.tensor(float(temperature)))
        self.align_corners = False

    def score(self, inputs: Tensor) -> Tensor:
        """(N, 1, H, W) score of RGB inputs."""
        if self.score_name == 'darkness':
            return darkness_score(inputs.float(), self.blur_sigma)
        return rust_score(inputs.float())

    def probability(self, inputs: Tensor) -> Tensor:
        return torch.sigmoid(
            (self.score(inputs) - self.threshold) / self.temperature)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        return self.score(inputs)

    def encode_decode(self, inputs: Tensor,
                      batch_data_samples: List[dict]) -> Tensor:
        return self.probability(inputs)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        return self.probability(inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict:
        raise RuntimeError('ClassicalSegmentor has nothing to train: fit it '
                           'with tools/fit_classical.py')

    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        prob = self.probability(inputs)
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(len(prob))]
        for ds, p in zip(data_samples, prob):
            p = p[None]
            if 'ori_shape' in ds.metainfo:
                p = _restore_original_shape(p, ds.metainfo, False)
            p = p[0].clamp(0, 1)
            ds.set_data(dict(seg_logits=PixelData(data=probability_logit(p)),
                             pred_sem_seg=PixelData(data=(p > 0.5).long())))
        return data_samples

    def original_scores(self, inputs: Tensor,
                        data_samples: SampleList) -> List[np.ndarray]:
        """The (H, W) score of each image at its original size (padding
        cropped, resized back as :meth:`predict` does with the
        probability), where its labels are: what :meth:`fit` is given."""
        out = []
        for s, ds in zip(self.score(inputs), data_samples):
            out.append(_restore_original_shape(
                s[None], ds.metainfo, self.align_corners)[0, 0].cpu().numpy())
        return out

    def fit(self, scores: Sequence[np.ndarray],
            labels: Sequence[np.ndarray]) -> Tuple[float, float]:
        """Fit and set threshold and temperature (:func:`fit_threshold`)
        on per-image scores and labels of the same sizes (an error naming
        the image otherwise)."""
        for i, (score, label) in enumerate(zip(scores, labels)):
            if np.shape(score) != np.shape(label):
                raise ValueError(
                    f'image {i}: score {np.shape(score)} and labels '
                    f'{np.shape(label)} differ in size; score at the '
                    'original size (original_scores)')
        threshold, temperature = fit_threshold(
            np.concatenate([s.ravel() for s in scores]),
            np.concatenate([lab.ravel() for lab in labels]))
        self.threshold.fill_(threshold)
        self.temperature.fill_(temperature)
        return threshold, temperature
