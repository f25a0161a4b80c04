"""Photos as they go wrong in the field: motion and defocus blur, sensor
noise, JPEG compression, low light and haze, each at three severities
(after Hendrycks and Dietterich's ImageNet-C, with OpenCV and numpy).
``benchmarks/field_conditions.py`` measures whether the uncertainty rises
where the model fails on them."""
from typing import Callable, Dict

import cv2
import numpy as np

SEVERITIES = (1, 2, 3)


def _kernel_scale(img: np.ndarray) -> float:
    """Blur sizes scale with the photo's shorter side (640 px = 1)."""
    return min(img.shape[:2]) / 640.0


def motion_blur(img: np.ndarray, severity: int) -> np.ndarray:
    """A horizontal line kernel of 7, 15, 25 pixels (at 640 px)."""
    n = max(3, int(round((7, 15, 25)[severity - 1] * _kernel_scale(img))))
    k = np.zeros((n, n), np.float32)
    k[n // 2] = 1.0 / n
    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)


def defocus_blur(img: np.ndarray, severity: int) -> np.ndarray:
    """A disc kernel of radius 3, 6, 10 pixels (at 640 px)."""
    r = max(1, int(round((3, 6, 10)[severity - 1] * _kernel_scale(img))))
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    cv2.circle(k, (r, r), r, 1.0, -1)
    return cv2.filter2D(img, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT)


def gaussian_noise(img: np.ndarray, severity: int,
                   seed: int = 0) -> np.ndarray:
    """Additive noise of std 8, 18, 32 grey levels (seeded)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, (8, 18, 32)[severity - 1], img.shape)
    return np.clip(img.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, severity: int) -> np.ndarray:
    """Re-encoded as JPEG at quality 30, 15, 6."""
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY,
                                         (30, 15, 6)[severity - 1]])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def low_light(img: np.ndarray, severity: int) -> np.ndarray:
    """Darkened to 45, 25, 12 % of the light (gamma 1.3) with shot noise
    that grows as the light falls."""
    scale = (0.45, 0.25, 0.12)[severity - 1]
    x = (img.astype(np.float64) / 255.0) ** 1.3 * scale
    rng = np.random.default_rng(severity)
    x = x + rng.normal(0, 0.01 + 0.02 * (1 - scale), img.shape) * np.sqrt(x)
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def haze(img: np.ndarray, severity: int) -> np.ndarray:
    """Blended toward a light grey airlight by 30, 50, 70 %."""
    t = (0.3, 0.5, 0.7)[severity - 1]
    return np.clip(img.astype(np.float64) * (1 - t) + 210 * t, 0,
                   255).astype(np.uint8)


#: Every condition, by name.
CONDITIONS: Dict[str, Callable[[np.ndarray, int], np.ndarray]] = dict(
    motion_blur=motion_blur, defocus_blur=defocus_blur,
    gaussian_noise=gaussian_noise, jpeg=jpeg, low_light=low_light,
    haze=haze)


def corrupt(img: np.ndarray, condition: str, severity: int) -> np.ndarray:
    """``img`` (H, W, 3 uint8, any channel order) under ``condition`` at
    ``severity`` (1..3)."""
    if condition not in CONDITIONS:
        raise ValueError(f'condition must be one of {sorted(CONDITIONS)}, '
                         f'got {condition!r}')
    if severity not in SEVERITIES:
        raise ValueError(f'severity must be one of {SEVERITIES}, got '
                         f'{severity}')
    out = CONDITIONS[condition](img, severity)
    assert out.shape == img.shape and out.dtype == np.uint8
    return out
