"""Predicted masks as annotations to correct: LabelMe JSON and COCO JSON
(the inverse of :mod:`.polygons`; ``tools/select_for_labelling.py``).

A predicted class map becomes one polygon per connected region
(8-connected, as OpenCV traces it). The polygon runs a quarter pixel
outside the centres of the region's boundary pixels (it is traced at
twice the resolution), so that both rasterising rules give the region
back: LabelMe's and YOLO's (and :func:`~.polygons.rasterise_polygons`),
which round the vertices to pixel centres and include the boundary, and
COCO's (pycocotools), which includes a pixel whose centre the polygon
covers. COCO puts pixel ``i`` at ``[i, i + 1]`` (its centre at
``i + 0.5``), LabelMe at ``i``: the COCO polygons are shifted by half a
pixel. At tolerance 0 both give the mask back exactly. Holes are kept:
each is joined to the outer
boundary by a zero-width cut (a *keyhole* polygon), so that one polygon
with its holes needs no format extension and fills back with the holes
empty in LabelMe, OpenCV and pycocotools alike. Vertices are simplified by
Douglas-Peucker with a stated tolerance in pixels (0 keeps every corner).

Regions the model is unsure of are marked, so that the labeller looks at
them: every predicted region carries its mean confidence and mean
epistemic uncertainty and a ``low_confidence`` flag, and the unsure pixels
(predicted defect or not) get shapes of their own with the label
:data:`UNCERTAIN_LABEL`, which the LabelMe converter leaves out by default
(``--skip-labels``).
"""
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

#: Label of the shapes that mark unsure pixels (not a class).
UNCERTAIN_LABEL = 'uncertain'
#: LabelMe's file format version the documents declare.
LABELME_VERSION = '5.4.1'


def _simplified(contour: np.ndarray, tolerance: float) -> np.ndarray:
    pts = contour.reshape(-1, 1, 2)
    if tolerance > 0 and len(pts) > 4:
        simple = cv2.approxPolyDP(pts, tolerance, True)
        if len(simple) >= 4:  # not a pixel or two collapsed to a line
            pts = simple
    pts = pts.reshape(-1, 2).astype(np.float64)
    while len(pts) < 3:  # a pixel or a straight run: repeat a vertex
        pts = np.concatenate([pts, pts[-1:]])
    return pts


def join_holes(outer: np.ndarray, holes: Sequence[np.ndarray]) -> np.ndarray:
    """One keyhole polygon: each hole is entered from the outer
    boundary's vertex nearest to it and left the same way (the cut is
    traversed twice, so it adds no area)."""
    poly = np.asarray(outer, np.float64)
    for hole in holes:
        hole = np.asarray(hole, np.float64)
        d = ((poly[:, None, :] - hole[None, :, :])**2).sum(-1)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        loop = np.roll(hole, -j, axis=0)
        poly = np.concatenate(
            [poly[:i + 1], loop, loop[:1], poly[i:i + 1], poly[i + 1:]])
    return poly


def mask_polygons(mask: np.ndarray, tolerance: float = 1.0,
                  min_area: int = 1) -> List[dict]:
    """The regions of a boolean (H, W) mask as keyhole polygons.

    Args:
        mask (np.ndarray): (H, W) bool (or 0/1).
        tolerance (float): Douglas-Peucker tolerance in pixels; 0 keeps
            every corner of the traced boundary. Defaults to 1.
        min_area (int): Regions of fewer pixels are left out. Defaults
            to 1 (all).

    Returns:
        list[dict]: Per region: ``polygon`` ((P, 2) x, y), ``mask`` (the
        region's (H, W) bool pixels) and ``area`` (its pixel count).
    """
    mask = np.asarray(mask).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, 8)
    regions = []
    for r in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[r])
        if area < min_area:
            continue
        crop = (labels[y:y + h, x:x + w] == r).astype(np.uint8)
        # traced at twice the resolution: the vertices lie a quarter pixel
        # outside the boundary pixels' centres, which both rules fill
        fine = np.pad(crop, 1).repeat(2, 0).repeat(2, 1)
        contours, hierarchy = cv2.findContours(fine, cv2.RETR_CCOMP,
                                               cv2.CHAIN_APPROX_SIMPLE)

        def polygon(i):
            pts = _simplified(contours[i], 2 * tolerance)
            return pts / 2 - 0.25 + np.array([x - 1, y - 1], np.float64)

        tops = [i for i, hh in enumerate(hierarchy[0]) if hh[3] < 0]
        outer = max(tops, key=lambda i: cv2.contourArea(contours[i]) +
                    len(contours[i]))  # one component: one outer contour
        holes = [polygon(i) for i, hh in enumerate(hierarchy[0])
                 if hh[3] == outer]
        region = np.zeros(mask.shape, bool)
        region[y:y + h, x:x + w] = crop.astype(bool)
        regions.append(dict(polygon=join_holes(polygon(outer), holes),
                            mask=region, area=area))
    return regions


def prediction_regions(label_map: np.ndarray,
                       confidence: np.ndarray,
                       epistemic: Optional[np.ndarray],
                       classes: Sequence[str],
                       tolerance: float = 1.0,
                       min_area: int = 1,
                       low_confidence: float = 0.75,
                       review_epistemic: Optional[float] = None
                       ) -> List[dict]:
    """The regions of a prediction to write as annotations.

    Args:
        label_map (np.ndarray): (H, W) predicted class ids (0 background).
        confidence (np.ndarray): (H, W) probability of the predicted class
            (binary: ``max(p, 1 - p)``).
        epistemic (np.ndarray, optional): (H, W) epistemic uncertainty;
            None for a plain model, which has none (the regions then have
            no ``mean_epistemic``).
        classes (Sequence[str]): Class names, background first.
        tolerance (float): Polygon simplification, pixels.
        min_area (int): Smallest region kept, pixels.
        low_confidence (float): A pixel is unsure if its confidence is
            below this. Defaults to 0.75.
        review_epistemic (float, optional): ... or its epistemic
            uncertainty above this (None: confidence only).

    Returns:
        list[dict]: Per region: ``label``, ``class_id`` (None for the
        :data:`UNCERTAIN_LABEL` marks), ``polygon``, ``mask``, ``area``,
        ``mean_confidence``, ``mean_epistemic`` and ``low_confidence``
        (more than half of its pixels unsure; True for the marks).
    """
    unsure = confidence < low_confidence
    if review_epistemic is not None:
        if epistemic is None:
            raise ValueError('review_epistemic needs an epistemic map; a '
                             'plain model has none')
        unsure |= epistemic > review_epistemic
    out = []
    for class_id in range(1, len(classes)):
        for r in mask_polygons(label_map == class_id, tolerance, min_area):
            out.append(dict(r, label=classes[class_id], class_id=class_id))
    for r in mask_polygons(unsure, tolerance, min_area):
        out.append(dict(r, label=UNCERTAIN_LABEL, class_id=None))
    for r in out:
        m = r['mask']
        r.update(mean_confidence=round(float(confidence[m].mean()), 4),
                 low_confidence=bool(r['class_id'] is None
                                     or unsure[m].mean() > 0.5))
        if epistemic is not None:
            r['mean_epistemic'] = round(float(epistemic[m].mean()), 5)
    return out


def labelme_document(image_path: str, shape: Sequence[int],
                     regions: Sequence[dict]) -> dict:
    """A LabelMe annotation file of ``regions`` (:func:`prediction_regions`)
    for the image at ``image_path`` (relative to the JSON) of (H, W)
    ``shape``: one polygon per region, its flags ``low_confidence`` and
    ``predicted``, the numbers in its description."""
    shapes = [dict(
        label=r['label'],
        points=[[round(float(x), 2), round(float(y), 2)]
                for x, y in r['polygon']],
        group_id=None,
        description=f'predicted; mean confidence {r["mean_confidence"]}' +
        (f', mean epistemic {r["mean_epistemic"]}'
         if 'mean_epistemic' in r else ''),
        shape_type='polygon',
        flags=dict(low_confidence=r['low_confidence'], predicted=True))
        for r in regions]
    return dict(version=LABELME_VERSION, flags={}, shapes=shapes,
                imagePath=image_path, imageData=None,
                imageHeight=int(shape[0]), imageWidth=int(shape[1]))


def coco_categories(classes: Sequence[str]) -> List[dict]:
    """COCO categories: ids 1..K-1 for the classes but background, and K
    for :data:`UNCERTAIN_LABEL`."""
    return [dict(id=c, name=name, supercategory='defect')
            for c, name in enumerate(classes) if c > 0] + [
                dict(id=len(classes), name=UNCERTAIN_LABEL,
                     supercategory='review')]


def coco_annotations(regions: Sequence[dict], image_id: int,
                     shape: Sequence[int], num_classes: int,
                     first_id: int = 1, segmentation: str = 'polygon'
                     ) -> List[dict]:
    """COCO annotations of ``regions`` on image ``image_id`` (ids from
    ``first_id``).

    ``segmentation`` ``'polygon'`` writes the region's keyhole polygon
    traced again without simplification, in COCO's pixel-corner
    coordinates, so that pycocotools gives back exactly the region's
    pixels (its rule drops a pixel whose centre a simplified polygon cuts
    off, and a polygon simplified by half a pixel cuts off most of a
    one-pixel crack); ``area`` and ``bbox`` are those pycocotools computes
    from it. ``'rle'`` writes the region's pixels exactly (compressed RLE,
    ``iscrowd`` 0), which CVAT imports as a mask. The uncertainty goes into
    ``attributes`` (CVAT reads them): ``low_confidence``,
    ``mean_confidence`` and ``mean_epistemic``.
    """
    from pycocotools import mask as mask_utils
    if segmentation not in ('polygon', 'rle'):
        raise ValueError(f"segmentation must be 'polygon' or 'rle', got "
                         f'{segmentation!r}')
    h, w = (int(v) for v in shape)
    out = []
    for r in regions:
        if segmentation == 'rle':
            rle = mask_utils.encode(np.asfortranarray(
                r['mask'].astype(np.uint8)))
            seg = dict(size=[h, w], counts=rle['counts'].decode('ascii'))
        else:
            exact = mask_polygons(r['mask'], tolerance=0)[0]['polygon']
            seg = [[round(float(v), 2) for v in (exact + 0.5).ravel()]]
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        out.append(dict(
            id=first_id + len(out), image_id=image_id,
            category_id=num_classes if r['class_id'] is None else
            r['class_id'],
            segmentation=seg, area=int(mask_utils.area(rle)),
            bbox=[round(float(v), 2) for v in mask_utils.toBbox(rle)],
            iscrowd=0,
            attributes={k: r[k] for k in (
                'low_confidence', 'mean_confidence', 'mean_epistemic')
                if k in r}))
    return out


def coco_document(images: Sequence[Dict], annotations: Sequence[Dict],
                  classes: Sequence[str], description: str = '') -> dict:
    """A COCO instances file (``images``: id, file_name, height, width)."""
    return dict(info=dict(description=description or 'SpotRust-MM '
                          'pre-annotations'),
                licenses=[], images=list(images),
                annotations=list(annotations),
                categories=coco_categories(classes))
