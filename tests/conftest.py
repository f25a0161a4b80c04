import copy
import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import spotrust_mm  # noqa: E402,F401
from mmseg.utils import register_all_modules  # noqa: E402

register_all_modules(init_default_scope=True)

TINY_CHANNELS = (4, 8, 8, 8)


def tiny_hrnet_model(head_type: str = 'MCDropoutHRHead', **head_kwargs):
    """A BayesianEncoderDecoder on a tiny HRNet, fast on CPU."""
    c = TINY_CHANNELS
    norm_cfg = dict(type='BN', requires_grad=True)
    head = dict(
        type=head_type,
        in_channels=list(c),
        in_index=(0, 1, 2, 3),
        channels=sum(c),
        norm_cfg=norm_cfg,
        loss_decode=dict(type='BayesianBCELoss'))
    head.update(head_kwargs)
    return dict(
        type='BayesianEncoderDecoder',
        num_samples=6,
        sample_chunk=4,
        seed=0,
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            size_divisor=32,
            test_cfg=dict(size_divisor=32)),
        backbone=dict(
            type='HRNet',
            norm_cfg=norm_cfg,
            extra=dict(
                stage1=dict(
                    num_modules=1,
                    num_branches=1,
                    block='BOTTLENECK',
                    num_blocks=(1, ),
                    num_channels=(4, )),
                stage2=dict(
                    num_modules=1,
                    num_branches=2,
                    block='BASIC',
                    num_blocks=(1, 1),
                    num_channels=c[:2]),
                stage3=dict(
                    num_modules=1,
                    num_branches=3,
                    block='BASIC',
                    num_blocks=(1, 1, 1),
                    num_channels=c[:3]),
                stage4=dict(
                    num_modules=1,
                    num_branches=4,
                    block='BASIC',
                    num_blocks=(1, 1, 1, 1),
                    num_channels=c))),
        decode_head=head,
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


@pytest.fixture
def tiny_model_cfg():
    return copy.deepcopy(tiny_hrnet_model)
