from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmseg.registry import MODELS

from spotrust_mm.engine import (BayesianWarmupHook, KLNormaliserHook,
                                count_label_pixels)
from spotrust_mm.models.layers import MCDropout

from ..conftest import tiny_hrnet_model


class _Log:
    def info(self, msg):
        self.last = msg


class _Loader(list):
    """A train dataloader stand-in: ``n`` batches and a dataset."""

    def __init__(self, n, dataset):
        super().__init__(range(n))
        self.dataset = dataset


def _runner(model, it=0, batches=10, dataset=None):
    return SimpleNamespace(model=model, iter=it, logger=_Log(),
                           train_dataloader=_Loader(batches, dataset))


def test_warmup_ramps_beta_and_dropout_then_restores():
    model = MODELS.build(tiny_hrnet_model('MCDropoutHRHead'))
    hook = BayesianWarmupHook(warmup_epochs=2, ramp_dropout=True)
    runner = _runner(model)
    hook.before_train(runner)
    loss = model.decode_head.loss_decode
    drops = [m for m in model.modules() if isinstance(m, MCDropout)]
    assert len(drops) == 4
    for it, beta, p in ((0, 1.0, 0.0), (10, 0.5, 0.25), (15, 0.25, 0.375),
                        (20, 0.0, 0.5), (99, 0.0, 0.5)):
        runner.iter = it
        hook.before_train_iter(runner, 0)
        assert loss.beta == pytest.approx(beta)
        assert all(d.p == pytest.approx(p) for d in drops)
    runner.iter = 5
    hook.before_train_iter(runner, 0)
    hook.after_train(runner)
    assert loss.beta == 0 and all(d.p == 0.5 for d in drops)


def test_warmup_without_dropout_ramp_leaves_dropout_alone():
    model = MODELS.build(tiny_hrnet_model('MCDropoutHRHead'))
    hook = BayesianWarmupHook(warmup_epochs=1)
    runner = _runner(model, it=0)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    assert model.decode_head.loss_decode.beta == 1.0
    assert all(m.p == 0.5 for m in model.modules()
               if isinstance(m, MCDropout))
    with pytest.raises(ValueError, match='warmup_epochs'):
        BayesianWarmupHook(warmup_epochs=0)


def test_warmup_to_a_final_beta_keeps_it():
    # beta falls from 1 to final_beta = 0.5 over 2 epochs of 10 batches,
    # then stays there, also after training
    model = MODELS.build(tiny_hrnet_model('MCDropoutHRHead'))
    hook = BayesianWarmupHook(warmup_epochs=2, final_beta=0.5)
    runner = _runner(model)
    hook.before_train(runner)
    loss = model.decode_head.loss_decode
    for it, beta in ((0, 1.0), (10, 0.75), (20, 0.5), (99, 0.5)):
        runner.iter = it
        hook.before_train_iter(runner, 0)
        assert loss.beta == pytest.approx(beta)
    hook.after_train(runner)
    assert loss.beta == 0.5
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match='final_beta'):
            BayesianWarmupHook(final_beta=bad)


def _mask_set(tmp_path):
    """A training set as the loss sees it: a 40x30 photo cropped to 16x16
    (256 labelled pixels) and a 10x12 photo smaller than the crop, kept
    whole, with 3 ignored pixels (117)."""
    from mmseg.registry import DATASETS
    for sub in ('img', 'ann'):
        (tmp_path / sub).mkdir()
    a = np.zeros((30, 40), np.uint8)
    a[10:20, 10:20] = 1
    b = np.zeros((12, 10), np.uint8)
    b[0, :3] = 255  # ignored
    b[5, 5] = 1
    for name, mask in (('a', a), ('b', b)):
        cv2.imwrite(str(tmp_path / 'img' / f'{name}.png'),
                    np.zeros(mask.shape + (3, ), np.uint8))
        cv2.imwrite(str(tmp_path / 'ann' / f'{name}.png'), mask)
    return DATASETS.build(dict(
        type='CorrosionDataset', data_root=str(tmp_path),
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadDefectAnnotations'),
                  dict(type='RandomCrop', crop_size=(16, 16)),
                  dict(type='PackSegInputs')]))


def test_kl_normaliser_counts_labelled_pixels(tmp_path):
    data = _mask_set(tmp_path)
    # what the loss sees, not the 1200 + 117 pixels of the mask files
    assert count_label_pixels(data) == 256 + 117
    state = np.random.get_state()[1].copy()
    assert count_label_pixels(data) == 373  # seeded, RNG restored
    assert np.array_equal(np.random.get_state()[1], state)
    model = MODELS.build(tiny_hrnet_model(
        'VariationalHRHead',
        loss_decode=dict(type='BayesianBCELoss', num_train_pixels='auto')))
    runner = _runner(model, dataset=data)
    KLNormaliserHook().before_train(runner)
    assert model.decode_head.loss_decode.num_train_pixels == 373
    assert '373 training pixels' in runner.logger.last
    # a number written for other data fails loudly
    model.decode_head.loss_decode.num_train_pixels = 48 * 128 * 128
    with pytest.raises(ValueError, match=r'786432 .* has 373 labelled'):
        KLNormaliserHook().before_train(runner)
    model.decode_head.loss_decode.num_train_pixels = 375
    KLNormaliserHook().before_train(runner)  # within 1 %
