"""ONNX export of an MC-dropout model: ONNX Runtime against PyTorch on the
same masks, and the runner with the ONNX file alone against the PyTorch
model's sliding-window inference."""
import copy
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from ..conftest import REPO, load_tool, tiny_hrnet_model

ort = pytest.importorskip('onnxruntime', reason='ONNX Runtime from PyPI '
                          '(requirements/dev.txt)')



def _model_files(folder, p):
    """Config and checkpoint of a tiny MC-dropout HRNet (dropout ``p``),
    slide windows of 64 at stride 48."""
    from mmseg.registry import MODELS
    cfg = tiny_hrnet_model(mc_dropout_ratio=p)
    cfg['test_cfg'] = dict(mode='slide', crop_size=(64, 64), stride=(48, 48))
    config = osp.join(str(folder), f'tiny_p{p}.py')
    with open(config, 'w') as f:
        base = osp.join(REPO, 'configs/spotrust_mcdropout.py')
        f.write(f'_base_ = [{base!r}]\nmodel = {dict(cfg, _delete_=True)!r}\n')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    checkpoint = osp.join(str(folder), f'tiny_p{p}.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(
        classes=('background', 'rust')))), checkpoint)
    return config, checkpoint


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp('onnx')
    out = {}
    export = load_tool('tools/deployment/pytorch2onnx.py')
    for p in (0.5, 0.0):
        config, checkpoint = _model_files(folder, p)
        onnx_file = osp.join(str(folder), f'tiny_p{p}.onnx')
        assert export.main([config, checkpoint, '--num-samples', '4',
                            '--out', onnx_file]) == 0
        out[p] = (config, checkpoint, onnx_file)
    return out


def test_onnx_runtime_equals_pytorch_on_the_same_masks(exported):
    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.models.export import MCDropoutSummary, backbone_shapes
    config, checkpoint, onnx_file = exported[0.5]
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    meta = {k: json.loads(v) for k, v in
            session.get_modelmeta().custom_metadata_map.items()}
    assert meta['dropout_p'] == 0.5 and meta['num_samples'] == 4
    assert meta['window'] == [64, 64] and meta['stride'] == 48
    assert meta['classes'] == ['background', 'rust']
    model = init_checked_model(load_inference_config(config, checkpoint),
                               checkpoint, config)
    shapes = backbone_shapes(model, 64, 64)
    assert [tuple(i.shape) for i in session.get_inputs()[1:]] == [
        (4, ) + s for s in shapes]
    graph = MCDropoutSummary(copy.deepcopy(model), 4).eval()
    rng = np.random.default_rng(1)
    for _ in range(2):
        image = rng.uniform(0, 255, (1, 3, 64, 64)).astype(np.float32)
        masks = [(rng.random((4, ) + s) < 0.5).astype(np.float32) * 2
                 for s in shapes]
        got = session.run(None, dict(image=image, **{
            f'mask{i}': m for i, m in enumerate(masks)}))[0]
        with torch.no_grad():
            want = graph(torch.from_numpy(image),
                         *map(torch.from_numpy, masks)).numpy()
        assert got.shape == (1, 3, 64, 64)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
        assert got[0, 1].max() > 0.01  # the masks do make samples differ


def _photos(folder):
    rng = np.random.default_rng(2)
    folder.mkdir()
    for name, (h, w) in dict(big=(100, 130), small=(40, 50)).items():
        img = rng.integers(60, 200, (h, w, 3)).astype(np.uint8)
        img[h // 2:h // 2 + 3] = 20
        cv2.imwrite(str(folder / f'{name}.png'), img)
    (folder / 'broken.jpg').write_bytes(b'not a jpeg')
    return folder


def test_runner_needs_no_torch_and_matches_the_slide_inference(
        exported, tmp_path):
    """Without dropout (p = 0) the runner's windows, padding and averaging
    must give the PyTorch model's slide inference; with dropout it runs,
    is reproducible from its seed and reports the bad file."""
    from mmseg.apis import inference_model

    from spotrust_mm.apis import init_checked_model, load_inference_config
    photos = _photos(tmp_path / 'photos')
    runner = osp.join(REPO, 'tools/deployment/onnx_infer.py')
    block = ("import sys, runpy; sys.modules.update(torch=None, mmseg=None, "
             "mmengine=None, mmcv=None, spotrust_mm=None); sys.argv = "
             "sys.argv[1:]; runpy.run_path(sys.argv[0], "
             "run_name='__main__')")

    def run(onnx_file, out, *extra):
        return subprocess.run(
            [sys.executable, '-c', block, runner, onnx_file, str(photos),
             '--out-dir', str(out), *extra], capture_output=True, text=True)

    config, checkpoint, onnx_file = exported[0.0]
    proc = run(onnx_file, tmp_path / 'out0')
    assert proc.returncode == 1, proc.stderr[-2000:]  # the broken file
    summary = json.loads((tmp_path / 'out0' / 'summary.json').read_text())
    assert sorted(summary['images']) == ['big', 'small']
    assert [osp.basename(e['file']) for e in summary['errors']] == [
        'broken.jpg']
    model = init_checked_model(load_inference_config(config, checkpoint),
                               checkpoint, config)
    for name in ('big', 'small'):
        bgr = cv2.imread(str(photos / f'{name}.png'))
        with torch.no_grad():
            want = inference_model(model, bgr)
        got = np.load(tmp_path / 'out0' / f'{name}.npz')
        np.testing.assert_allclose(
            got['probability'].astype(np.float32),
            want.seg_logits.data[0].numpy(), atol=2e-3, rtol=0)  # float16
        np.testing.assert_array_equal(got['epistemic'], 0)
    _, _, onnx_file = exported[0.5]
    for out in ('out_a', 'out_b'):
        assert run(onnx_file, tmp_path / out, '--seed', '3').returncode == 1
    a, b = (np.load(tmp_path / o / 'big.npz') for o in ('out_a', 'out_b'))
    np.testing.assert_array_equal(a['probability'], b['probability'])
    assert a['epistemic'].astype(np.float32).max() > 0
