"""Fixtures shared by the converter tests: the converter scripts as
modules, photos, reading a converted folder, a CrackForest-format folder
(nothing from ../shared)."""
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np

from ..conftest import REPO


def _tool(name):
    path = osp.join(REPO, 'tools', name)
    spec = importlib.util.spec_from_file_location(
        name.replace('/', '_')[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mask_folder = _tool('dataset_converters/mask_folder.py')
coco = _tool('dataset_converters/coco.py')
labelme = _tool('dataset_converters/labelme.py')
yolo_seg = _tool('dataset_converters/yolo_seg.py')
crackforest = _tool('dataset_converters/crackforest.py')
class_weight_tool = _tool('analysis_tools/class_weight.py')


def _photo(path, h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 200, (h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return str(path)


def _read_out(out):
    """{split/stem: mask} of a converted folder."""
    masks = {}
    for split in ('train', 'val', 'test'):
        folder = osp.join(out, 'ann_dir', split)
        for name in sorted(os.listdir(folder)):
            masks[f'{split}/{name[:-4]}'] = cv2.imread(
                osp.join(folder, name), cv2.IMREAD_UNCHANGED)
    return masks


def _by_stem(masks):
    return {k.split('/')[1]: v for k, v in masks.items()}


def _no_leftovers(parent):
    return not [n for n in os.listdir(parent) if '.tmp-' in n or '.old-' in n]



def _rle_to_string(counts):
    """pycocotools' rleToString, to make test strings."""
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1f
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return ''.join(out)



def make_crackforest(root, n_labelled=8, n_unlabelled=2, h=32, w=48):
    """A CrackForest-format folder: image/NNN.jpg, groundTruth/NNN.mat."""
    from scipy.io import savemat
    (root / 'image').mkdir(parents=True)
    (root / 'groundTruth').mkdir()
    for i in range(1, n_labelled + n_unlabelled + 1):
        img = _photo(root / 'image' / f'{i:03d}.jpg', h=h, w=w, seed=i)
        if i > n_labelled:
            continue
        seg = np.ones((h, w), np.uint8)
        seg[h // 2, 4:w - 4] = 2  # a crack
        seg[2:6, 2:6] = 3  # an enclosed patch: background
        seg[h - 3, 10:20] = 4  # another crack label
        gt = np.zeros((1, 1), dtype=[('Segmentation', 'O'),
                                     ('Boundaries', 'O')])
        gt[0, 0]['Segmentation'] = seg
        gt[0, 0]['Boundaries'] = (seg != 1).astype(np.uint8)
        savemat(str(root / 'groundTruth' / f'{i:03d}.mat'),
                dict(groundTruth=gt))
        assert osp.isfile(img)
    return root
