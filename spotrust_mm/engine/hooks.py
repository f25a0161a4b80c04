"""Training hooks of the Bayesian heads: the warm-up and the KL
normaliser."""
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..models.layers import MCDropout
from ..models.losses import BayesianBCELoss, KLTerm


def _modules_of(model, kind) -> list:
    """The submodules of type ``kind`` of a (possibly wrapped) model."""
    model = model.module if is_model_wrapper(model) else model
    return [m for m in model.modules() if isinstance(m, kind)]


@HOOKS.register_module()
class BayesianWarmupHook(Hook):
    """Warm up the Bayesian heads, then train with the paper's loss.

    Over the first ``warmup_epochs`` epochs (counted in iterations, so it
    is smooth and survives ``--resume``), the ``beta`` of every
    :class:`BayesianBCELoss` falls linearly from 1 to 0. With ``beta=1`` the
    logits get the unattenuated class-weighted BCE gradient, while the log
    variance ``s`` already learns its value. From then on the loss is the
    paper's (``beta=0``), or with ``final_beta > 0`` a beta-NLL that keeps
    part of the logits' gradient on the pixels where ``s`` is large: their
    gradient is damped by ``exp(-(1 - final_beta) * s)`` instead of
    ``exp(-s)``. Without a warm-up the learned variance damps the rare
    defect pixels from the first step (see :func:`bayesian_bce_loss`).
    With ``ramp_dropout`` the rate of every :class:`MCDropout` also rises
    linearly from 0 to its configured value over the same iterations.

    Args:
        warmup_epochs (float): Length of the warm-up. Defaults to 5.
        ramp_dropout (bool): Also ramp the MC-dropout rate. Defaults to
            False.
        final_beta (float): ``beta`` after the warm-up, in [0, 1); 0 (the
            default) is the paper's loss. ``beta`` falls linearly from 1
            to it. The optimum of ``s`` and of the logits is the same for
            any ``beta``; only how fast the defect logits learn changes.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_epochs: float = 5, ramp_dropout: bool = False,
                 final_beta: float = 0.0):
        if warmup_epochs <= 0:
            raise ValueError(f'warmup_epochs must be > 0: {warmup_epochs}')
        if not 0 <= final_beta < 1:
            raise ValueError(f'final_beta must be in [0, 1): {final_beta}')
        self.final_beta = final_beta
        self.warmup_epochs = warmup_epochs
        self.ramp_dropout = ramp_dropout
        self._losses: List[BayesianBCELoss] = []
        self._dropout: List[tuple] = []

    def before_train(self, runner) -> None:
        self._losses = [loss for loss in _modules_of(
            runner.model, BayesianBCELoss) if loss.supports_warmup]
        if not self._losses:
            raise ValueError('BayesianWarmupHook: the model has no '
                             'BayesianBCELoss to warm up (the K-class '
                             'BayesianCELoss has no warm-up: leave the hook '
                             'out)')
        self._dropout = [(m, m.p) for m in _modules_of(
            runner.model, MCDropout)] if self.ramp_dropout else []

    def progress(self, runner) -> float:
        """Fraction of the warm-up done at the current iteration."""
        total = self.warmup_epochs * max(len(runner.train_dataloader), 1)
        return min(1.0, runner.iter / total)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        t = self.progress(runner)
        for loss in self._losses:
            loss.beta = 1.0 - t * (1.0 - self.final_beta)
        for layer, p in self._dropout:
            layer.p = p * t

    def after_train(self, runner) -> None:
        for loss in self._losses:
            loss.beta = self.final_beta
        for layer, p in self._dropout:
            layer.p = p


def count_label_pixels(dataset, ignore_index: int = 255,
                       seed: int = 0) -> int:
    """Labelled (not ``ignore_index``) pixels that the loss sees in one
    epoch: those of every sample's ``gt_sem_seg`` after the training
    pipeline (resize, crop, padding), not of the mask files. The pipeline's
    random choices are seeded with ``seed`` (numpy's and Python's global
    generators are restored afterwards), so the count is the same on every
    run.
    """
    import random

    import numpy as np
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    total = 0
    try:
        for i in range(len(dataset)):
            sample = dataset[i]
            if 'gt_sem_seg' not in sample['data_samples']:
                path = dataset.get_data_info(i).get('img_path')
                raise ValueError(
                    f'{path}: sample {i} of the training set has no mask')
            labels = sample['data_samples'].gt_sem_seg.data
            total += int((labels != ignore_index).sum())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return total


@HOOKS.register_module()
class KLNormaliserHook(Hook):
    """Set the KL normaliser of the variational head from the data.

    Before training it counts the labelled pixels that the loss sees in one
    epoch (:func:`count_label_pixels`: after the training pipeline's
    resize and crop, as the data term's mean is taken over them): the N of
    the per-pixel negative ELBO ``mean NLL + KL / N``. A
    :class:`BayesianBCELoss` with ``num_train_pixels='auto'`` gets that
    number, and so does the :class:`KLTerm` of a variational
    :class:`BayesianTailHead` without learned variance. One with a number
    that differs from it by more than ``rtol`` fails the run, naming both,
    since such a KL weight was written for other data.

    Args:
        rtol (float): Allowed relative difference. Defaults to 0.01.
    """

    priority = 'NORMAL'

    def __init__(self, rtol: float = 0.01):
        self.rtol = rtol

    def before_train(self, runner) -> None:
        losses = [
            loss for loss in _modules_of(runner.model, (BayesianBCELoss,
                                                        KLTerm))
            if loss.num_train_pixels is not None
        ]
        if not losses:
            return
        n = count_label_pixels(runner.train_dataloader.dataset)
        for loss in losses:
            given = loss.num_train_pixels
            if given == 'auto':
                loss.num_train_pixels = n
            elif abs(given - n) > self.rtol * n:
                raise ValueError(
                    f'num_train_pixels={given} in the config, but the '
                    f'training set has {n} labelled pixels: set '
                    "num_train_pixels='auto' to derive it from the data")
        runner.logger.info(f'KL normaliser: {n} training pixels')
