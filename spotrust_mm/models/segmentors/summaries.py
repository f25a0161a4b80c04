"""The maths that summarises S stochastic samples (or ensemble
members) of a head into the prediction and its uncertainties, binary and
K-class: the mean probability and its epistemic std
(:func:`summarize_samples`), the mean softmax, the entropy decomposition
and the mutual information (:func:`summarize_class_samples`), the learned
variance, the post-hoc temperature and logit bias (:func:`scaled_logits`,
:func:`prior_correction`), and the logit the binary ``seg_logits`` hold
(:func:`probability_logit`). Pure functions of tensors; the segmentors
(:mod:`.uncertainty`) call them.

Uncertainty of K-class predictions from S samples: the predictive mean
softmax, its entropy and the split into expected entropy (aleatoric) and
mutual information (epistemic)."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

#: The uncertainty channels that follow the K mean probabilities in the
#: summary of a K-class model, as named in its :class:`SegDataSample`:
#: mutual information (epistemic), mean learned variance ``exp(s)``
#: (aleatoric, as in the binary case), predictive entropy (total) and the
#: expected entropy over samples (aleatoric).
CLASS_UNCERTAINTY_FIELDS = ('epistemic_uncertainty', 'aleatoric_uncertainty',
                            'predictive_entropy', 'expected_entropy')


def entropy(probs: Tensor, dim: int) -> Tensor:
    """Shannon entropy in nats, ``-sum p log p`` along ``dim`` (0 log 0 =
    0)."""
    return -torch.special.xlogy(probs, probs).sum(dim)


def scaled_logits(logits: Tensor, temperature: float = 1.0,
                  bias=None) -> Tensor:
    """The post-hoc logit transform ``z / T + b`` (tools/calibrate.py), in
    float32 (also under mixed precision: probabilities near 0 or 1 need
    it).

    Args:
        logits (Tensor): (S, N, H, W) binary logits or (S, N, K, H, W).
        temperature (float): ``T`` > 0. Defaults to 1.
        bias (float | Sequence[float], optional): ``b``: one value for
            binary logits, K (one per class) for K classes; None is 0.
            ``-log w`` undoes the class weight ``w`` of the training loss
            (the prior correction, :func:`prior_correction`). Two softmax
            logits (a binary task with mmseg's two-class head) also take
            one value, the binary form: the second logit's bias against
            the first (``[0, b]``; a softmax ignores a common shift).
    """
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    z = logits.float() / temperature  # a new tensor: added to in place
    if bias is None:
        return z
    b = torch.as_tensor(bias, dtype=z.dtype, device=z.device)
    classes = logits.shape[2] if logits.dim() == 5 else 1
    if classes == 2 and b.numel() == 1:
        b = torch.cat([b.reshape(1).new_zeros(1), b.reshape(1)])
    if b.numel() != classes:
        raise ValueError(f'logit bias {bias!r}: expected {classes} '
                         'value(s), one per logit')
    return z.add_(b.reshape(-1, 1, 1) if logits.dim() == 5 else b.reshape(()))


def prior_correction(class_weight) -> list:
    """The logit bias that undoes a class-weighted loss at inference.

    A loss that weighs class ``c`` by ``w_c`` is minimised by ``q_c
    proportional to w_c p_c`` (``p`` the unweighted probability), that is
    logits ``log p_c + log w_c`` up to a constant. So ``b_c = -log w_c``
    gives back ``p`` (Elkan, 2001; King and Zeng, 2001). For a binary
    sigmoid (weights ``[w_0, w_1]``) that is the single ``-log(w_1 /
    w_0)``.

    Args:
        class_weight (Sequence[float]): The loss's K positive weights.

    Returns:
        list[float]: K biases, or one for two weights (the binary logit).
    """
    w = torch.as_tensor(class_weight, dtype=torch.float64).flatten()
    if w.numel() < 2 or (w <= 0).any():
        raise ValueError(f'class_weight {class_weight!r}: expected at '
                         'least two positive weights')
    if w.numel() == 2:
        return [float(-torch.log(w[1] / w[0]))]
    return [float(v) for v in -torch.log(w)]


def loss_class_weight(model):
    """The class weight of a model's training loss: that of every loss
    module that has one (an ensemble's members must agree), or None."""
    weights = {tuple(float(v) for v in m.class_weight)
               for m in model.modules()
               if getattr(m, 'class_weight', None) is not None
               and type(m).__name__.endswith('Loss')}
    return list(weights.pop()) if len(weights) == 1 else None


def mean_softmax(logits: Tensor, temperature: float = 1.0,
                 bias=None) -> Tensor:
    """``mean_s softmax(z_s / T + b)`` of (S, N, K, ...) logits, in
    float32 (:func:`mean_softmax_at` of one pair)."""
    return mean_softmax_at(logits, [(temperature, bias)])[0]


def mean_softmax_at(logits: Tensor, transforms) -> List[Tensor]:
    """:func:`mean_softmax` at each ``(T, b)`` of ``transforms``.

    Two logits take the binary form, the same values with one sigmoid
    per pixel: ``softmax(z / T + b)_1 = sigmoid((z_1 - z_0) / T + b_1 -
    b_0)``, the gap taken once for every pair (the calibration fits dozens
    of (T, b) pairs on every photo's samples, and this halves the work of
    each)."""
    if logits.shape[2] != 2:
        return [torch.softmax(scaled_logits(logits, t, b), dim=2).mean(0)
                for t, b in transforms]
    gap = logits[:, :, 1].float() - logits[:, :, 0].float()
    out = []
    for temperature, bias in transforms:
        if bias is not None:  # the two biases as scaled_logits reads them
            b = scaled_logits(gap.new_zeros(1, 1, 2, 1, 1), 1.0,
                              bias).flatten()
            bias = float(b[1] - b[0])
        p = mean_probability(gap, temperature, bias)
        out.append(torch.stack([1 - p, p], 1))
    return out


def entropy_decomposition(probs: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Predictive entropy, expected entropy and mutual information of S
    sampled class distributions (Gal, 2016; Depeweg et al., 2018).

    ``H[mean_s p_s] = mean_s H[p_s] + MI``: the total uncertainty is the
    aleatoric part (the entropy each sample already has) plus the epistemic
    part (how much the samples disagree). Identical samples give MI = 0;
    K samples that each put all mass on a different class give MI = log K.

    Args:
        probs (Tensor): (S, N, K, ...) probabilities.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Each (N, ...), in nats; MI is
        clamped at 0 against rounding.
    """
    total = entropy(probs.mean(0), dim=1)
    expected = entropy(probs, dim=2).mean(0)
    return total, expected, (total - expected).clamp_min(0)


def binary_entropies(logits: Tensor, temperature: float = 1.0,
                     bias=None) -> Tensor:
    """Predictive and expected entropy of S binary samples, in nats.

    Each sample's defect probability ``p_s = sigmoid(z_s / T + b)`` is the
    two-class distribution ``[1 - p_s, p_s]`` (:func:`entropy_decomposition`):
    the predictive entropy is that of the mean, the expected entropy the
    mean of the samples', and their difference the mutual information.

    Args:
        logits (Tensor): (S, N, H, W) defect logits.
        temperature (float): Post-hoc temperature. Defaults to 1.
        bias (float, optional): Post-hoc logit bias; None is 0.

    Returns:
        Tensor: (N, 2, H, W): predictive entropy, expected entropy.
    """
    p = torch.sigmoid(scaled_logits(logits, temperature, bias))
    total, expected, _ = entropy_decomposition(torch.stack([1 - p, p], 2))
    return torch.stack([total, expected], 1)


def mean_variance(log_vars: Optional[Tensor], like: Tensor,
                  log_var_range: Tuple[float, float],
                  temperature: float) -> Tensor:
    """Mean ``exp(s) / T**2`` over the S samples of (S, N, H, W) ``s``
    clamped to ``log_var_range``, in float32; zeros shaped as the (N, H,
    W) ``like`` for a head that predicts no variance (None)."""
    if log_vars is None:
        return torch.zeros_like(like, dtype=torch.float32)
    return torch.exp(log_vars.float().clamp(*log_var_range)).mean(0) / \
        temperature**2


def summarize_class_samples(logits: Tensor,
                            log_vars: Optional[Tensor],
                            log_var_range: Tuple[float, float] = (-10.0,
                                                                  10.0),
                            temperature: float = 1.0,
                            bias=None) -> Tensor:
    """Reduce S stochastic K-class outputs to prediction and uncertainties.

    Args:
        logits (Tensor): (S, N, K, H, W) class logits.
        log_vars (Tensor, optional): (S, N, H, W) log variances ``s``;
            None for a head without them (aleatoric variance 0).
        log_var_range (tuple[float, float]): Clamp for ``s`` before ``exp``.
        temperature (float): Post-hoc temperature: every sample's logits
            are divided by it before the softmax; the variance, in logit
            units, by its square.
        bias (Sequence[float], optional): K post-hoc logit biases, added
            after the temperature (:func:`scaled_logits`); None is 0.

    Returns:
        Tensor: (N, K + 4, H, W): the K mean probabilities, then the
        fields of :data:`CLASS_UNCERTAINTY_FIELDS` in that order.
    """
    if logits.dim() != 5 or log_vars is not None and \
            log_vars.shape != logits.shape[:2] + logits.shape[3:]:
        raise ValueError('logits (S, N, K, H, W) and log_vars (S, N, H, W) '
                         f'expected, got {tuple(logits.shape)} and '
                         f'{tuple(log_vars.shape)}')
    probs = torch.softmax(scaled_logits(logits, temperature, bias), dim=2)
    total, expected, mutual = entropy_decomposition(probs)
    variance = mean_variance(log_vars, total, log_var_range, temperature)
    return torch.cat([
        probs.mean(0),
        torch.stack([mutual, variance, total, expected], dim=1)
    ], dim=1)


#: Probabilities are clamped to [LOGIT_EPS, 1 - LOGIT_EPS] before the
#: binary ``seg_logits`` (their logit) is taken, so that it stays finite.
LOGIT_EPS = 1e-7


def probability_logit(prob: Tensor) -> Tensor:
    """``log(p / (1 - p))`` of a mean probability, ``p`` clamped to
    [:data:`LOGIT_EPS`, 1 - :data:`LOGIT_EPS`]: the binary ``seg_logits``,
    whose sigmoid gives the probability back."""
    p = prob.float().clamp(LOGIT_EPS, 1 - LOGIT_EPS)
    return torch.log(p) - torch.log1p(-p)


def mean_probability(logits: Tensor, temperature: float = 1.0,
                     bias=None) -> Tensor:
    """``mean_s sigmoid(z_s / T + b)`` of (S, ...) logits, in float32
    (:func:`scaled_logits`; in place on its new tensor: calibration runs
    this for dozens of (T, b) pairs on every photo's samples)."""
    return torch.sigmoid_(scaled_logits(logits, temperature, bias)).mean(0)


def summarize_samples(logits: Tensor,
                      log_vars: Optional[Tensor],
                      log_var_range: Tuple[float, float] = (-10.0, 10.0),
                      temperature: float = 1.0,
                      bias=None) -> Tensor:
    """Reduce S stochastic outputs to prediction and uncertainties.

    SpotRust paper, Sec. 3.3: the prediction is the mean defect
    probability over the samples, the epistemic uncertainty is the standard
    deviation of that probability over the samples (population std, so a
    single sample gives exactly 0), and the aleatoric uncertainty is the
    mean predicted variance ``exp(s)`` (in logit units) over the samples.

    Args:
        logits (Tensor): Corrosion logits, shape (S, N, H, W).
        log_vars (Tensor, optional): Log variances ``s``, shape (S, N, H,
            W); None for a head without them (aleatoric variance 0).
        log_var_range (tuple[float, float]): ``s`` is clamped to this range
            before ``exp``, as in the loss. Defaults to (-10, 10).
        temperature (float): Post-hoc temperature ``T`` (tools/calibrate.py):
            every sample's (or member's) defect logit is divided by ``T``
            before the sigmoid, so the mean probability and the epistemic
            std are those of the scaled samples, and the aleatoric variance,
            being that of the logit, is divided by ``T**2``. 1 (default)
            changes nothing.
        bias (float, optional): Post-hoc logit bias ``b``, added after
            the temperature (:func:`scaled_logits`); None is 0.

    Returns:
        Tensor: (N, 3, H, W): mean probability, epistemic std, aleatoric
        variance.
    """
    if logits.dim() != 4 or (log_vars is not None
                             and logits.shape != log_vars.shape):
        raise ValueError('logits and log_vars must both be (S, N, H, W), got '
                         f'{tuple(logits.shape)} and {tuple(log_vars.shape)}')
    # float32 also under mixed precision: the std of probabilities near 0
    # or 1 and exp(s) need more than fp16/bf16 resolution
    probs = torch.sigmoid(scaled_logits(logits, temperature, bias))
    mean = probs.mean(0)  # = mean_probability(logits, temperature, bias)
    epistemic = (probs - mean).pow(2).mean(0).sqrt()
    aleatoric = mean_variance(log_vars, mean, log_var_range, temperature)
    return torch.stack([mean, epistemic, aleatoric], dim=1)
