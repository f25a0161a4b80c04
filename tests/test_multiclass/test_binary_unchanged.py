"""The binary paper path is unchanged by the K-class work: checkpoints
saved by SpotRust-MM before it (tests/fixtures/binary_v0, made by the tree
of commit 1173cf2 from the tiny model of conftest.py) load strictly and
give the same maps."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..conftest import REPO, tiny_hrnet_model

FIXTURES = osp.join(REPO, 'tests/fixtures/binary_v0')


@pytest.mark.parametrize('head', ['MCDropoutHRHead', 'VariationalHRHead',
                                  'AleatoricHRHead'])
def test_binary_checkpoint_from_before_gives_the_same_maps(head):
    maps = np.load(osp.join(FIXTURES, 'maps.npz'))
    model = MODELS.build(tiny_hrnet_model(head)).eval()
    load_checkpoint(model, osp.join(FIXTURES, f'tiny_{head}.pth'),
                    map_location='cpu', strict=True)
    meta = dict(ori_shape=(50, 60), img_shape=(64, 64), pad_shape=(64, 64),
                padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        out = model.predict(torch.from_numpy(maps['inputs']),
                            [SegDataSample(metainfo=meta)])[0]
    assert model.out_channels == 3
    for field in ('seg_logits', 'epistemic_uncertainty',
                  'aleatoric_uncertainty', 'pred_sem_seg'):
        got = out.get(field).data.numpy()
        if field == 'seg_logits':  # the logit of the probability saved
            got = 1 / (1 + np.exp(-got))  # then (issue 30)
        expected = maps[f'{head}/{field}']
        assert got.shape == expected.shape == (1, 50, 60)
        # float rounding only: issue 20 reordered the fused head's products
        # (its resizes as matrix products); the aleatoric variance reaches 7
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)
    assert 'predictive_entropy' not in out
