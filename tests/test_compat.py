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


def test_dist_backend_follows_the_machine():
    assert compat.resolve_dist_backend('auto', cuda_available=False) == \
        'gloo'
    assert compat.resolve_dist_backend(None, cuda_available=True) == 'nccl'
    assert compat.resolve_dist_backend('gloo', cuda_available=True) == \
        'gloo'
    with pytest.raises(RuntimeError, match="backend='auto'"):
        compat.resolve_dist_backend('nccl', cuda_available=False)


CPU_DIST = '''
import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0))
os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1",
                  MASTER_ADDR="127.0.0.1",
                  MASTER_PORT=str(s.getsockname()[1]))
s.close()
import spotrust_mm
import torch
from mmengine.dist import utils
from mmengine.model import MMDistributedDataParallel
init = utils._init_dist_pytorch
if sys.argv[1] == "upstream":
    init = init.__wrapped__  # mmengine's own, unpatched
init("auto" if sys.argv[1] == "patched" else "gloo")
import torch.distributed as dist
print("backend", dist.get_backend())
model = MMDistributedDataParallel(module=torch.nn.Linear(2, 1),
                                  device_ids=[0])
print("ddp", next(model.parameters()).device)
'''


def test_pytorch_launcher_works_on_a_cpu_machine(tmp_path):
    """mmengine's _init_dist_pytorch calls torch.cuda.set_device and the
    runner passes device_ids to DDP; the compat wrappers skip both where
    there is no GPU (and only there)."""
    import subprocess
    if torch.cuda.is_available():
        pytest.skip('a GPU is here: the wrappers pass through')
    script = tmp_path / 'cpu_dist.py'
    script.write_text(CPU_DIST)
    run = [sys.executable, str(script)]
    patched = subprocess.run(run + ['patched'], capture_output=True,
                             text=True, timeout=120)
    assert patched.returncode == 0, patched.stderr[-2000:]
    assert 'backend gloo' in patched.stdout and 'ddp cpu' in patched.stdout
    upstream = subprocess.run(run + ['upstream'], capture_output=True,
                              text=True, timeout=120)
    assert upstream.returncode != 0  # the problem the wrapper exists for
    assert 'cuda' in upstream.stderr.lower()
