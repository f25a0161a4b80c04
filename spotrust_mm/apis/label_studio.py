"""A Label Studio ML backend over the package's own inference: it
pre-annotates each task with the model's regions and their uncertainty,
and scores each task so that sorting the queue by the prediction score
puts the photos the model is least sure of first.

The protocol is Label Studio's ML-backend API (``label_studio/ml/
api_connector.py``): ``GET /health``, ``POST /setup`` (the project's
labelling config, its host and an API token), ``POST /predict`` (tasks in,
``{"results": [...]}`` out, one entry per task, in order). Training
through ``/train`` or the ``/webhook`` is not offered: retraining is the
file loop of docs/labelling.md (export, convert, merge, train).

Predictions are polygons (``PolygonLabels``), one per predicted region,
as :func:`~spotrust_mm.datasets.conversion.prediction_regions` traces them
for the LabelMe export, holes kept as keyhole cuts: an annotator edits a
polygon vertex by vertex in Label Studio, the export converts back with
the same rasteriser as LabelMe files, and nothing depends on Label
Studio's own brush RLE codec. Each region carries its mean confidence as
its ``score`` and the numbers in its ``meta`` text; regions the model is
unsure of are flagged (``low confidence`` in the text) and the unsure
pixels get regions labelled ``uncertain`` when the labelling config has
that label, as the LabelMe export marks them.
"""
import ipaddress
import json
import os.path as osp
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional, Sequence

import numpy as np

from ..datasets.conversion import UNCERTAIN_LABEL, prediction_regions
from ..evaluation.acquisition import image_scores, score_key
from ..visualization.images import decode_rgb
from .labelling import prediction_fields

#: The Label Studio tag the backend predicts.
CONTROL_TAG = 'PolygonLabels'
#: Largest image the backend fetches, bytes.
MAX_IMAGE_BYTES = 200 * 2**20


class BackendError(ValueError):
    """A request the backend cannot serve; its message says why."""


def parse_label_config(xml: str) -> dict:
    """The first ``<PolygonLabels>`` of a Label Studio labelling config:
    its ``from_name``, ``to_name`` (the ``<Image>`` it labels), the task
    data key of that image (``value="$image"`` gives ``image``) and its
    label values.

    Raises:
        BackendError: If the config does not parse or has no polygon
            labels on an image.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise BackendError(f'the labelling config is not XML: {e}')
    controls = list(root.iter(CONTROL_TAG))
    if not controls:
        tags = sorted({el.tag for el in root.iter()})
        raise BackendError(
            f'the labelling config has no <{CONTROL_TAG}> (it has '
            f'{", ".join(tags)}): this backend predicts polygons; use '
            '<PolygonLabels name="label" toName="image"> with one <Label> '
            'per class (docs/labelling.md)')
    control = controls[0]
    to_name = control.get('toName')
    images = {el.get('name'): el for el in root.iter('Image')}
    if to_name not in images:
        raise BackendError(f'<{CONTROL_TAG} name="{control.get("name")}"> '
                           f'labels "{to_name}", which is no <Image>')
    value = images[to_name].get('value', '')
    if not value.startswith('$'):
        raise BackendError(f'<Image name="{to_name}"> takes value '
                           f'"{value}", not a task field ($image)')
    labels = [el.get('value') for el in control.iter('Label')]
    return dict(from_name=control.get('name'), to_name=to_name,
                data_key=value[1:], labels=labels)


def check_labels(labels: Sequence[str], classes: Sequence[str]) -> None:
    """The config's labels must be the model's classes (but the first,
    background), plus optionally :data:`UNCERTAIN_LABEL`.

    Raises:
        BackendError: Naming the labels the model does not know and the
            classes the config lacks.
    """
    known = list(classes[1:])
    unknown = [x for x in labels if x not in known and x != UNCERTAIN_LABEL]
    lacking = [c for c in known if c not in labels]
    if unknown or lacking:
        raise BackendError(
            'the labelling config does not match the model: ' + '; '.join(
                part for part in (
                    f'labels the model does not know: {unknown}'
                    if unknown else '',
                    f'classes of the model with no label: {lacking}'
                    if lacking else '') if part) +
            f'. The model predicts {known} (background: {classes[0]!r}, not '
            f'labelled); "{UNCERTAIN_LABEL}" may be added for the unsure '
            'regions')


def polygon_results(regions: Sequence[dict], shape: Sequence[int],
                    config: dict) -> List[dict]:
    """Label Studio results of ``regions`` (:func:`prediction_regions`):
    polygon points in percent of the image's width and height (Label
    Studio's unit), pixel ``i``'s centre at ``100 * (i + 0.5) / size``.
    The ``uncertain`` marks only when the config has that label."""
    h, w = (int(v) for v in shape)
    out = []
    for r in regions:
        if r['class_id'] is None and UNCERTAIN_LABEL not in config['labels']:
            continue
        text = f'mean confidence {r["mean_confidence"]}'
        if 'mean_epistemic' in r:
            text += f', mean epistemic {r["mean_epistemic"]}'
        if r['low_confidence']:
            text += ', low confidence'
        points = [[round(100 * (float(x) + 0.5) / w, 4),
                   round(100 * (float(y) + 0.5) / h, 4)]
                  for x, y in r['polygon']]
        out.append(dict(
            id=f'r{len(out)}', from_name=config['from_name'],
            to_name=config['to_name'], type='polygonlabels',
            original_width=w, original_height=h, image_rotation=0,
            value=dict(points=points, closed=True,
                       polygonlabels=[r['label']]),
            score=r['mean_confidence'], meta=dict(text=[text])))
    return out


class ImageSource:
    """Reads a task's image from Label Studio or its local storage,
    nothing else.

    - ``/data/upload/...`` and other paths on the Label Studio host, or a
      URL on that host: fetched with ``Authorization: Token <token>``;
    - ``/data/local-files/?d=<path>`` (local storage) and absolute paths:
      read only if the file lies under one of ``roots`` (symbolic links
      resolved), so a task cannot name a file elsewhere.

    Args:
        url (str, optional): Label Studio's address (``/setup`` gives one
            when this is None).
        token (str, optional): Its API token (likewise).
        roots (Sequence[str]): Folders that local files may be read from.
        timeout (float): Seconds per request.
    """

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None,
                 roots: Sequence[str] = (), timeout: float = 30.0):
        self.url = url.rstrip('/') if url else None
        self.token = token
        self.roots = [osp.realpath(r) for r in roots]
        self.timeout = timeout

    def configure(self, url: Optional[str], token: Optional[str]) -> None:
        """Take the host and token ``/setup`` sends where none was given."""
        if self.url is None and url:
            self.url = url.rstrip('/')
        if self.token is None and token:
            self.token = token

    def read(self, ref: str) -> np.ndarray:
        """The RGB image a task names.

        Raises:
            BackendError: Naming ``ref`` and what went wrong.
        """
        if not isinstance(ref, str) or not ref:
            raise BackendError(f'task image {ref!r} is not a path or URL')
        parsed = urllib.parse.urlparse(ref)
        if parsed.path.startswith('/data/local-files'):
            query = urllib.parse.parse_qs(parsed.query)
            if 'd' not in query:
                raise BackendError(f'{ref}: a local-files URL without ?d=')
            return self._local(query['d'][0], ref)
        if parsed.scheme in ('', 'file') and not ref.startswith('/data/') \
                and osp.isabs(parsed.path):
            return self._local(parsed.path, ref)
        return decode_image(self._fetch(ref), ref)

    def _local(self, path: str, ref: str) -> np.ndarray:
        candidates = [path] if osp.isabs(path) else [
            osp.join(root, path) for root in self.roots]
        for candidate in candidates:
            real = osp.realpath(candidate)
            if any(real == r or real.startswith(r + osp.sep)
                   for r in self.roots):
                if not osp.isfile(real):
                    raise BackendError(f'{ref}: no such file')
                with open(real, 'rb') as f:
                    return decode_image(f.read(), ref)
        raise BackendError(
            f'{ref}: outside the folders this backend may read '
            f'({", ".join(self.roots) or "none given: --local-root"})')

    def _fetch(self, ref: str) -> bytes:
        if self.url is None:
            raise BackendError(f'{ref}: no Label Studio address to fetch it '
                               'from (--label-studio-url)')
        base = urllib.parse.urlparse(self.url)
        target = urllib.parse.urlparse(urllib.parse.urljoin(
            self.url + '/', ref))
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise BackendError(
                f'{ref}: not on Label Studio ({self.url}); the backend only '
                'fetches images from Label Studio itself')
        request = urllib.request.Request(target.geturl())
        if self.token:
            request.add_header('Authorization', f'Token {self.token}')
        try:
            with urllib.request.urlopen(request,
                                        timeout=self.timeout) as resp:
                data = resp.read(MAX_IMAGE_BYTES + 1)
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise BackendError(
                    f'{ref}: Label Studio refused the API token (HTTP '
                    f'{e.code}); give a valid one with --api-key or '
                    'LABEL_STUDIO_API_KEY')
            raise BackendError(f'{ref}: HTTP {e.code} from Label Studio')
        except (urllib.error.URLError, OSError) as e:
            raise BackendError(f'{ref}: cannot reach Label Studio: {e}')
        if len(data) > MAX_IMAGE_BYTES:
            raise BackendError(f'{ref}: larger than {MAX_IMAGE_BYTES} bytes')
        return data


def decode_image(data: bytes, ref: str) -> np.ndarray:
    """RGB pixels of an encoded image as it displays
    (:func:`~spotrust_mm.visualization.images.decode_rgb`).

    Raises:
        BackendError: If the bytes are not a readable image.
    """
    try:
        return decode_rgb(data, ref)
    except ValueError as e:
        raise BackendError(str(e))


class LabelStudioBackend:
    """The model behind the ML-backend endpoints.

    Args:
        model: An ``init_model`` segmentor (SpotRust or plain mmseg).
        source (ImageSource): Where task images are read from.
        strategy (str): Pixel score of the task score, as
            tools/select_for_labelling.py: 'mutual_information' (default
            for SpotRust models), 'epistemic' or 'entropy' (the only one
            for a plain model).
        aggregation (str): 'patch_max' (default), 'mean' or
            'top_fraction'.
        options (dict): :func:`prediction_regions` options
            (``tolerance``, ``min_area``, ``low_confidence``,
            ``review_epistemic``) and ``patch``, ``fraction``.
        model_version (str): Reported to Label Studio.
    """

    def __init__(self, model, source: ImageSource, strategy: str,
                 aggregation: str, options: dict, model_version: str):
        self.model, self.source = model, source
        self.strategy, self.aggregation = strategy, aggregation
        self.options, self.model_version = options, model_version
        self.classes = list(model.dataset_meta['classes'])
        self.lock = threading.Lock()
        self.log: List[str] = []

    def setup(self, body: dict) -> dict:
        """``POST /setup``: check the config's labels, take the host and
        token Label Studio sends (unless given on the command line)."""
        check_labels(parse_label_config(body.get('schema') or '')['labels'],
                     self.classes)
        self.source.configure(body.get('hostname'), body.get('access_token'))
        return dict(model_version=self.model_version)

    def predict(self, body: dict) -> dict:
        """``POST /predict``: one prediction list per task, in order; a
        task whose image cannot be read or inferred gets none (and the
        reason in the backend's log), the others go on."""
        config = parse_label_config(body.get('label_config') or '')
        check_labels(config['labels'], self.classes)
        tasks = body.get('tasks')
        if not isinstance(tasks, list):
            raise BackendError('the request has no list of tasks')
        return dict(results=[self._task(t, config) for t in tasks])

    def _failed(self, task: dict, reason: str) -> list:
        """Record why a task got no prediction (``log``, stderr)."""
        line = f'task {task.get("id")}: {reason}'
        self.log.append(line)
        print(line, file=sys.stderr, flush=True)
        return []

    def _task(self, task: dict, config: dict) -> list:
        ref = (task.get('data') or {}).get(config['data_key'])
        try:
            img = self.source.read(ref)
            with self.lock:
                fields = prediction_fields(self.model, img)
        except BackendError as e:
            return self._failed(task, str(e))
        except Exception as e:  # noqa: BLE001 (reported, next task)
            return self._failed(task, f'{ref}: inference failed: '
                                f'{type(e).__name__}: {e}')
        o = self.options
        regions = prediction_regions(
            fields['label_map'], fields['confidence'],
            fields.get('epistemic_uncertainty'), self.classes,
            tolerance=o['tolerance'], min_area=o['min_area'],
            low_confidence=o['low_confidence'],
            review_epistemic=o['review_epistemic'])
        scores = image_scores(fields, o['patch'], o['fraction'])
        score = scores[score_key(self.strategy, self.aggregation)]
        return [dict(result=polygon_results(regions, img.shape[:2], config),
                     score=round(float(score), 6),
                     model_version=self.model_version)]


def make_handler(backend: LabelStudioBackend):
    """The HTTP handler class of ``backend``'s endpoints (JSON in, JSON
    out; a bad request gets 400 with ``{"error": ...}``)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = 'SpotRustLabelStudioBackend'

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path.rstrip('/') in ('/health', ''):
                self._send(200, dict(status='UP', model_class=type(
                    backend.model).__name__,
                    model_version=backend.model_version))
            else:
                self._send(404, dict(error=f'no GET {self.path}'))

        def do_POST(self):  # noqa: N802
            routes = {'/setup': backend.setup, '/predict': backend.predict}
            route = routes.get(self.path.rstrip('/'))
            if route is None:
                self._send(404, dict(error=f'no POST {self.path} (this '
                                     'backend predicts; it does not train)'))
                return
            try:
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length) or b'{}')
                if not isinstance(body, dict):
                    raise BackendError('the request body is not a JSON '
                                       'object')
                self._send(200, route(body))
            except (BackendError, json.JSONDecodeError) as e:
                print(f'POST {self.path}: {e}', file=sys.stderr, flush=True)
                self._send(400, dict(error=str(e)))

        def log_message(self, fmt, *args):  # quiet: errors go to .log
            pass

    return Handler


def serve(backend: LabelStudioBackend, host: str = '127.0.0.1',
          port: int = 9090) -> ThreadingHTTPServer:
    """A server of ``backend`` bound to ``host:port`` (call
    ``serve_forever``); port 0 picks a free one (``server_port``)."""
    return ThreadingHTTPServer((host, port), make_handler(backend))


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = [
    'BackendError', 'parse_label_config', 'check_labels', 'polygon_results',
    'ImageSource', 'decode_image', 'LabelStudioBackend', 'make_handler',
    'serve', 'is_loopback'
]
