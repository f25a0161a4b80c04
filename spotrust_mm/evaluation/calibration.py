"""Post-hoc temperature scaling (Guo et al., 2017) of Monte Carlo and
ensemble predictions.

One temperature ``T`` divides every sample's (or member's) defect logit
``z_s`` before the sigmoid; the prediction is the mean of the scaled
probabilities, ``p_T = mean_s sigmoid(z_s / T)``, and ``T`` minimises its
negative log-likelihood on held-out (validation) pixels. For a single
deterministic model (S = 1) this is ordinary temperature scaling.
"""
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit

#: Search range of the temperature.
TEMPERATURE_BOUNDS = (0.05, 20.0)


def scaled_mean_probability(logits: np.ndarray,
                            temperature: float = 1.0) -> np.ndarray:
    """``mean_s sigmoid(z_s / T)`` of (S, ...) logits, float64 (...)."""
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    z = np.asarray(logits, np.float64) / temperature
    return expit(z).mean(0)


def mean_nll(prob: np.ndarray, labels: np.ndarray,
             eps: float = 1e-7) -> float:
    """Mean binary negative log-likelihood, ``p`` clipped to [eps, 1-eps]
    (as :func:`brier_nll_sums`)."""
    p = np.clip(prob, eps, 1 - eps)
    y = np.asarray(labels, np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray,
                    bounds=TEMPERATURE_BOUNDS) -> float:
    """The temperature that minimises the NLL of the mean prediction.

    Args:
        logits (np.ndarray): (S, P) defect logits of S samples (or
            members) on P labelled pixels.
        labels (np.ndarray): (P,) 0/1 labels.
        bounds (tuple[float, float]): Search range of ``T``.

    Returns:
        float: ``T`` (searched on log T, bounded).
    """
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels).ravel()
    if logits.ndim != 2 or logits.shape[1] != labels.size:
        raise ValueError(f'logits must be (S, P) for P={labels.size} '
                         f'labels, got {logits.shape}')
    if labels.size == 0:
        raise ValueError('no labelled pixels to fit a temperature on')
    result = minimize_scalar(
        lambda log_t: mean_nll(
            scaled_mean_probability(logits, float(np.exp(log_t))), labels),
        bounds=tuple(np.log(bounds)), method='bounded',
        options=dict(xatol=1e-4))
    return float(np.exp(result.x))


def temperature_grid(num: int = 49, bounds=TEMPERATURE_BOUNDS) -> np.ndarray:
    """``num`` temperatures evenly spaced in log T over ``bounds`` (49 over
    0.05-20: steps of 13 %)."""
    return np.exp(np.linspace(np.log(bounds[0]), np.log(bounds[1]), num))


def nll_per_temperature(probs: np.ndarray, labels: np.ndarray,
                        eps: float = 1e-7) -> np.ndarray:
    """Summed binary NLL of (K, P) probabilities (one row per temperature)
    against (P,) 0/1 labels, ``p`` clipped as :func:`mean_nll`: (K,)."""
    p = np.clip(np.asarray(probs, np.float64), eps, 1 - eps)
    y = np.asarray(labels, bool).ravel()
    return -(np.log(p[:, y]).sum(1) + np.log1p(-p[:, ~y]).sum(1))


def class_nll_per_temperature(probs: np.ndarray, labels: np.ndarray,
                              eps: float = 1e-7) -> np.ndarray:
    """Summed K-class NLL ``-sum log p_y`` of (T, K, P) probabilities
    (one (K, P) block per temperature) against (P,) class ids, ``p_y``
    clipped to ``eps``: (T,)."""
    y = np.asarray(labels, np.int64).ravel()
    p_y = np.take_along_axis(np.asarray(probs, np.float64),
                             y[None, None, :], axis=1)[:, 0]
    return -np.log(np.clip(p_y, eps, 1)).sum(1)


def grid_minimum(values: np.ndarray, nll: np.ndarray,
                 log_spaced: bool = True) -> float:
    """The value that minimises ``nll`` (one per value of a grid): the
    grid's best, refined by the vertex of the parabola through it and its
    two neighbours (kept within them); the grid's end if the best is
    there. ``log_spaced`` (temperatures) fits the parabola in log values;
    else in the values (a logit bias)."""
    t = np.asarray(values, np.float64)
    t = np.log(t) if log_spaced else t
    f = np.asarray(nll, np.float64)
    i = int(np.argmin(f))
    back = np.exp if log_spaced else float
    if i == 0 or i == len(f) - 1:
        return float(back(t[i]))
    x0, x1, x2 = t[i - 1:i + 2]
    f0, f1, f2 = f[i - 1:i + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (f1 - f0) + x1 * (f0 - f2) + x0 * (f2 - f1)) / denom
    b = (x2 * x2 * (f0 - f1) + x1 * x1 * (f2 - f0) + x0 * x0 *
         (f1 - f2)) / denom
    if a <= 0:
        return float(back(x1))
    return float(back(np.clip(-b / (2 * a), x0, x2)))
