"""Scoring a pool of unlabelled photos and pre-annotating the chosen ones
(``tools/select_for_labelling.py``; the maths is
:mod:`spotrust_mm.evaluation.acquisition`).

Each photo is inferred once: the uncertainty segmentor's fields (with the
binary entropies, ``SamplingRequest(entropies=True)``) give every strategy and
aggregation's score, and a hook on the backbone gives the photo's pooled
features for the diversity guard. Each photo's scores are a JSON record in
``OUT/scores/`` keyed like ``tools/infer.py``'s records
(:mod:`.resume`): a rerun with the same model and options skips the photos
already scored, whatever the strategy, K or seed asked for.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..datasets.conversion import (coco_annotations, labelme_document,
                                   prediction_regions)
from ..evaluation.acquisition import (PHOTO_STRATEGIES, diverse_top_k,
                                     image_scores, random_score, score_key)
from ..fileio import write_json
from ..models.segmentors.sampling_request import SamplingRequest
from ..visualization import prediction_maps, read_rgb
from .folder_inference import (StopRun, check_review_options, failure_reason,
                               has_epistemic, is_binary)
from .resume import completed_record, file_identity


class BackboneFeatures:
    """Every backbone output of a forward pass averaged over each cell of
    a ``grid`` x ``grid`` layout, concatenated (HRNet: its four branches),
    averaged over the passes since the last :meth:`pop` (the windows of a
    slide inference). An ensemble's first member's backbone is used.

    The layout is kept because road, steel or concrete photos all look
    alike once averaged over the whole image: on 18 CrackForest test
    photos, a copy shifted by 6 pixels and one 10 % brighter with noise had
    a similarity of 0.995 and 0.947 to their photo with a 4 x 4 grid, the
    distinct photos at most 0.746 to each other; averaged over the whole
    image the brighter copy had 0.876 and distinct photos up to 0.94
    (docs/labelling.md).

    Args:
        model: An uncertainty segmentor.
        grid (int): Cells per side. Defaults to 4.
    """

    def __init__(self, model, grid: int = 4):
        self.grid = grid
        backbone = getattr(model, 'backbone', None)
        if backbone is None and getattr(model, 'members', None):
            backbone = model.members[0].backbone
        if backbone is None:
            raise ValueError(f'{type(model).__name__} has no backbone to '
                             'take features from')
        self.parts: List[torch.Tensor] = []
        self.handle = backbone.register_forward_hook(self._hook)

    def _hook(self, module, inputs, outputs) -> None:
        outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        self.parts.append(torch.cat([
            F.adaptive_avg_pool2d(o.detach().float(), self.grid).flatten(1)
            for o in outs
        ], 1).mean(0))

    def pop(self) -> np.ndarray:
        """The features since the last call."""
        if not self.parts:
            raise RuntimeError('the backbone did not run')
        out = torch.stack(self.parts).mean(0).cpu().numpy()
        self.parts = []
        return out

    def close(self) -> None:
        self.handle.remove()


def predict_with(model, img: np.ndarray, request: SamplingRequest):
    """``mmseg.apis.inference_model`` of one RGB image (the config's test
    pipeline and preprocessing), predicting with an explicit sampling
    ``request``."""
    from mmseg.apis.inference import _preprare_data
    data, _ = _preprare_data(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), model)
    data = model.data_preprocessor(data, False)
    return model.predict(data['inputs'], data['data_samples'],
                         request=request)[0]


def prediction_fields(model, img: np.ndarray) -> Dict[str, np.ndarray]:
    """Infer one RGB image: its (H, W) fields as float32 arrays
    (``epistemic_uncertainty``, ``predictive_entropy``,
    ``expected_entropy``, ``confidence``: the probability of the
    predicted class; binary models: ``probability``, the defect's) and
    ``label_map`` (the predicted classes). A plain mmseg model gives only
    what its softmax can: ``predictive_entropy`` (of its softmax),
    ``confidence``, ``probability`` (binary) and ``label_map``."""
    from mmseg.apis import inference_model
    bayesian = has_epistemic(model)
    with torch.no_grad():
        result = predict_with(model, img, SamplingRequest(
            entropies=True)) if bayesian else inference_model(
                model, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    maps, classes, _ = prediction_maps(result)
    prob = maps['probability']  # binary: the defect's; K: the predicted's
    out = dict(confidence=np.maximum(prob, 1 - prob) if classes is None
               else prob, label_map=maps['prediction'])
    if classes is None:
        out['probability'] = prob
    if not bayesian:  # a plain model: the entropy of its softmax
        out['predictive_entropy'] = maps['entropy']
        return out
    for name in ('epistemic_uncertainty', 'predictive_entropy',
                 'expected_entropy'):
        out[name] = result.get(name).data[0].float().cpu().numpy()
    return out


class PoolScoring:
    """Score the photos of a pool, one JSON record per photo in
    ``score_dir``, recording each failure with its reason and going on.

    Args:
        model: The uncertainty segmentor (``init_model``).
        score_dir (str): Where the records go.
        key (str): Settings key (:func:`~.resume.settings_key`).
        patch (int): ``patch_max`` window side, pixels.
        fraction (float): ``top_fraction`` share of pixels.
        fail_fast (bool): Stop (:class:`StopRun`) at the first failure.
        grid (int): Cells per side of the features
            (:class:`BackboneFeatures`).
    """

    def __init__(self, model, score_dir: str, key: str, patch: int = 64,
                 fraction: float = 0.05, fail_fast: bool = False,
                 grid: int = 4):
        self.grid = grid
        self.model, self.score_dir, self.key = model, score_dir, key
        self.patch, self.fraction = patch, fraction
        self.fail_fast = fail_fast
        self.errors: List[dict] = []
        self.records: Dict[str, dict] = {}

    def done_before(self, name: str, path: str) -> Optional[dict]:
        return completed_record(self.score_dir, name, self.key, path)

    def run(self, items: Sequence, bar) -> None:
        """Score ``items`` ((path, label, name) triples)."""
        features = BackboneFeatures(self.model, self.grid)
        try:
            for path, label, name in items:
                try:
                    img = read_rgb(path)
                    fields = prediction_fields(self.model, img)
                    record = dict(
                        file=label, name=name, source=file_identity(path),
                        settings=self.key, shape=list(img.shape[:2]),
                        scores=image_scores(fields, self.patch,
                                            self.fraction),
                        features=[round(float(v), 5)
                                  for v in features.pop()],
                        files={'record': f'{name}.json'})
                    write_json(osp.join(self.score_dir, f'{name}.json'),
                               record)
                    self.records[name] = record
                except Exception as e:  # noqa: BLE001 (recorded, go on)
                    features.parts = []
                    self.errors.append(dict(
                        file=label, error=failure_reason(e, path)))
                    if self.fail_fast:
                        raise StopRun(f'{label}: {self.errors[-1]["error"]}')
                bar.update(1)
        finally:
            features.close()


def preannotate(model, path: str, image_name: str, classes: Sequence[str],
                image_id: int, first_annotation_id: int,
                options: dict) -> tuple:
    """The LabelMe document and COCO annotations of one photo's
    prediction (``options``: ``tolerance``, ``min_area``,
    ``low_confidence``, ``review_epistemic`` of
    :func:`~spotrust_mm.datasets.conversion.prediction_regions`, and
    ``segmentation`` of :func:`~spotrust_mm.datasets.conversion.
    coco_annotations`)."""
    img = read_rgb(path)
    fields = prediction_fields(model, img)
    regions = prediction_regions(
        fields['label_map'], fields['confidence'],
        fields.get('epistemic_uncertainty'), classes,
        tolerance=options['tolerance'], min_area=options['min_area'],
        low_confidence=options['low_confidence'],
        review_epistemic=options['review_epistemic'])
    shape = img.shape[:2]
    return (labelme_document(image_name, shape, regions),
            coco_annotations(regions, image_id, shape, len(classes),
                             first_annotation_id, options['segmentation']),
            dict(id=image_id, file_name=image_name, height=int(shape[0]),
                 width=int(shape[1])))


def check_strategy(model, config: str, strategy: Optional[str],
                   review_epistemic: Optional[float] = None) -> str:
    """The scoring strategy for ``model``: ``strategy``, or by default
    ``mutual_information`` (``entropy`` for a plain mmseg model), after
    refusing what the model cannot honour: a plain model's softmax gives
    only ``entropy`` (and ``random``, and the photo score
    ``expected_f1_error`` of any binary model), and no epistemic map for
    ``review_epistemic``.

    Raises:
        ValueError: Naming the config, the model type and what to pass.
    """
    check_review_options(model, config, review_epistemic)
    plain = not has_epistemic(model)
    if strategy is None:
        return 'entropy' if plain else 'mutual_information'
    if strategy in PHOTO_STRATEGIES:
        if not is_binary(model):
            raise ValueError(
                f'{config}: --strategy {strategy} is a photo score of '
                f'binary models; this {type(model).__name__} has '
                f'{len(model.dataset_meta["classes"])} classes: rank its '
                'photos by a pixel strategy (mutual_information, '
                'epistemic, entropy)')
        return strategy
    if plain and strategy not in ('random', 'entropy'):
        what = dict(epistemic='epistemic uncertainty',
                    mutual_information='mutual information')[strategy]
        raise ValueError(
            f'{config}: a plain {type(model).__name__} has no {what} '
            '(it gives one softmax per pixel, not samples); rank its '
            'photos with --strategy entropy (the entropy of its softmax) '
            'or random, or put a Bayesian tail on its head '
            '(docs/any_head.md)')
    return strategy


def rank_pool(records: Dict[str, dict], strategy: str, aggregation: str,
              k: int, seed: int = 0,
              max_similarity: Optional[float] = 0.9) -> List[dict]:
    """The ranking of a scored pool: the K chosen first, in the order
    chosen, then the others by score.

    Args:
        records (dict): Name to score record (:class:`PoolScoring`:
            ``scores`` and ``features``).
        strategy (str): A strategy of
            :data:`~spotrust_mm.evaluation.acquisition.STRATEGIES`;
            ``random`` draws :func:`random_score` from ``seed``.
        aggregation (str): How pixel scores became the photo's
            (``records[name]['scores']['<strategy>/<aggregation>']``).
        k (int): Photos to choose.
        seed (int): Seed of the random strategy.
        max_similarity (float, optional): The diversity guard
            (:func:`diverse_top_k`); None switches it off.

    Returns:
        list[dict]: ``rank``, ``name``, ``file``, ``score``, ``chosen``,
        and the photo a skipped one resembles (``similar_to``,
        ``similarity``).
    """
    names = sorted(records)
    if strategy == 'random':
        scores = [random_score(n, seed) for n in names]
    else:
        key = score_key(strategy, aggregation)
        missing = [n for n in names if key not in records[n]['scores']]
        if missing:
            raise ValueError(f'{missing[0]}: no {key} score (its model '
                             'does not give that uncertainty)')
        scores = [records[n]['scores'][key] for n in names]
    features = None if max_similarity is None or not names else np.array(
        [records[n]['features'] for n in names])
    chosen, skipped = diverse_top_k(scores, min(k, len(names)), features,
                                    max_similarity)
    taken = set(chosen)
    rest = [i for i in np.argsort(-np.asarray(scores), kind='stable')
            if i not in taken]
    rows = []
    for i in list(chosen) + [int(i) for i in rest]:
        similar = skipped.get(i)
        rows.append(dict(
            rank=len(rows) + 1, name=names[i], file=records[names[i]]['file'],
            score=round(float(scores[i]), 6), chosen=i in chosen,
            similar_to=names[similar[0]] if similar else '',
            similarity=round(similar[1], 4) if similar else ''))
    return rows
