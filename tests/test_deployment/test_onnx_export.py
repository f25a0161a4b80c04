"""ONNX export of MC-dropout, variational and ensemble models: ONNX Runtime
against PyTorch on the same noise, and the runner with the ONNX file alone
against the PyTorch model's sliding-window inference."""
import copy
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from ..conftest import (REPO, graph_on_torch_draws, load_tool,
                        tiny_hrnet_model)

ort = pytest.importorskip('onnxruntime', reason='ONNX Runtime from PyPI '
                          '(requirements/dev.txt)')



def _model_files(folder, name, head='MCDropoutHRHead', **head_kwargs):
    """Config and checkpoint of a tiny HRNet with ``head``, slide windows
    of 64 at stride 48."""
    from mmseg.registry import MODELS
    cfg = tiny_hrnet_model(head, **head_kwargs)
    cfg['test_cfg'] = dict(mode='slide', crop_size=(64, 64), stride=(48, 48))
    config = osp.join(str(folder), f'{name}.py')
    with open(config, 'w') as f:
        base = osp.join(REPO, 'configs/spotrust_mcdropout.py')
        f.write(f'_base_ = [{base!r}]\nmodel = {dict(cfg, _delete_=True)!r}\n')
    torch.manual_seed(len(name))
    model = MODELS.build(cfg)
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
            if hasattr(m, 'weight_rho'):  # posterior stds that matter
                m.weight_rho.uniform_(-4, -2)
                m.bias_rho.uniform_(-4, -2)
    checkpoint = osp.join(str(folder), f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(
        classes=('background', 'rust')))), checkpoint)
    return config, checkpoint


def _ensemble_config(folder, members):
    config = osp.join(str(folder), 'ensemble.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{members[0][0]!r}]\nmodel = dict(_delete_=True, '
                "type='EnsembleSegmentor', test_cfg=dict(mode='slide', "
                'crop_size=(64, 64), stride=(48, 48)), members=[' + ', '.join(
                    f'dict(config={c!r}, checkpoint={k!r})'
                    for c, k in members) + '])\n')
    return config


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """name: (config, checkpoint, onnx file), exported with 4 samples."""
    folder = tmp_path_factory.mktemp('onnx')
    out = {}
    export = load_tool('tools/deployment/pytorch2onnx.py')
    models = {
        'p0.5': ('MCDropoutHRHead', dict(mc_dropout_ratio=0.5)),
        'p0.0': ('MCDropoutHRHead', dict(mc_dropout_ratio=0.0)),
        'variational': ('VariationalHRHead', {}),
        'member': ('AleatoricHRHead', {}),
    }
    for name, (head, kwargs) in models.items():
        config, checkpoint = _model_files(folder, name, head, **kwargs)
        out[name] = (config, checkpoint, None)
        if name == 'member':  # only in the ensemble
            continue
        onnx_file = osp.join(str(folder), f'{name}.onnx')
        assert export.main([config, checkpoint, '--num-samples', '4',
                            '--out', onnx_file]) == 0
        out[name] = (config, checkpoint, onnx_file)
    config = _ensemble_config(folder, [out['member'][:2], out['p0.5'][:2]])
    onnx_file = osp.join(str(folder), 'ensemble.onnx')
    assert export.main([config, '--out', onnx_file]) == 0
    out['ensemble'] = (config, None, onnx_file)
    return out


def _session(onnx_file):
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    meta = {k: json.loads(v) for k, v in
            session.get_modelmeta().custom_metadata_map.items()}
    return session, meta


def test_onnx_runtime_equals_pytorch_on_the_same_masks(exported):
    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.models.export import SummaryGraph, backbone_shapes
    config, checkpoint, onnx_file = exported['p0.5']
    session, meta = _session(onnx_file)
    assert meta['dropout_p'] == 0.5 and meta['num_samples'] == 4
    assert meta['model_kind'] == 'mc_dropout'
    assert meta['window'] == [64, 64] and meta['stride'] == 48
    assert meta['classes'] == ['background', 'rust']
    model = init_checked_model(load_inference_config(config, checkpoint),
                               checkpoint, config)
    shapes = backbone_shapes(model, 64, 64)
    assert [tuple(i.shape) for i in session.get_inputs()[1:]] == [
        (4, ) + s for s in shapes]
    assert meta['noise'] == {f'mask{i}': 'bernoulli'
                             for i in range(len(shapes))}
    graph = SummaryGraph(copy.deepcopy(model), 4).eval()
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


def test_variational_weight_noise_is_the_models_own(exported):
    """The graph turns given standard normal noise into the weights the
    PyTorch model draws from the same noise: fed torch's own draws (the
    seeded model draws each branch's weight then bias noise, in branch
    order), it gives the model's maps; ONNX Runtime gives the graph's."""
    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.models.export import SummaryGraph
    config, checkpoint, onnx_file = exported['variational']
    session, meta = _session(onnx_file)
    assert meta['model_kind'] == 'variational' and meta['dropout_p'] is None
    model = init_checked_model(load_inference_config(
        config, checkpoint, num_samples=4), checkpoint, config).eval()
    model.sample_chunk = 4  # all samples' noise in one draw per branch
    graph = SummaryGraph(copy.deepcopy(model), 4).eval()
    inputs = graph.noise_inputs(64, 64)
    assert [n for n, _, _ in inputs] == [
        f'{kind}_noise{i}' for i in range(4) for kind in ('weight', 'bias')]
    assert meta['noise'] == {n: 'normal' for n, _, _ in inputs}
    assert [tuple(i.shape) for i in session.get_inputs()[1:]] == [
        s for _, s, _ in inputs]
    image = torch.from_numpy(np.random.default_rng(1).uniform(
        0, 255, (1, 3, 64, 64)).astype(np.float32))
    noise, got = graph_on_torch_draws(model, graph, image, inputs)
    out = session.run(None, dict(image=image.numpy(), **{
        n: x.numpy() for (n, _, _), x in zip(inputs, noise)}))[0]
    np.testing.assert_allclose(out, got.numpy(), atol=1e-5, rtol=0)


def test_ensemble_graph_is_the_ensembles_own(exported):
    """No noise inputs; ONNX Runtime gives the ensemble's own window maps
    (the mean and std over members)."""
    from spotrust_mm.apis import init_checked_model, load_inference_config
    config, _, onnx_file = exported['ensemble']
    session, meta = _session(onnx_file)
    assert meta['model_kind'] == 'ensemble' and meta['num_samples'] == 2
    assert [i.name for i in session.get_inputs()] == ['image']
    model = init_checked_model(load_inference_config(config), None,
                               config).eval()
    model.test_cfg = dict(mode='whole')
    rgb = np.random.default_rng(4).uniform(0, 255, (64, 64, 3))
    from mmseg.structures import SegDataSample
    data = model.data_preprocessor(dict(
        inputs=[torch.from_numpy(rgb[..., ::-1].copy()).permute(
            2, 0, 1).float()],
        data_samples=[SegDataSample(metainfo=dict(
            ori_shape=(64, 64), img_shape=(64, 64)))]), False)
    with torch.no_grad():
        want = model.encode_decode(data['inputs'],
                                   [dict(img_shape=(64, 64))]).numpy()
    got = session.run(None, dict(image=rgb.transpose(2, 0, 1)[None].astype(
        np.float32)))[0]
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert got[0, 1].max() > 0.01  # the members disagree


def test_ensemble_of_other_preprocessings_is_refused(tmp_path):
    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.models.export import SummaryGraph
    a = _model_files(tmp_path, 'a', 'AleatoricHRHead')
    b = _model_files(tmp_path, 'b', 'AleatoricHRHead')
    config = _ensemble_config(tmp_path, [a, b])
    with open(b[0], 'a') as f:
        f.write("model['data_preprocessor']['std'] = [1.0, 1.0, 1.0]\n")
    model = init_checked_model(load_inference_config(config), None, config)
    with pytest.raises(ValueError, match='member 1 differs from member 0'):
        SummaryGraph(model, 1)


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

    config, checkpoint, onnx_file = exported['p0.0']
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
            torch.sigmoid(want.seg_logits.data[0]).numpy(), atol=2e-3,
            rtol=0)  # float16
        np.testing.assert_array_equal(got['epistemic'], 0)
    _, _, onnx_file = exported['p0.5']
    for out in ('out_a', 'out_b'):
        assert run(onnx_file, tmp_path / out, '--seed', '3').returncode == 1
    a, b = (np.load(tmp_path / o / 'big.npz') for o in ('out_a', 'out_b'))
    np.testing.assert_array_equal(a['probability'], b['probability'])
    assert a['epistemic'].astype(np.float32).max() > 0
    # weight noise drawn from the metadata's distribution; an ensemble
    # takes no noise
    for name in ('variational', 'ensemble'):
        out = tmp_path / f'out_{name}'
        proc = run(exported[name][2], out)
        assert proc.returncode == 1, proc.stderr[-2000:]
        got = np.load(out / 'big.npz')
        assert got['epistemic'].astype(np.float32).max() > 0, name


def test_export_of_a_checkpoint_without_dataset_meta(tmp_path, exported):
    """A plain ``torch.save`` of a state dict (no ``meta``) exports, with
    the class names mmseg's init_model would fall back to, and nothing but
    the .onnx file is left beside it."""
    import os
    config, checkpoint, _ = exported['p0.5']
    bare = tmp_path / 'bare.pth'
    torch.save(torch.load(checkpoint, weights_only=True)['state_dict'], bare)
    out = tmp_path / 'out' / 'model.onnx'
    export = load_tool('tools/deployment/pytorch2onnx.py')
    assert export.main([config, str(bare), '--num-samples', '2', '--out',
                        str(out)]) == 0
    assert os.listdir(tmp_path / 'out') == ['model.onnx']
    import onnx
    meta = {p.key: json.loads(p.value)
            for p in onnx.load(str(out)).metadata_props}
    assert meta['classes'] == ['background', 'defect']
