"""The maths of post-hoc temperature scaling (Guo et al., 2017) of Monte
Carlo and ensemble predictions: the temperature grid, the NLL of each
candidate, and the refined minimum. Fitting them on a model is
:mod:`spotrust_mm.apis.calibration`.

One temperature ``T`` divides every sample's (or member's) defect logit
``z_s`` before the sigmoid; the prediction is the mean of the scaled
probabilities, ``p_T = mean_s sigmoid(z_s / T)``, and ``T`` minimises its
negative log-likelihood on held-out (validation) pixels. For a single
deterministic model (S = 1) this is ordinary temperature scaling.
"""
import numpy as np

#: Search range of the temperature.
TEMPERATURE_BOUNDS = (0.05, 20.0)


def temperature_grid(num: int = 49, bounds=TEMPERATURE_BOUNDS) -> np.ndarray:
    """``num`` temperatures evenly spaced in log T over ``bounds`` (49 over
    0.05-20: steps of 13 %)."""
    return np.exp(np.linspace(np.log(bounds[0]), np.log(bounds[1]), num))


def nll_per_temperature(probs: np.ndarray, labels: np.ndarray,
                        eps: float = 1e-7) -> np.ndarray:
    """Summed binary NLL of (K, P) probabilities (one row per temperature)
    against (P,) 0/1 labels, ``p`` clipped to [eps, 1 - eps] (as
    :func:`brier_nll_sums`): (K,)."""
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
