"""End to end with a real Label Studio server (its own virtual
environment, SQLite in a temporary folder, no network): a project with
photos the test makes, the backend connected through Label Studio's API,
predictions with regions and scores, the queue sorted by them as
tools/select_for_labelling.py ranks the photos, a corrected annotation
exported, converted and merged back; and the backend's refusals.

Label Studio is found at ``$SPOTRUST_LABEL_STUDIO`` or
``.venv-label-studio/bin/label-studio`` (``make label-studio``; .ci/run
installs it). Without it the test is skipped, unless
``SPOTRUST_REQUIRE_LABEL_STUDIO=1`` (CI), where that is a failure.
"""
import csv
import json
import os
import os.path as osp
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import cv2
import numpy as np
import pytest

from ..conftest import REPO, load_tool, write_tiny_model
from .test_label_studio import CONFIG
from .test_select_for_labelling import _converted

pytestmark = pytest.mark.slow
LABEL_STUDIO = os.environ.get('SPOTRUST_LABEL_STUDIO') or osp.join(
    REPO, '.venv-label-studio', 'bin', 'label-studio')
START_TIMEOUT = 600  # seconds: migrations on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Api:
    """Label Studio's REST API with a token (urllib, JSON)."""

    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None, raw=None, content_type=None):
        headers = {'Authorization': f'Token {self.token}'}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        if content_type:
            headers['Content-Type'] = content_type
        req = urllib.request.Request(self.url + path, data, headers,
                                     method=method)
        with urllib.request.urlopen(req, timeout=300) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def upload(self, project, files):
        """POST files as multipart/form-data to the project's import."""
        boundary = uuid.uuid4().hex
        parts = []
        for i, path in enumerate(files):
            with open(path, 'rb') as f:
                content = f.read()
            parts.append(
                (f'--{boundary}\r\nContent-Disposition: form-data; '
                 f'name="file{i}"; filename="{osp.basename(path)}"\r\n'
                 'Content-Type: application/octet-stream\r\n\r\n'
                 ).encode() + content + b'\r\n')
        body = b''.join(parts) + f'--{boundary}--\r\n'.encode()
        return self.call('POST', f'/api/projects/{project}/import', raw=body,
                         content_type='multipart/form-data; boundary=' +
                         boundary)


def _wait(url, proc, what, timeout):
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f'{what} exited with {proc.returncode}')
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(2)
    raise RuntimeError(f'{what} did not answer {url} in {timeout} s')


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope='module')
def label_studio(tmp_path_factory):
    if not osp.isfile(LABEL_STUDIO):
        msg = (f'no Label Studio at {LABEL_STUDIO} (make label-studio, or '
               'set SPOTRUST_LABEL_STUDIO)')
        if os.environ.get('SPOTRUST_REQUIRE_LABEL_STUDIO') == '1':
            pytest.fail(msg)
        pytest.skip(msg)
    root = tmp_path_factory.mktemp('label_studio')
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ, LABEL_STUDIO_BASE_DATA_DIR=str(root / 'data'),
        LABEL_STUDIO_USERNAME='tester@example.com',
        LABEL_STUDIO_PASSWORD=secrets.token_hex(8),
        LABEL_STUDIO_USER_TOKEN=token,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN='true',
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK='true',
        # the backend runs on this machine: allow 127.0.0.1
        SSRF_PROTECTION_ENABLED='false', USE_DEFAULT_BANNED_SUBNETS='false',
        LATEST_VERSION_CHECK='false', COLLECT_ANALYTICS='false')
    log = open(root / 'label_studio.log', 'w')
    proc = subprocess.Popen(
        [LABEL_STUDIO, 'start', '--no-browser', '--port', str(port),
         '--internal-host', '127.0.0.1'], cwd=str(root), env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        _wait(url + '/health', proc, 'Label Studio', START_TIMEOUT)
        yield Api(url, token), root
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope='module')
def backend(tmp_path_factory):
    root = tmp_path_factory.mktemp('backend')
    config, ckpt = write_tiny_model(root)
    port = _free_port()
    log = open(root / 'backend.log', 'w')
    proc = subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools/label_studio_backend.py'),
         config, ckpt, '--port', str(port), '--tolerance', '0',
         '--min-area', '1'], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        _wait(f'http://127.0.0.1:{port}/health', proc, 'the backend', 300)
        yield f'http://127.0.0.1:{port}', (config, ckpt), root
    finally:
        _stop(proc)
        log.close()


def _photos(folder):
    """Three photos of one size: rust-coloured blobs on grey, busier to
    plain."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    paths = []
    for i, noise in enumerate((60, 25, 5)):
        img = np.full((72, 96, 3), 128, np.int64)
        img[20:50, 30:70] = (40, 80, 150)  # BGR rust
        img += rng.integers(-noise, noise + 1, img.shape)
        path = folder / f'photo{i}.png'
        cv2.imwrite(str(path), img.clip(0, 255).astype(np.uint8))
        paths.append(str(path))
    return paths


def test_label_studio_round_trip(label_studio, backend, tmp_path):
    api, ls_root = label_studio
    backend_url, (config, ckpt), _ = backend
    photos = _photos(tmp_path / 'photos')
    project = api.call('POST', '/api/projects', dict(
        title='SpotRust end to end', label_config=CONFIG))['id']
    assert api.upload(project, photos)['task_count'] == 3
    ml = api.call('POST', '/api/ml', dict(url=backend_url, project=project,
                                          title='SpotRust-MM'))
    assert ml['readable_state'] == 'Connected', ml
    done = api.call('POST', '/api/dm/actions?id=retrieve_tasks_predictions'
                    f'&project={project}',
                    dict(selectedItems=dict(all=True, excluded=[])))
    assert done['processed_items'] == 3, done
    tasks = api.call('GET', f'/api/tasks?project={project}&fields=all'
                     )['tasks']
    by_name, scores = {}, {}
    for task in tasks:
        name = osp.basename(task['data']['image']).split('-', 1)[1]
        by_name[name] = task
        (pred, ) = task['predictions']
        assert isinstance(pred['score'], float)
        scores[name] = pred['score']
        for r in pred['result']:
            assert r['type'] == 'polygonlabels'
            assert 'mean confidence' in r['meta']['text'][0]
    assert any(len(t['predictions'][0]['result']) for t in tasks)
    # the queue sorted by score, highest first, is the photo ranking of
    # tools/select_for_labelling.py with the same model and settings
    view = api.call('POST', '/api/dm/views', dict(project=project, data=dict(
        title='by uncertainty', ordering=['-tasks:predictions_score'])))
    queue = api.call('GET', f'/api/tasks?project={project}&view={view["id"]}'
                     )['tasks']
    queue = [osp.basename(t['data']['image']).split('-', 1)[1]
             for t in queue]
    out = tmp_path / 'selection'
    subprocess.run([sys.executable, osp.join(
        REPO, 'tools/select_for_labelling.py'), config, ckpt,
        str(tmp_path / 'photos'), '-k', '3', '--out', str(out),
        '--no-diversity', '--pre-annotate', '--quiet'], check=True,
        capture_output=True)
    with open(out / 'selection' / 'ranking.csv') as f:
        ranking = list(csv.DictReader(f))
    assert queue == [r['file'] for r in ranking]
    for r in ranking:
        assert abs(scores[r['file']] - float(r['score'])) < 1e-5
    assert max(scores, key=scores.get) == ranking[0]['file']

    # an annotator takes the prediction of the first photo in the queue
    # (without the "uncertain" marks) and adds a region the model missed:
    # pixels x 10..40, y 5..30 (vertices at pixel centres, in percent);
    # export, convert, merge
    first = by_name[queue[0]]
    kept = [r for r in first['predictions'][0]['result']
            if r['value']['polygonlabels'] == ['corrosion']]
    corners = [(10, 5), (40, 5), (40, 30), (10, 30)]
    kept.append(dict(
        kept[0] if kept else first['predictions'][0]['result'][0],
        id='added', value=dict(points=[
            [100 * (x + 0.5) / 96, 100 * (y + 0.5) / 72]
            for x, y in corners], closed=True,
            polygonlabels=['corrosion'])))
    api.call('POST', f'/api/tasks/{first["id"]}/annotations',
             dict(result=kept, was_cancelled=False))
    export = api.call('GET', f'/api/projects/{project}/export'
                      '?exportType=JSON')
    path = tmp_path / 'export.json'
    path.write_text(json.dumps(export))
    uploads = ls_root / 'data' / 'media' / 'upload' / str(project)
    new = tmp_path / 'new'
    load_tool('tools/dataset_converters/label_studio.py').main([
        str(path), '--image-root', str(uploads), '-o', str(new),
        '--split', '1', '0', '0', '--quiet'])
    stem = osp.splitext(queue[0])[0]
    mask = cv2.imread(str(new / 'ann_dir' / 'train' / f'{stem}.png'),
                      cv2.IMREAD_UNCHANGED)
    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.apis.labelling import prediction_fields
    from spotrust_mm.visualization import read_rgb
    model = init_checked_model(load_inference_config(config, ckpt), ckpt,
                               config)
    fields = prediction_fields(model, read_rgb(str(tmp_path / 'photos' /
                                                   queue[0])))
    expected = fields['label_map'].astype(np.uint8)
    expected[5:31, 10:41] = 1
    assert np.array_equal(mask, expected)
    data = _converted(tmp_path / 'base', [f'old{i}' for i in range(6)],
                      np.random.default_rng(0))
    info = load_tool('tools/merge_labels.py').main([str(new), data,
                                                    '--allow-new-suffix'])
    assert info['merged'][-1]['stems'] == [stem]
    assert osp.isfile(osp.join(data, 'ann_dir', 'train', f'{stem}.png'))


def test_refusals_against_label_studio(label_studio, backend, tmp_path):
    from spotrust_mm.apis.label_studio import BackendError, ImageSource
    api, _ = label_studio
    backend_url, _, backend_root = backend
    # a label the model does not know: the connection is refused (Label
    # Studio shows its own message), the backend's log says why
    config = CONFIG.replace('"corrosion"', '"rust"')
    project = api.call('POST', '/api/projects', dict(
        title='Unknown label', label_config=config))['id']
    try:
        ml = api.call('POST', '/api/ml', dict(url=backend_url,
                                              project=project, title='x'))
        state = ml['readable_state'], ml.get('error_message') or ''
    except urllib.error.HTTPError as e:
        state = 'refused', e.read().decode()
    assert state[0] != 'Connected', state
    with open(backend_root / 'backend.log') as f:
        assert "labels the model does not know: ['rust']" in f.read()
    # a wrong token: Label Studio refuses the image, the backend says why
    (photo, ) = _photos(tmp_path / 'p')[:1]
    task_project = api.call('POST', '/api/projects', dict(
        title='Token check', label_config=CONFIG))['id']
    api.upload(task_project, [photo])
    (task, ) = api.call('GET', f'/api/tasks?project={task_project}')['tasks']
    ref = task['data']['image']
    assert ImageSource(api.url, api.token).read(ref).shape == (72, 96, 3)
    with pytest.raises(BackendError, match='refused the API token'):
        ImageSource(api.url, 'not-the-token').read(ref)
