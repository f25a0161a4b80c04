"""Folder inference, the review page, the labelling loop and the ONNX path
for any mmseg segmentor: a plain ``EncoderDecoder`` (binary and K = 3)
gets its prediction, its probability or class map and the entropy of its
own softmax, and no epistemic or aleatoric output at all."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from .conftest import (REPO, load_tool, write_tiny_model,
                       write_tiny_plain_model)

pytestmark = pytest.mark.slow
INFER = osp.join(REPO, 'tools/infer.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('plain')
    photos = root / 'photos'
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i, size in enumerate([(96, 128), (64, 64), (70, 50)]):
        img = rng.integers(40, 220, size + (3, )).astype(np.uint8)
        img[10:30, 10:30] = (30, 70, 140)  # BGR rust
        cv2.imwrite(str(photos / f'p{i}.png'), img)
    models = {k: write_tiny_plain_model(root, k) for k in (2, 3)}
    models['bayes'] = write_tiny_model(root)
    return root, photos, models


def _infer(model, photos, out, *extra):
    config, ckpt = model
    return subprocess.run(
        [sys.executable, INFER, config, ckpt, str(photos), '--out-dir',
         str(out), '--quiet', *extra], capture_output=True, text=True)


def _softmax_entropy(model, path, slide=None):
    """The entropy (nats) of the model's own softmax on one photo, and
    its probability map, with mmseg's inference_model (``slide``: CROP,
    STRIDE windows)."""
    from mmseg.apis import inference_model

    from spotrust_mm.apis import init_checked_model, load_inference_config
    config, ckpt = model
    m = init_checked_model(load_inference_config(config, ckpt, slide=slide),
                           ckpt, config)
    with torch.no_grad():
        logits = inference_model(m, cv2.imread(str(path))).seg_logits.data
    probs = logits.double().softmax(0).numpy()
    ent = -(probs * np.log(np.clip(probs, 1e-300, None))).sum(0)
    return ent, probs


def _no_bayesian_keys(obj, where):
    text = json.dumps(obj)
    assert 'epistemic' not in text and 'aleatoric' not in text, where


@pytest.mark.parametrize('k', [2, 3])
def test_folder_inference_of_a_plain_model(setup, k):
    root, photos, models = setup
    out = root / f'out{k}'
    proc = _infer(models[k], photos, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    assert sorted(summary['images']) == ['p0', 'p1', 'p2']
    assert summary['errors'] == [] and summary['uncertainty'] == 'entropy'
    for name, record in summary['images'].items():
        _no_bayesian_keys(record, name)
        assert record['uncertainty'] == 'entropy'
        assert set(record['files']) >= {'detection', 'entropy', 'panel',
                                        'thumb_entropy', 'arrays'}
        maps = np.load(out / f'{name}.npz')
        assert sorted(maps.files) == ['entropy', 'prediction',
                                      'probability']
        want, probs = _softmax_entropy(models[k], photos / f'{name}.png')
        np.testing.assert_allclose(maps['entropy'], want, atol=1e-5)
        np.testing.assert_allclose(
            maps['probability'], probs[1] if k == 2 else probs.max(0),
            atol=1e-5)
        assert record['mean_entropy'] == pytest.approx(want.mean(),
                                                       abs=1e-5)
        assert not list(out.glob(f'{name}_epistemic*'))
        assert not list(out.glob(f'thumbs/{name}_aleatoric*'))
    assert maps['entropy'].max() > maps['entropy'].min()  # a real map
    page = (out / 'report.html').read_text()
    assert 'softmax entropy' in page and 'mean epistemic' not in page
    assert 'it has no epistemic or aleatoric map' in page


def test_settings_a_plain_model_cannot_honour_fail_once_at_start_up(setup):
    root, photos, models = setup
    out = root / 'refused'
    proc = _infer(models[2], photos, out, '--review-epistemic', '0.1')
    assert proc.returncode == 2
    errors = [x for x in proc.stderr.splitlines() if x.startswith('error')]
    assert len(errors) == 1 and '--review-entropy' in errors[0], errors
    assert 'no epistemic uncertainty' in errors[0]
    assert not out.exists() or not list(out.glob('*.json'))
    # the other way round: a SpotRust model is flagged by its epistemic std
    proc = _infer(models['bayes'], photos, root / 'refused2',
                  '--review-entropy', '0.5')
    assert proc.returncode == 2 and '--review-epistemic' in proc.stderr
    # an entropy threshold flags the plain model's photos
    flagged = root / 'flagged'
    assert _infer(models[2], photos, flagged, '--review-entropy',
                  '0').returncode == 0
    summary = json.loads((flagged / 'summary.json').read_text())
    assert summary['num_needs_review'] == 3


def test_review_page_puts_two_models_side_by_side(setup):
    root, photos, models = setup
    plain, bayes = root / 'cmp_plain', root / 'cmp_bayes'
    assert _infer(models[2], photos, plain).returncode == 0
    assert _infer(models['bayes'], photos, bayes).returncode == 0
    page = root / 'pages' / 'compare.html'
    tool = load_tool('tools/analysis_tools/compare_runs.py')
    assert tool.main([str(plain), str(bayes), '--labels', 'plain FCN',
                      'with tail', '-o', str(page)]) == 0
    html = page.read_text()
    assert 'plain FCN' in html and 'with tail' in html
    assert 'softmax entropy (plain model)' in html
    assert '<th>epistemic</th>' in html
    for name in ('p0', 'p1', 'p2'):
        assert f'data-name="{name}"' in html
    srcs = [s.split('"')[0] for s in html.split('<img src="')[1:]]
    assert len(srcs) == 3 * 4  # two thumbnails per photo and run
    for src in srcs:  # relative links that resolve from the page
        assert (page.parent / src).is_file(), src
    assert tool.main([str(plain), str(root / 'nothing'), '-o',
                      str(page)]) == 1


def test_select_for_labelling_ranks_a_plain_model_by_entropy(setup):
    root, photos, models = setup
    tool = osp.join(REPO, 'tools/select_for_labelling.py')
    config, ckpt = models[3]
    out = root / 'selected'
    proc = subprocess.run(
        [sys.executable, tool, config, ckpt, str(photos), '-k', '2',
         '--out', str(out), '--quiet', '--aggregation', 'mean',
         '--no-diversity'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'by entropy/mean' in proc.stdout
    ranking = json.loads((out / 'selection' / 'ranking.json').read_text())
    means = {}
    for name in ('p0', 'p1', 'p2'):
        means[name] = _softmax_entropy(models[3],
                                       photos / f'{name}.png')[0].mean()
        assert set(ranking['scores'][name]) == {
            'entropy/mean', 'entropy/patch_max', 'entropy/top_fraction'}
    order = [r['name'] for r in ranking['ranking']]
    assert order == sorted(means, key=lambda n: -means[n])
    doc = json.loads((out / f'{order[0]}.json').read_text())
    assert all('epistemic' not in s['description'] for s in doc['shapes'])
    proc = subprocess.run(
        [sys.executable, tool, config, ckpt, str(photos), '-k', '1',
         '--out', str(root / 'refused'), '--strategy', 'mutual_information'],
        capture_output=True, text=True)
    assert proc.returncode == 2
    assert '--strategy entropy' in proc.stderr


def test_onnx_export_and_runner_of_a_plain_model(setup, tmp_path):
    ort = pytest.importorskip('onnxruntime')  # noqa: F841
    root, photos, models = setup
    config, ckpt = models[3]
    onnx_file = tmp_path / 'plain.onnx'
    export = load_tool('tools/deployment/pytorch2onnx.py')
    assert export.main([config, ckpt, '--shape', '64', '64', '--out',
                        str(onnx_file)]) == 0
    runner = load_tool('tools/deployment/onnx_infer.py')
    one = tmp_path / 'one'
    one.mkdir()
    cv2.imwrite(str(one / 'p1.png'), cv2.imread(str(photos / 'p1.png')))
    assert runner.main([str(onnx_file), str(one), '--out-dir',
                        str(tmp_path / 'out')]) == 0
    got = np.load(tmp_path / 'out' / 'p1.npz')
    assert sorted(got.files) == ['entropy', 'prediction', 'probability']
    # the runner's windows of 64 at the exported stride (48), averaged as
    # mmseg's slide inference averages the logits
    want, probs = _softmax_entropy(models[3], photos / 'p1.png', (64, 48))
    np.testing.assert_allclose(got['entropy'].astype(np.float64), want,
                               atol=2e-3)  # float16 storage
    np.testing.assert_array_equal(got['prediction'], probs.argmax(0))
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    _no_bayesian_keys(summary['images'], 'onnx summary')
