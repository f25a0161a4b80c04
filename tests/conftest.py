import copy
import os
import os.path as osp
import shutil

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

import spotrust_mm  # noqa: E402,F401
import torch  # noqa: E402
from mmseg.utils import register_all_modules

from spotrust_mm.benchmarking import load_tool  # noqa: E402,F401

# The in-process test models are tiny: at their sizes torch's intra-op
# threads cost more than they save on the 2-core CI machine. One thread
# here; the tools the slow tests start as subprocesses keep torch's
# default (their training runs gained from two threads).
if 'OMP_NUM_THREADS' not in os.environ:
    torch.set_num_threads(1)

register_all_modules(init_default_scope=True)


def graph_on_torch_draws(model, graph, image, inputs, atol=1e-5,
                         rtol=1e-4):
    """The ONNX export graph fed torch's own draws against the model: the
    seeded model draws its noise in :meth:`noise_inputs`' order, so the
    graph given the same draws must give the model's ``encode_decode``.
    Returns ``(noise, graph output)`` after checking them equal and the
    draws making the samples differ."""
    torch.manual_seed(model.seed)
    noise = [torch.randn(shape) for _, shape, _ in inputs]
    torch.manual_seed(model.seed)  # the model draws the same
    size = tuple(image.shape[2:])
    with torch.no_grad():
        want = model.encode_decode((image - graph.mean) / graph.std,
                                   [dict(img_shape=size)])
        got = graph(image, *noise)
    torch.testing.assert_close(got, want, atol=atol, rtol=rtol)
    assert float(got[0, 1].max()) > 1e-3  # the draws do differ
    return noise, got


def assert_maps_close(a, b, what: str = '', atol: float = 1e-6,
                      rtol: float = 1e-5, threshold: float = 0.5) -> None:
    """Two runs' maps (``.npz`` contents or dicts of arrays) are equal up
    to float rounding: maps from two processes (another batching, another
    thread count) differ in the 7th digit. Float maps within
    ``atol``/``rtol``; integer maps (the prediction) equal, except where
    the probability lies within ``atol`` of the decision ``threshold``,
    where rounding may tip a pixel either way."""
    import numpy as np
    assert sorted(a.keys()) == sorted(b.keys()), what
    prob = a['probability'] if 'probability' in a.keys() else None
    for k in a.keys():
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.shape == y.shape, f'{what} {k}'
        if np.issubdtype(x.dtype, np.floating):
            # float16 maps: one half-precision step apart at most
            tol = max(atol, 1e-3) if x.dtype == np.float16 else atol
            np.testing.assert_allclose(x.astype(np.float64),
                                       y.astype(np.float64), rtol=rtol,
                                       atol=tol, err_msg=f'{what} {k}')
            continue
        differ = x != y
        if prob is not None and prob.shape[-2:] == x.shape[-2:] \
                and prob.ndim == x.ndim:
            differ &= np.abs(prob.astype(np.float64) - threshold) > atol
        assert not differ.any(), f'{what} {k}: {int(differ.sum())} differ'


def assert_records_close(a, b, what: str = '', atol: float = 1e-6,
                         rtol: float = 1e-5) -> None:
    """Two JSON records equal, their floats up to float rounding."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), what
        for k in a:
            assert_records_close(a[k], b[k], f'{what}.{k}', atol, rtol)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_records_close(x, y, f'{what}[{i}]', atol, rtol)
    elif isinstance(a, float) or isinstance(b, float):
        assert b == pytest.approx(a, rel=rtol, abs=atol, nan_ok=True), what
    else:
        assert a == b, what


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


@pytest.fixture(scope='module')
def module_tmp_path(request, tmp_path_factory):
    """A folder for a test module's shared fixtures (trained models, converted
    data), removed after the module's last test as ``tmp_path`` is after its
    test under ``tmp_path_retention_policy = failed`` (pytest.ini): kept
    where one of the module's tests failed, for a look at what it wrote."""
    path = tmp_path_factory.mktemp(request.module.__name__.split('.')[-1])
    failed_before = request.session.testsfailed
    yield path
    policy = request.config.getini('tmp_path_retention_policy')
    if (policy != 'all' and request.session.testsfailed == failed_before):
        shutil.rmtree(path, ignore_errors=True)


#: Free disk under the tests' temporary folder that a run needs: its
#: folders peak at 0.9 GB (``du`` of the folder every 5 s during
#: ``bash .ci/run``; 1.8 GB before passed tests' folders were removed as
#: the run goes), with room to spare. ``SPOTRUST_MIN_FREE_DISK_GB``
#: sets another floor.
MIN_FREE_DISK_GB = float(os.environ.get('SPOTRUST_MIN_FREE_DISK_GB', 2))


def _gb(n_bytes: int) -> float:
    return n_bytes / 2**30


def _free_disk(config) -> tuple:
    """The run's temporary folder and the GB free on its disk."""
    base = config._tmp_path_factory.getbasetemp()
    return base, _gb(shutil.disk_usage(base).free)


def pytest_report_header(config):
    """The machine in the run's first lines: CI logs that end in errors say
    whether the disk or the memory ran short."""
    base, free = _free_disk(config)
    pages = os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    return (f'spotrust: {len(os.sched_getaffinity(0))} CPUs, '
            f'{_gb(pages):.1f} GB memory free, {free:.1f} GB free disk '
            f'under {base}')


def pytest_sessionstart(session):
    """Stop at once, naming the folder, where the disk cannot hold the
    run's files: a full disk fails the tests that write, one by one, with
    errors that do not say why."""
    if hasattr(session.config, 'workerinput'):
        return  # the controller checked
    base, free = _free_disk(session.config)
    if free < MIN_FREE_DISK_GB:
        pytest.exit(
            f'{base}: {free:.2f} GB free disk; the tests need about '
            f'{MIN_FREE_DISK_GB:g} GB there (free some, or point '
            '--basetemp at a disk with room)', returncode=3)


def write_split_photos(data, sizes, box=(10, 30), paint=None,
                       split: str = 'test') -> None:
    """Photos of random texture (``sizes``: (h, w) each, ``p<i>.jpg``) and
    their masks in a converted dataset's ``split``: defect in the square
    ``box`` (rows and columns ``box[0]:box[1]``), the last three rows
    ignored (255); ``paint`` (BGR) colours the square in the photo."""
    import cv2
    import numpy as np
    for folder in (f'img_dir/{split}', f'ann_dir/{split}'):
        os.makedirs(osp.join(str(data), folder), exist_ok=True)
    rng = np.random.default_rng(0)
    a, b = box
    for i, (h, w) in enumerate(sizes):
        img = rng.integers(60, 200, (h, w, 3)).astype(np.uint8)
        mask = np.zeros((h, w), np.uint8)
        mask[a:b, a:b] = 1
        mask[-3:] = 255  # ignored
        if paint is not None:
            img[a:b, a:b] = paint
        cv2.imwrite(osp.join(str(data), f'img_dir/{split}/p{i}.jpg'), img)
        cv2.imwrite(osp.join(str(data), f'ann_dir/{split}/p{i}.png'), mask)


def write_tiny_model(folder, head_type: str = 'MCDropoutHRHead',
                     num_samples: int = 4):
    """A config for the tiny HRNet (inheriting the MC-dropout config's data
    and runtime) and a checkpoint of its random weights, for tests of the
    tools that need ``CONFIG CHECKPOINT`` but not a trained model.

    Returns:
        tuple[str, str]: Config and checkpoint paths.
    """
    import torch
    from mmseg.registry import MODELS
    model = tiny_hrnet_model(head_type)
    model['num_samples'] = num_samples
    config = osp.join(str(folder), f'tiny_{head_type}.py')
    base = osp.join(REPO, 'configs/spotrust_mcdropout.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n'
                f'model = {dict(model, _delete_=True)!r}\n')
    torch.manual_seed(0)
    built = MODELS.build(model)
    checkpoint = osp.join(str(folder), f'tiny_{head_type}.pth')
    torch.save(dict(state_dict=built.state_dict(),
                    meta=dict(dataset_meta=dict(
                        classes=('background', 'corrosion')))), checkpoint)
    return config, checkpoint


def write_tiny_plain_model(folder, num_classes: int = 2,
                           classes=None):
    """A plain mmseg ``EncoderDecoder`` (tiny HRNet, FCN head, softmax
    cross-entropy; no SpotRust part) with ``num_classes`` outputs, its
    config (inheriting the MC-dropout config's data and runtime) and a
    checkpoint of its random weights, as a user brings their own model.

    Returns:
        tuple[str, str]: Config and checkpoint paths.
    """
    import torch
    from mmseg.registry import MODELS
    model = tiny_hrnet_model()
    for key in ('num_samples', 'sample_chunk', 'seed'):
        model.pop(key)
    c = TINY_CHANNELS
    model.update(
        type='EncoderDecoder',
        decode_head=dict(
            type='FCNHead', in_channels=list(c), in_index=(0, 1, 2, 3),
            input_transform='resize_concat', channels=sum(c), num_convs=1,
            concat_input=False, dropout_ratio=-1, num_classes=num_classes,
            norm_cfg=dict(type='BN', requires_grad=True),
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0)))
    config = osp.join(str(folder), f'plain_{num_classes}.py')
    base = osp.join(REPO, 'configs/spotrust_mcdropout.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n'
                f'model = {dict(model, _delete_=True)!r}\n')
    torch.manual_seed(num_classes)
    built = MODELS.build(model)
    with torch.no_grad():  # outputs far from uniform, so entropy varies
        built.decode_head.conv_seg.weight.mul_(20)
    classes = classes or (('background', 'corrosion') if num_classes == 2
                          else tuple(f'c{i}' for i in range(num_classes)))
    checkpoint = osp.join(str(folder), f'plain_{num_classes}.pth')
    torch.save(dict(state_dict=built.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))),
               checkpoint)
    return config, checkpoint


#: Test files that take minutes, started first by ``make test``'s parallel
#: workers (pytest-xdist, ``--dist loadfile``).
LONGEST_FILES = ('tests/test_benchmark_real_data.py', )

try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # plain pytest: one process, the order does not matter
    LoadFileScheduling = None

if LoadFileScheduling is not None:

    class LongestFirst(LoadFileScheduling):
        """xdist's ``--dist loadfile`` with :data:`LONGEST_FILES` handed
        out first. xdist queues files by their number of tests, which put
        the four-minute one-test file last, on one worker while the other
        idled."""

        def _assign_work_unit(self, node):
            for scope in reversed([s for s in self.workqueue
                                   if s in LONGEST_FILES]):
                self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    def pytest_xdist_make_scheduler(config, log):
        if config.getoption('dist') == 'loadfile':
            return LongestFirst(config, log)
        return None  # xdist's own
