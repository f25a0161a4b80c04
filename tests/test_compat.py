import pickle
import sys

import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from spotrust_mm import compat


def test_mmcv_ops_import_and_compiled_ops_fail_clearly():
    import mmcv.ops
    if compat.has_compiled_mmcv():
        pytest.skip('full mmcv installed: the fallback is not in use')
    assert sys.modules['mmcv._ext'].IS_SPOTRUST_FALLBACK
    pts = mmcv.ops.point_sample(torch.rand(1, 2, 4, 4), torch.rand(1, 3, 2))
    assert pts.shape == (1, 2, 3)  # pure-torch ops work
    with pytest.raises(compat.MMCVOpUnavailableError, match='mmcv-lite'):
        mmcv.ops.sigmoid_focal_loss(
            torch.rand(2, 2), torch.tensor([0, 1]), 2.0, 0.25, None, 'mean')


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    hub = MessageHub('spotrust-test')
    hub.update_scalar('train/loss', 0.5)
    ckpt = dict(
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict(),
        meta=dict(epoch=1))
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.current() == 0.5


def test_restricted_getattr_refuses_other_attributes(tmp_path):
    assert compat.history_buffer_getattr(HistoryBuffer, 'min') \
        is HistoryBuffer.min
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        compat.history_buffer_getattr(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError):
        compat.history_buffer_getattr(torch, 'load')

    class Evil:  # a pickle that reaches past the statistics methods

        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    path = tmp_path / 'evil.pth'
    torch.save({'x': Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
