"""The shipped corrosion model, found by name (spotrust_mm.apis.zoo), and
the publishing of checkpoints.

The reference maps of one embedded photo were written by this module's
``write_reference`` (``python tests/test_shipped_model.py``) when the
weights were published; regenerate them only with new weights.
"""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

import spotrust_mm  # noqa: F401
from spotrust_mm.apis.zoo import (PREFIX, UnknownModel, half_precision_state,
                                  list_models, model_files, publish_checkpoint,
                                  split_model_args, weights_file)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
NAME = 'spotrust-corrosion-lite0'
PHOTO = osp.join(REPO, 'demo', 'corrosion', 'images',
                 '0146_jpg.rf.2a97c1ae4f3bce8c7778d128a2a082e5.jpg')
REFERENCE = osp.join(REPO, 'tests', 'fixtures', 'shipped_model',
                     'reference_maps.npz')
#: The reference keeps every STEP-th pixel of each map (80 x 80 of 640).
STEP = 8


def _maps(result) -> dict:
    return dict(
        probability=torch.sigmoid(result.seg_logits.data[0].float()),
        epistemic=result.epistemic_uncertainty.data[0].float(),
        prediction=result.pred_sem_seg.data[0].to(torch.uint8))


def _strict_model():
    """The shipped model built from its config and loaded strictly from
    its weights' registered name."""
    from mmengine.runner import CheckpointLoader
    from mmseg.apis import init_model
    config, weights = model_files(NAME)
    model = init_model(config, None, device='cpu')
    ckpt = CheckpointLoader.load_checkpoint(weights, map_location='cpu')
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.dataset_meta = ckpt['meta']['dataset_meta']
    return model


def write_reference():
    from mmseg.apis import inference_model
    maps = _maps(inference_model(_strict_model(), PHOTO))
    np.savez_compressed(
        REFERENCE, **{k: v.numpy()[::STEP, ::STEP]
                      for k, v in maps.items()},
        **{f'mean_{k}': v.double().mean().numpy() for k, v in maps.items()})


def test_shipped_model_is_found_by_name():
    models = list_models()
    assert NAME in models and 'spotrust_corrosion_lite0' in models  # alias
    config, weights = model_files(NAME.upper())  # names are case-blind
    assert osp.isfile(config) and weights.startswith(PREFIX)
    path = weights_file(weights)
    assert osp.getsize(path) <= 20 * 2**20
    # loads with weights_only=True (no pickled objects in it)
    torch.load(path, map_location='cpu', weights_only=True)
    with pytest.raises(UnknownModel, match=NAME):
        model_files('spotrust-nonexistent')


def test_shipped_maps_equal_the_reference():
    """Strictly loaded through the registered name, the maps of one
    embedded photo equal the stored reference within 1e-4."""
    from mmseg.apis import inference_model
    ref = np.load(REFERENCE)
    maps = _maps(inference_model(_strict_model(), PHOTO))
    for key in ('probability', 'epistemic'):
        got = maps[key].numpy()
        np.testing.assert_allclose(got[::STEP, ::STEP], ref[key], atol=1e-4,
                                   err_msg=key)
        assert abs(got.astype(np.float64).mean() - ref[f'mean_{key}']) < 1e-4
    pred = maps['prediction'].numpy()
    assert (pred[::STEP, ::STEP] != ref['prediction']).mean() < 1e-3
    assert abs(pred.mean() - ref['mean_prediction']) < 1e-3
    assert 0.01 < ref['mean_prediction'] < 0.99  # finds rust, not all


def test_mmseg_inferencer_finds_the_model_by_name():
    from mmseg.apis import MMSegInferencer
    inferencer = MMSegInferencer(model=NAME, scope='spotrust_mm',
                                 device='cpu')
    result = inferencer(PHOTO, return_datasamples=True)
    ref = np.load(REFERENCE)
    got = _maps(result)['probability'].numpy()[::STEP, ::STEP]
    np.testing.assert_allclose(got, ref['probability'], atol=1e-4)


def test_tool_arguments_take_a_name(tmp_path):
    config = osp.join(REPO, 'configs', 'spotrust_demo.py')
    assert split_model_args(config, ['a.pth', 'x']) == (config, 'a.pth',
                                                        ['x'])
    assert split_model_args(config, ['x']) == (config, None, ['x'])
    path, ckpt, rest = split_model_args(NAME, ['photos/'])
    assert path == model_files(NAME)[0] and osp.isfile(ckpt)
    assert rest == ['photos/']
    assert split_model_args(NAME, ['own.pth', 'p'])[1:] == ('own.pth', ['p'])
    with pytest.raises(UnknownModel, match='neither a config file'):
        split_model_args(str(tmp_path / 'missing.py'), ['p'])


def test_infer_runs_the_shipped_model_by_name(tmp_path):
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'infer.py'), NAME, PHOTO,
         '--out-dir', str(out), '--quiet', '--gt-dir',
         osp.join(REPO, 'demo', 'corrosion', 'masks')],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'defect F1 against the --gt-dir masks' in proc.stdout
    assert (out / 'report.html').is_file()
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'infer.py'), 'no-such-model',
         PHOTO, '--out-dir', str(tmp_path / 'x')],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert NAME in proc.stderr and 'Traceback' not in proc.stderr


def test_weights_names_stay_inside_the_weights_folder():
    for bad in (PREFIX + '../setup.py', PREFIX + '/etc/passwd', PREFIX):
        with pytest.raises(ValueError, match='expected'):
            weights_file(bad)
    with pytest.raises(FileNotFoundError, match='shipped: spotrust_'):
        weights_file(PREFIX + 'missing.pth')


def test_half_precision_keeps_what_float16_cannot_hold():
    state = dict(
        plain=torch.tensor([1.0, -0.5, 0.25]),
        # 1e-9 flushes to zero in float16: an error of 1e-9 against a
        # largest magnitude of 2e-9 is far above 2**-10 of it
        tiny=torch.tensor([2e-9, 1e-9]),
        big=torch.tensor([1e6]),  # overflows float16
        count=torch.tensor(7))
    half = half_precision_state(state)
    assert half['plain'].dtype == torch.float16
    assert torch.equal(half['plain'].float(), state['plain'])
    assert half['tiny'].dtype == torch.float32
    assert half['big'].dtype == torch.float32
    assert half['count'].dtype == torch.int64


def test_publish_checkpoint(tmp_path):
    model = torch.nn.Conv2d(2, 3, 1)
    src = tmp_path / 'epoch_3.pth'
    torch.save(dict(
        state_dict=model.state_dict(), optimizer=dict(lr=1.0),
        meta=dict(dataset_meta=dict(classes=('background', 'rust')),
                  cfg='a long config text',
                  laplace=dict(config='/somewhere/on/this/machine.py'))),
        src)
    path = publish_checkpoint(str(src), str(tmp_path / 'out'), 'my_model')
    name = osp.basename(path)
    assert name.startswith('my_model-') and name.endswith('.pth')
    import hashlib
    with open(path, 'rb') as f:
        assert name[len('my_model-'):-4] == hashlib.sha256(
            f.read()).hexdigest()[:8]
    ckpt = torch.load(path, weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}  # no optimiser
    assert ckpt['meta'] == dict(dataset_meta=dict(
        classes=['background', 'rust']), laplace=dict(config='machine.py'))
    assert ckpt['state_dict']['weight'].dtype == torch.float16
    model.load_state_dict(ckpt['state_dict'])  # cast back on load


if __name__ == '__main__':
    write_reference()
    print(f'wrote {REFERENCE}')
