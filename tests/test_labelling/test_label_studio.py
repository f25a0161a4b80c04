"""The Label Studio backend's parts without Label Studio: the labelling
config, the images it may read (and those it must not), its answers over
HTTP, and the converter of Label Studio's export (polygons and brush RLE).
The end-to-end test against a real server: test_label_studio_e2e.py."""
import json
import os
import os.path as osp
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from spotrust_mm.apis.label_studio import (BackendError, ImageSource,
                                           LabelStudioBackend, check_labels,
                                           parse_label_config,
                                           polygon_results, serve)
from spotrust_mm.datasets.conversion import (ConversionError,
                                             prediction_regions)
from spotrust_mm.datasets.conversion.label_studio import (
    decode_brush_rle, label_studio_samples, task_image_name)

from ..conftest import write_tiny_model

CONFIG = ('<View><Image name="image" value="$image"/>'
          '<PolygonLabels name="label" toName="image">'
          '<Label value="corrosion"/><Label value="uncertain"/>'
          '</PolygonLabels></View>')
#: label_studio_sdk.converter.brush.mask2rle of the 4x5 mask below
#: (label-studio-sdk 2.1.2): an independent encoder.
SDK_RLE = [0, 0, 0, 80, 57, 27, 254, 23, 0, 183, 255, 56, 5, 191, 248, 192,
           35, 255, 190, 0]
SDK_MASK = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0],
                     [1, 0, 0, 0, 0]], bool)


def test_brush_rle_decodes_as_label_studio_encodes():
    rgba = decode_brush_rle(SDK_RLE).reshape(4, 5, 4)
    assert np.array_equal(rgba[:, :, 3] >= 128, SDK_MASK)
    with pytest.raises(ValueError, match='ends early'):
        decode_brush_rle(SDK_RLE[:8])


def test_label_config_and_labels():
    cfg = parse_label_config(CONFIG)
    assert cfg == dict(from_name='label', to_name='image', data_key='image',
                       labels=['corrosion', 'uncertain'])
    check_labels(cfg['labels'], ['background', 'corrosion'])
    with pytest.raises(BackendError, match=r"does not know: \['rust'\]"):
        check_labels(['rust'], ['background', 'corrosion'])
    # K classes: by name, in any order; every class needs its label
    check_labels(['paint', 'rust'], ['background', 'rust', 'paint'])
    with pytest.raises(BackendError, match=r"with no label: \['paint'\]"):
        check_labels(['rust', 'uncertain'], ['background', 'rust', 'paint'])
    with pytest.raises(BackendError, match='no PolygonLabels|no <Polygon'):
        parse_label_config('<View><Image name="i" value="$i"/>'
                           '<BrushLabels name="b" toName="i"/></View>')
    with pytest.raises(BackendError, match='not XML'):
        parse_label_config('<View>')


def test_task_image_names():
    assert task_image_name('/data/upload/3/0a1b2c3d-rust.jpg') == (
        '0a1b2c3d-rust.jpg', 'rust.jpg')
    assert task_image_name('/data/local-files/?d=site/a%20b.png') == (
        'a b.png', 'a b.png')


@pytest.fixture
def roots(tmp_path):
    allowed = tmp_path / 'allowed'
    (allowed / 'site').mkdir(parents=True)
    img = np.zeros((8, 10, 3), np.uint8)
    img[..., 2] = 200
    cv2.imwrite(str(allowed / 'site' / 'a.png'), img)
    secret = tmp_path / 'secret'
    secret.mkdir()
    cv2.imwrite(str(secret / 'b.png'), img)
    os.symlink(secret / 'b.png', allowed / 'link.png')
    (allowed / 'broken.jpg').write_bytes(b'not a jpeg at all')
    return allowed, secret


def test_local_images_only_inside_the_roots(roots):
    allowed, secret = roots
    src = ImageSource(roots=[str(allowed)])
    img = src.read('/data/local-files/?d=site/a.png')
    assert img.shape == (8, 10, 3) and img[0, 0, 0] == 200  # RGB
    for ref in ('/data/local-files/?d=../secret/b.png',
                '/data/local-files/?d=site/../../secret/b.png',
                f'/data/local-files/?d={secret}/b.png',
                str(secret / 'b.png'),
                '/data/local-files/?d=link.png'):  # a link out of the root
        with pytest.raises(BackendError, match='outside the folders'):
            src.read(ref)
    with pytest.raises(BackendError, match='not an image'):
        src.read('/data/local-files/?d=broken.jpg')
    with pytest.raises(BackendError, match='--local-root'):
        ImageSource().read('/data/local-files/?d=site/a.png')


class _FakeLabelStudio(BaseHTTPRequestHandler):
    """Serves one PNG at /data/upload/1/a.png to the token 'good'."""
    png = cv2.imencode('.png', np.zeros((6, 7, 3), np.uint8))[1].tobytes()

    def do_GET(self):  # noqa: N802
        if self.headers.get('Authorization') != 'Token good':
            self.send_response(401)
            self.end_headers()
            return
        body = self.png if self.path == '/data/upload/1/a.png' else b'junk'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_ls():
    server = ThreadingHTTPServer(('127.0.0.1', 0), _FakeLabelStudio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_port}'
    server.shutdown()


def test_fetched_images_token_and_host(fake_ls):
    assert ImageSource(fake_ls, 'good').read('/data/upload/1/a.png').shape \
        == (6, 7, 3)
    with pytest.raises(BackendError, match='refused the API token'):
        ImageSource(fake_ls, 'wrong').read('/data/upload/1/a.png')
    with pytest.raises(BackendError, match='not a readable image|not an'):
        ImageSource(fake_ls, 'good').read('/data/upload/1/other.png')
    with pytest.raises(BackendError, match='only fetches images from'):
        ImageSource(fake_ls, 'good').read('http://example.com/a.png')
    with pytest.raises(BackendError, match='no Label Studio address'):
        ImageSource().read('/data/upload/1/a.png')
    # the address and token of /setup, unless given
    src = ImageSource(token='good')
    src.configure(fake_ls, 'other')
    assert src.url == fake_ls and src.token == 'good'


def _post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 {'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@pytest.fixture(scope='module')
def backend(tmp_path_factory):
    from spotrust_mm.apis import init_checked_model, load_inference_config
    root = tmp_path_factory.mktemp('backend')
    config, ckpt = write_tiny_model(root)
    model = init_checked_model(load_inference_config(config, ckpt), ckpt,
                               config)
    photos = root / 'photos'
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(photos / f'p{i}.png'),
                    rng.integers(0, 255, (48, 64, 3)).astype(np.uint8))
    (photos / 'bad.jpg').write_bytes(b'\xff\xd8 truncated')
    b = LabelStudioBackend(
        model, ImageSource(roots=[str(photos)]), 'mutual_information',
        'patch_max', dict(tolerance=0.0, min_area=1, low_confidence=0.75,
                          review_epistemic=None, patch=16, fraction=0.05),
        'tiny')
    server = serve(b, '127.0.0.1', 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield b, f'http://127.0.0.1:{server.server_port}', photos
    server.shutdown()


def test_backend_endpoints(backend):
    b, url, photos = backend
    with urllib.request.urlopen(url + '/health') as resp:
        assert json.load(resp)['status'] == 'UP'
    assert _post(url + '/setup', dict(schema=CONFIG)) == (
        200, dict(model_version='tiny'))
    status, body = _post(url + '/setup', dict(schema=CONFIG.replace(
        'corrosion', 'rust')))
    assert status == 400 and 'does not know' in body['error']
    tasks = [dict(id=i, data=dict(image=f'/data/local-files/?d={name}'))
             for i, name in enumerate(['p0.png', 'bad.jpg', '../p1.png',
                                       'p1.png'])]
    status, body = _post(url + '/predict', dict(tasks=tasks,
                                                label_config=CONFIG))
    assert status == 200 and len(body['results']) == 4
    assert body['results'][1] == [] and body['results'][2] == []
    assert any('task 1' in x and 'not an image' in x for x in b.log)
    assert any('task 2' in x and 'outside' in x for x in b.log)
    for k in (0, 3):
        (pred, ) = body['results'][k]
        assert isinstance(pred['score'], float)
        for r in pred['result']:
            assert r['type'] == 'polygonlabels'
            assert r['value']['polygonlabels'][0] in ('corrosion',
                                                      'uncertain')
            assert 'mean epistemic' in r['meta']['text'][0]
            pts = np.array(r['value']['points'])
            assert (pts >= 0).all() and (pts <= 100).all()
    status, body = _post(url + '/predict', dict(tasks='x',
                                                label_config=CONFIG))
    assert status == 400
    status, _ = _post(url + '/train', {})
    assert status == 404


def _export(tmp_path, results, cancelled=False, name='0a1b2c3d-p.png',
            more=()):
    tasks = [dict(id=1, data=dict(image=f'/data/upload/1/{name}'),
                  annotations=[dict(id=1, was_cancelled=cancelled,
                                    result=results)])] + list(more)
    path = tmp_path / 'export.json'
    path.write_text(json.dumps(tasks))
    return str(path)


def test_export_polygons_give_the_predicted_regions_back(tmp_path):
    """Polygons made by the backend from a label map convert back to it
    exactly (tolerance 0), holes included, with Label Studio's uploaded
    name prefix dropped."""
    h, w = 40, 50
    label = np.zeros((h, w), np.int64)
    label[5:30, 5:25] = 1
    label[12:18, 12:18] = 0  # a hole
    label[33:36, 40:48] = 1
    regions = prediction_regions(label, np.full((h, w), 0.9, np.float32),
                                 None, ['background', 'corrosion'],
                                 tolerance=0.0)
    config = parse_label_config(CONFIG)
    results = polygon_results(regions, (h, w), config)
    images = tmp_path / 'upload'
    images.mkdir()
    cv2.imwrite(str(images / '0a1b2c3d-p.png'), np.zeros((h, w, 3),
                                                          np.uint8))
    brush = dict(type='brushlabels', original_width=5, original_height=4,
                 value=dict(format='rle', rle=SDK_RLE,
                            brushlabels=['corrosion']))
    more = [dict(id=2, data=dict(image='/data/upload/1/q.png'),
                 annotations=[dict(id=2, result=[brush])]),
            dict(id=3, data=dict(image='/data/upload/1/none.png'),
                 annotations=[]),
            dict(id=4, data=dict(image='/data/upload/1/gone.png'),
                 annotations=[dict(id=4, result=[])])]
    cv2.imwrite(str(images / 'q.png'), np.zeros((4, 5, 3), np.uint8))
    samples, unpaired, counts = label_studio_samples(
        _export(tmp_path, results, more=more), [str(images)],
        skip_labels=['uncertain'])
    assert [s.stem for s in samples] == ['p', 'q']
    assert unpaired == ['gone.png'] and counts['unlabelled'] == 1
    assert np.array_equal(samples[0].load_mask((h, w)), label)
    assert np.array_equal(samples[1].load_mask((4, 5)), SDK_MASK)
    with pytest.raises(ConversionError, match='says the image is 50x40'):
        samples[0].load_mask((h + 1, w))
    # a skipped (cancelled) annotation is no label
    samples, _, counts = label_studio_samples(
        _export(tmp_path, results, cancelled=True), [str(images)])
    assert samples == [] and counts['unlabelled'] == 1


def test_converter_cli_errors(tmp_path):
    from ..conftest import load_tool
    tool = load_tool('tools/dataset_converters/label_studio.py')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"not": "a list"}')
    (tmp_path / 'imgs').mkdir()
    with pytest.raises(ConversionError, match='not a Label Studio JSON'):
        tool.main([str(bad), '--image-root', str(tmp_path / 'imgs'), '-o',
                   str(tmp_path / 'out')])
    with pytest.raises(ConversionError, match='--image-root folder'):
        tool.main([str(bad), '--image-root', str(tmp_path / 'nope'), '-o',
                   str(tmp_path / 'out')])
    assert not osp.exists(tmp_path / 'out')
