"""Post-hoc calibration of any segmentor: fitting each step on the
validation split and scoring it (``tools/calibrate.py`` parses arguments,
prints and writes; the pure maths is :mod:`spotrust_mm.evaluation.
calibration`).

Every step transforms each Monte Carlo sample's (or ensemble member's)
logits before the sigmoid or softmax, ``z_s / T + b``, and the prediction
is the mean of the transformed probabilities (binary: ``mean_s
sigmoid(z_s / T + b)``; K classes: ``mean_s softmax(z_s / T + b)`` with one
bias per class). The steps (:func:`fit_methods`):

- ``none``: T = 1, b = 0, the model as trained;
- ``prior``: b = ``-log(w_defect / w_background)`` (K classes: ``b_c =
  -log w_c``), the known correction of the training loss's class weight
  (``prior_correction``), offered when the loss has one;
- ``temperature``: T fitted, b = 0;
- ``bias+temperature`` (binary): T and b fitted together
  (:func:`fit_bias_temperature_on`); ``prior+temperature`` (K classes):
  the prior's biases and a fitted T;
- ``threshold`` (binary): T = 1 and the logit bias whose decisions have
  the best validation F1 (:func:`fit_threshold_bias_on`): the decision
  threshold chosen on validation, moved into the logit so that every
  tool that reads ``test_cfg.logit_bias`` makes the same decisions (for
  one sigmoid, a bias ``b`` is the threshold ``sigmoid(-b)``). Chosen by
  ``auto`` only if its validation NLL is the lowest, as every step.

Each is fitted on the predictor that is deployed: a SpotRust segmentor's
own predict path (``predict_at_temperatures``: slide windows averaged and
resized as probabilities, one backbone pass for every candidate), and for
a plain mmseg model (softmax of two logits: ``z = z_defect -
z_background``; K logits) or the classical baseline the logit of its final
output. A temperature is the best of :func:`temperature_grid` (49,
log-spaced, 0.05-20) by the NLL over every labelled validation pixel,
refined by a parabola in log T (:func:`grid_minimum`).
"""
import contextlib
import os.path as osp

import numpy as np
import torch
from mmengine.structures import PixelData

from ..evaluation import (UncertaintyMetric, class_nll_per_temperature,
                          grid_minimum, nll_per_temperature,
                          temperature_grid)
from ..evaluation.calibration import TEMPERATURE_BOUNDS
from ..models.segmentors.summaries import (loss_class_weight,
                                                   prior_correction,
                                                   scaled_logits)
from ..models.segmentors.uncertainty import (UncertaintyPredictorMixin,
                                             probability_logit)
from ..progress import progress
from .memo import MemoizedPredictions, MemoizedSamples

#: What is printed for each split, before and after: binary, K classes.
REPORTED = ('ece', 'nll', 'brier', 'mean_iou', 'defect_f1')
REPORTED_CLASSES = ('ece', 'nll', 'brier', 'mean_iou', 'mean_f1')
#: The post-hoc steps compared (K classes: 'prior+temperature' in place of
#: the fitted binary bias).
METHODS = ('none', 'prior', 'temperature', 'bias+temperature', 'threshold')
#: Logit biases tried for the F1-optimal threshold: -4 to 4, step 0.25.
THRESHOLD_BIASES = tuple(float(b) for b in np.linspace(-4, 4, 33))
#: The binary logit bias is searched within BIAS_SPAN of the prior's (or
#: of 0), on a grid zoomed BIAS_ZOOMS times (fit_bias_temperature_on).
BIAS_SPAN, BIAS_ZOOMS = 4.0, 5


def probabilities_at(model, batch, transforms) -> list:
    """``(probabilities (T, H, W), labels (H, W), image path)`` of each
    image of a data batch at the original size: the model's mean
    probability at each of T ``(temperature, logit bias)`` pairs, as it
    predicts (see the module docstring); (T, K, H, W) for K classes."""
    data = model.data_preprocessor(batch, False)
    gts = [ds.gt_sem_seg.data[0] for ds in data['data_samples']]
    temperatures = [t for t, _ in transforms]
    biases = [b for _, b in transforms]
    with torch.no_grad():
        if isinstance(model, UncertaintyPredictorMixin):
            probs = model.predict_at_temperatures(
                data['inputs'], data['data_samples'], temperatures,
                biases=biases)
            if model.num_logits() == 2:  # two softmax logits: binary
                probs = [p[:, 1] for p in probs]
        else:
            probs = []
            for r in model.predict(data['inputs'], data['data_samples']):
                z = r.seg_logits.data.float()
                if z.shape[0] > 2:  # K classes: softmax of scaled logits
                    probs.append(torch.stack([torch.softmax(
                        scaled_logits(z[None, None], t, b)[0, 0], 0)
                        for t, b in transforms]))
                    continue
                # softmax of two logits = sigmoid of the gap; or one
                # logit channel (a sigmoid head, the classical baseline)
                z = z[1] - z[0] if z.shape[0] == 2 else z[0]
                probs.append(torch.stack([torch.sigmoid(
                    scaled_logits(z[None, None], t, b)[0, 0])
                    for t, b in transforms]))
    return [(p.float().cpu().numpy(), gt.cpu().numpy(), ds.get('img_path'))
            for p, gt, ds in zip(probs, gts, data['data_samples'])]


def images_at(model, dataloader, transforms, desc, quiet):
    """:func:`probabilities_at` of every image of ``dataloader``."""
    bar = progress(None, total=len(dataloader.dataset), desc=desc,
                   quiet=quiet)
    for batch in dataloader:
        for item in probabilities_at(model, batch, transforms):
            yield item
            bar.update(1)
    bar.close()


def nll_at(model, dataloader, transforms, quiet, ignore_index=255):
    """The NLL of the deployed mean probability, summed over every
    labelled pixel of ``dataloader``, at each ``(T, b)`` of
    ``transforms``."""
    nll = np.zeros(len(transforms))
    for probs, gt, _ in images_at(model, dataloader, transforms,
                                  'fitting (val)', quiet):
        valid = gt != ignore_index
        if probs.ndim == 4:
            nll += class_nll_per_temperature(probs[:, :, valid], gt[valid])
        else:
            nll += nll_per_temperature(probs[:, valid], gt[valid] == 1)
    return nll


def fit_temperature_on(model, dataloader, quiet, bias=None) -> float:
    """The temperature that minimises the validation NLL at logit bias
    ``bias``: the best of :func:`temperature_grid`, refined."""
    grid = temperature_grid()
    return grid_minimum(grid, nll_at(model, dataloader,
                                     [(t, bias) for t in grid], quiet))


def fit_bias_temperature_on(model, dataloader, quiet,
                            start_bias=0.0) -> tuple:
    """The binary ``(T, b)`` that minimise the validation NLL together: a
    7 x 7 grid of log T (0.05-20 at first) and b (``start_bias`` +-
    ``BIAS_SPAN``), zoomed ``BIAS_ZOOMS`` times by 3 around its best (one
    pass over ``dataloader`` each; the last steps are 1.2 % in T and 0.02
    in b). A grid in both at once follows the valley along which T and b
    trade off, where one at a time would crawl."""
    log_t, bias = 0.0, float(start_bias)
    half_t, half_b = float(np.log(TEMPERATURE_BOUNDS[1])), BIAS_SPAN
    for _ in range(BIAS_ZOOMS):
        pairs = [(lt, b) for lt in log_t + np.linspace(-half_t, half_t, 7)
                 for b in bias + np.linspace(-half_b, half_b, 7)]
        nll = nll_at(model, dataloader,
                     [(float(np.exp(lt)), [float(b)]) for lt, b in pairs],
                     quiet)
        log_t, bias = pairs[int(np.argmin(nll))]
        half_t, half_b = half_t / 3, half_b / 3
    return float(np.exp(log_t)), float(bias)


def f1_per_transform(model, dataloader, transforms, quiet,
                     ignore_index=255) -> np.ndarray:
    """The defect F1 over every labelled pixel of ``dataloader`` of the
    model's decisions (its threshold) at each ``(T, b)`` of
    ``transforms`` (binary)."""
    counts = np.zeros((len(transforms), 3))  # TP, FP, FN
    threshold = threshold_of(model)
    for probs, gt, _ in images_at(model, dataloader, transforms,
                                  'fitting the threshold (val)', quiet):
        valid = gt != ignore_index
        pred = probs[:, valid] > threshold
        truth = gt[valid] == 1
        counts[:, 0] += (pred & truth).sum(1)
        counts[:, 1] += (pred & ~truth).sum(1)
        counts[:, 2] += (~pred & truth).sum(1)
    den = 2 * counts[:, 0] + counts[:, 1] + counts[:, 2]
    return np.where(den > 0, 2 * counts[:, 0] / np.maximum(den, 1), np.nan)


def fit_threshold_bias_on(model, dataloader, quiet) -> float:
    """The logit bias of :data:`THRESHOLD_BIASES` whose decisions have
    the best validation F1 (the one nearest 0 among equals)."""
    f1 = f1_per_transform(model, dataloader,
                          [(1.0, [b]) for b in THRESHOLD_BIASES], quiet)
    if np.isnan(f1).all():
        return 0.0
    best = np.nanmax(f1)
    return min((b for b, v in zip(THRESHOLD_BIASES, f1) if v == best),
               key=abs)


def fit_methods(model, dataloader, quiet, prior, binary) -> dict:
    """Each post-hoc step, ``{name: (T, logit bias)}``, fitted on
    ``dataloader`` (the module docstring says how)."""
    methods = {'none': (1.0, None)}
    if prior is not None:
        methods['prior'] = (1.0, prior)
    methods['temperature'] = (
        fit_temperature_on(model, dataloader, quiet), None)
    if binary:
        t, b = fit_bias_temperature_on(model, dataloader, quiet,
                                       prior[0] if prior else 0.0)
        methods['bias+temperature'] = (t, [b])
        methods['threshold'] = (
            1.0, [fit_threshold_bias_on(model, dataloader, quiet)])
    elif prior is not None:
        methods['prior+temperature'] = (
            fit_temperature_on(model, dataloader, quiet, prior), prior)
    return methods


def threshold_of(model) -> float:
    """The probability above which the model predicts the defect."""
    if isinstance(model, UncertaintyPredictorMixin) and \
            model.num_logits() == 1:
        return float(model.threshold)
    return 0.5  # argmax of two classes; the classical detector's rule


def scores_at(model, dataloader, transforms, desc, quiet, meta):
    """UncertaintyMetric scores of the mean probability at each ``(T,
    b)`` of ``transforms`` (the model's threshold), and the summed
    calibration statistics."""
    metrics = [UncertaintyMetric() for _ in transforms]
    for m in metrics:
        m.dataset_meta = meta
    threshold = threshold_of(model)
    for probs, gt, path in images_at(model, dataloader, transforms, desc,
                                     quiet):
        for prob, metric in zip(probs, metrics):
            prob = torch.from_numpy(prob)
            if prob.dim() == 3:  # K classes: log-probabilities
                seg, pred = prob.clamp_min(1e-12).log(), prob.argmax(0)
            else:  # binary: the logit, as seg_logits holds it
                seg = probability_logit(prob)[None]
                pred = (prob > threshold).long()
            metric.process({}, [dict(
                img_path=path,
                seg_logits=PixelData(data=seg).to_dict(),
                pred_sem_seg=PixelData(data=pred[None]).to_dict(),
                gt_sem_seg=PixelData(
                    data=torch.from_numpy(gt)[None]).to_dict())])
    return [(m.compute_metrics(m.results),
             sum(r['calibration'] for r in m.results),
             m.per_image(m.results)) for m in metrics]


def format_bias(bias) -> str:
    return 'none' if bias is None else \
        '[' + ', '.join(f'{b:.4g}' for b in bias) + ']'


def config_text(config, checkpoint, method, temperature, bias,
                lines) -> str:
    head = ['# tools/calibrate.py: post-hoc step fitted on the validation '
            'split of', f'#   {osp.abspath(config)}',
            (f'#   checkpoint {osp.abspath(checkpoint)}'
             if checkpoint else None),
            f'# step {method}: T = {temperature:.4f}, logit bias '
            f'{format_bias(bias)}. Before -> after:']
    head += [f'#   {line}' for line in lines]
    cfg = f'temperature={temperature:.6g}'
    if bias is not None:
        cfg += ', logit_bias=[' + ', '.join(f'{b:.6g}' for b in bias) + ']'
    return '\n'.join([h for h in head if h] + [
        f'_base_ = [{osp.abspath(config)!r}]',
        f'model = dict(test_cfg=dict({cfg}))', ''])


def model_prior(model):
    """``(class weight of the model's loss, its prior correction)``; the
    correction is None without a weight or with equal weights."""
    weight = loss_class_weight(model)
    prior = prior_correction(weight) if weight else None
    if prior is not None and not any(prior):
        prior = None  # equal weights: the prior correction is no step
    return weight, prior


def is_binary(model) -> bool:
    """Whether ``model`` predicts one defect probability (binary) or K
    classes."""
    if isinstance(model, UncertaintyPredictorMixin):
        # one sigmoid logit, or two softmax logits (one bias: the
        # defect's against the background's, scaled_logits)
        return model.num_logits() <= 2
    # a plain mmseg model (softmax), or the classical detector
    return getattr(getattr(model, 'decode_head', None), 'num_classes',
                   2) <= 2


def calibrate(model, loaders: dict, method: str = 'auto',
              quiet: bool = False) -> tuple:
    """Fit every post-hoc step of ``model`` on ``loaders['val']``, score
    each on every split of ``loaders`` and choose one.

    Args:
        model: The segmentor, in eval mode.
        loaders (dict): ``{'val': ..., 'test': ...}`` data loaders (the
            first is fitted on; each is scored).
        method (str): A step of :data:`METHODS` (or ``prior+temperature``
            for K classes), or ``'auto'``: the lowest validation NLL.
        quiet (bool): No progress bars.

    Returns:
        tuple: ``(report, scores)``: the report (class weight, each step's
        T, bias and figures per split, ``test_per_image`` counts, the
        chosen ``method``, its ``temperature`` and ``logit_bias``) and
        ``{split: {step: (metrics, calibration statistics, per-image
        records)}}``.

    Raises:
        ValueError: ``method`` is not offered for this model.
    """
    weight, prior = model_prior(model)
    if isinstance(model, UncertaintyPredictorMixin):
        memo = MemoizedSamples(model)  # seeded: samples once an image
    else:
        model = MemoizedPredictions(model)  # deterministic: once an image
        memo = contextlib.nullcontext()
    with memo:
        methods = fit_methods(model, loaders['val'], quiet, prior,
                              is_binary(model))
        meta = getattr(model, 'dataset_meta', None) or {}
        scores = {split: dict(zip(methods, scores_at(
            model, loader, list(methods.values()), split, quiet, meta)))
            for split, loader in loaders.items()}
    report = dict(class_weight=weight,
                  methods={k: dict(temperature=t, logit_bias=b)
                           for k, (t, b) in methods.items()})
    reported = REPORTED if 'defect_f1' in scores['val']['none'][0] else \
        REPORTED_CLASSES
    for k in methods:
        for split in loaders:
            report['methods'][k][split] = {
                m: scores[split][k][0][m] for m in reported}
        if 'test' in scores:  # each test image's counts after the step
            report['methods'][k]['test_per_image'] = scores['test'][k][2]
    chosen = method
    if chosen == 'auto':
        chosen = min(methods,
                     key=lambda k: report['methods'][k]['val']['nll'])
    if chosen not in methods:
        raise ValueError(f'--method {chosen}: not offered for this model '
                         f'(offered: {", ".join(methods)}; the prior '
                         'correction needs a class-weighted loss)')
    temperature, bias = methods[chosen]
    report.update(method=chosen, temperature=temperature, logit_bias=bias,
                  reported=list(reported))
    for split in loaders:
        report[split] = dict(
            before={k: scores[split]['none'][0][k] for k in reported},
            after={k: scores[split][chosen][0][k] for k in reported})
    return report, scores
