"""K-class data: class weights by hand, the converters' class ids, names
and palette, and the dataset that reads them."""
import json
import math

import cv2
import numpy as np
import pytest

from spotrust_mm.datasets import MulticlassDefectDataset
from spotrust_mm.datasets.conversion import (ConversionError,
                                             class_pixel_stats,
                                             class_weights, parse_value_map)

from ..test_datasets.converter_helpers import (_by_stem, _photo, _read_out,
                                               _tool, class_weight_tool, coco,
                                               labelme, mask_folder,
                                               yolo_seg)
from ..test_datasets.test_converters import _coco_fixture, _labelme_fixture

#: The condition-state palette of Bianchi and Hebdon, in RGB.
CONDITION = dict(good=(0, 0, 0), fair=(128, 0, 0), poor=(0, 128, 0),
                 severe=(128, 128, 0))
class_id_masks = _tool('dataset_converters/class_id_masks.py')
CONDITION_MAP = [f'{r},{g},{b}={i}' for i, (r, g, b) in
                 enumerate(CONDITION.values())] + ['255,255,255=ignore']


def test_class_weights_by_hand():
    a = np.array([[0, 0, 0, 1]], np.uint8)
    b = np.array([[0, 2, 2, 2]], np.uint8)
    stats = class_pixel_stats(a, 4) + class_pixel_stats(b, 4)
    # f_0 = 4 / 8, f_1 = 1 / 4, f_2 = 3 / 4, class 3 never seen
    assert class_weights(stats) == [1.0, 2.0, round(2 / 3, 4), 0.0]
    assert class_weights(stats, 'sqrt-median') == [
        1.0, round(math.sqrt(2), 4), round(math.sqrt(2 / 3), 4), 0.0]
    with pytest.raises(ValueError, match='labels beyond'):
        class_pixel_stats(np.array([[0, 5]], np.uint8), 4)


def test_value_map_class_ids():
    assert parse_value_map(['7=3', '9=ignore'], 4) == {7: 3, 9: 255}
    with pytest.raises(ConversionError, match=r'0\.\.3 or 255'):
        parse_value_map(['7=4'], 4)
    with pytest.raises(ConversionError, match='0, 1 or 255'):
        parse_value_map(['7=2'])


def make_condition_states(root, n=10, seed=0):
    """Photos of mixed sizes (some smaller than a 64 crop) with RGB
    palette masks of the four condition states and an ignored (white)
    strip; each state has its own texture, so it can be learned."""
    rng = np.random.default_rng(seed)
    img_dir, mask_dir = root / 'photos', root / 'masks'
    img_dir.mkdir(parents=True)
    mask_dir.mkdir()
    tones = np.array([[150, 150, 150], [40, 60, 160], [30, 120, 40],
                      [20, 40, 90]])
    for i in range(n):
        h, w = [(48, 60), (72, 96), (64, 80)][i % 3]
        cls = np.zeros((h, w), np.int64)
        for k in (1, 2, 3):
            y, x = rng.integers(0, h - 16), rng.integers(0, w - 16)
            cls[y:y + 16, x:x + 16] = k
        img = tones[cls] + rng.integers(-20, 20, (h, w, 3))
        cv2.imwrite(str(img_dir / f'p{i}.jpg'),
                    np.clip(img, 0, 255).astype(np.uint8))
        rgb = np.array(list(CONDITION.values()), np.uint8)[cls]
        rgb[:, :3] = 255  # ignored
        cv2.imwrite(str(mask_dir / f'p{i}.png'), rgb[..., ::-1])
    return img_dir, mask_dir


def test_condition_state_palette_converts(tmp_path):
    img_dir, mask_dir = make_condition_states(tmp_path)
    out = tmp_path / 'data'
    info = mask_folder.main([
        '--img-dir', str(img_dir), '--mask-dir', str(mask_dir), '-o',
        str(out), '--class-names', *CONDITION, '--map', *CONDITION_MAP,
        '--quiet'])
    assert info['classes'] == list(CONDITION)
    assert info['palette'] == [list(c) for c in CONDITION.values()]
    assert len(info['class_weight']) == 4
    masks = _read_out(out)
    assert set(np.unique(np.concatenate([m.ravel() for m in
                                         masks.values()]))) == {0, 1, 2, 3,
                                                                255}
    assert all((m[:, :3] == 255).all() for m in masks.values())
    weights = class_weight_tool.main([str(out)])
    assert weights == info['class_weight']
    ds = MulticlassDefectDataset(
        data_root=str(out), img_suffix='.jpg',
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadDefectAnnotations')])
    assert ds.metainfo['classes'] == tuple(CONDITION)
    assert ds[0]['gt_seg_map'].max() <= 255
    # a colour the map does not cover names the file
    bad = cv2.imread(str(mask_dir / 'p0.png'))
    bad[10, 10] = (7, 7, 7)
    cv2.imwrite(str(mask_dir / 'p0.png'), bad)
    with pytest.raises(ConversionError, match=r'p0\.png: mask values'):
        mask_folder.main([
            '--img-dir', str(img_dir), '--mask-dir', str(mask_dir), '-o',
            str(tmp_path / 'bad'), '--class-names', *CONDITION, '--map',
            *CONDITION_MAP, '--quiet'])


def test_class_id_masks_pass_through_with_a_partial_map(tmp_path):
    (tmp_path / 'i').mkdir()
    (tmp_path / 'm').mkdir()
    for i in range(4):
        _photo(tmp_path / 'i' / f'x{i}.png', h=10, w=12, seed=i)
        m = np.full((10, 12), i % 3, np.uint8)
        m[0] = 11
        cv2.imwrite(str(tmp_path / 'm' / f'x{i}.png'), m)
    info = mask_folder.main(['--img-dir', str(tmp_path / 'i'), '--mask-dir',
                             str(tmp_path / 'm'), '-o', str(tmp_path / 'o'),
                             '--class-names', '3', '--map', '11=ignore',
                             '--quiet'])
    assert info['classes'] == ['class_0', 'class_1', 'class_2']
    got = _by_stem(_read_out(tmp_path / 'o'))
    assert (got['x2'][1:] == 2).all() and (got['x2'][0] == 255).all()
    with pytest.raises(ConversionError, match=r'mask values \[11\]'):
        mask_folder.main(['--img-dir', str(tmp_path / 'i'), '--mask-dir',
                          str(tmp_path / 'm'), '-o', str(tmp_path / 'o2'),
                          '--class-names', '3', '--quiet'])


def test_coco_labelme_yolo_to_class_ids(tmp_path):
    path, _, hole = _coco_fixture(tmp_path)
    info = coco.main([str(path), '-o', str(tmp_path / 'c'), '--class-names',
                      'background', 'paint', 'rust', '--quiet'])
    got = _by_stem(_read_out(tmp_path / 'c'))
    assert got['b'][0, 1] == 1 and (got['b'][hole == 1] == 2).all()
    assert info['classes'] == ['background', 'paint', 'rust']
    assert info['unmapped_categories'] == []
    d = _labelme_fixture(tmp_path)
    labelme.main([str(d), '-o', str(tmp_path / 'l'), '--class-names',
                  'background', 'weld', 'rust', '--quiet'])
    x = _by_stem(_read_out(tmp_path / 'l'))['x']
    assert x[5, 5] == 2 and x[31, 6] == 1 and x[39, 39] == 0
    imgs, labels = tmp_path / 'yi', tmp_path / 'yl'
    imgs.mkdir()
    labels.mkdir()
    _photo(imgs / 'a.jpg', h=20, w=40)
    (labels / 'a.txt').write_text('0 0.1 0.1 0.4 0.1 0.4 0.6 0.1 0.6\n'
                                  '1 0.6 0.1 0.9 0.1 0.9 0.9\n')
    yolo_seg.main(['--img-dir', str(imgs), '--label-dir', str(labels), '-o',
                   str(tmp_path / 'y'), '--split', '1', '0', '0',
                   '--class-names', 'background', 'rust', 'blister',
                   '--quiet'])
    a = _by_stem(_read_out(tmp_path / 'y'))['a']
    assert a[5, 5] == 1 and a[5, 34] == 2 and a[19, 20] == 0
    with pytest.raises(ConversionError, match=r'a\.txt:2: YOLO class 1'):
        yolo_seg.main(['--img-dir', str(imgs), '--label-dir', str(labels),
                       '-o', str(tmp_path / 'y2'), '--class-names',
                       'background', 'rust', '--quiet'])


def test_dataset_reads_names_from_config_or_info(tmp_path):
    img_dir, mask_dir = make_condition_states(tmp_path, n=4)
    out = tmp_path / 'data'
    mask_folder.main(['--img-dir', str(img_dir), '--mask-dir', str(mask_dir),
                      '-o', str(out), '--class-names', *CONDITION, '--map',
                      *CONDITION_MAP, '--split', '1', '0', '0', '--quiet'])
    kw = dict(data_root=str(out), img_suffix='.jpg', pipeline=[],
              data_prefix=dict(img_path='img_dir/train',
                               seg_map_path='ann_dir/train'))
    named = MulticlassDefectDataset(
        metainfo=dict(classes=('a', 'b', 'c', 'd')), **kw)
    assert named.metainfo['classes'] == ('a', 'b', 'c', 'd')
    assert len(named.metainfo['palette']) == 4
    assert named.get_data_info(0)['num_classes'] == 4
    info = json.loads((out / 'dataset_info.json').read_text())
    info.pop('class_pixel_fraction')
    (out / 'dataset_info.json').write_text(json.dumps(info))
    with pytest.raises(ValueError, match='names no K classes'):
        MulticlassDefectDataset(**kw)


def test_class_id_mask_tree_keeps_folder_splits_and_finds_k(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (('train', 3), ('valid', 1), ('test', 1)):
        for sub in ('images', 'masks'):
            (tmp_path / 'ds' / split / sub).mkdir(parents=True)
        for i in range(n):
            h, w = (30, 40) if i % 2 else (24, 50)
            _photo(tmp_path / 'ds' / split / 'images' / f'{split}{i}.jpg',
                   h=h, w=w, seed=i)
            m = rng.integers(0, 3, (h, w)).astype(np.uint8)
            m[0] = 255
            m[1, 1] = 4 if split == 'test' else m[1, 1]
            cv2.imwrite(str(tmp_path / 'ds' / split / 'masks' /
                            f'{split}{i}.png'), m)
    _photo(tmp_path / 'ds' / 'train' / 'images' / 'lonely.jpg')
    with pytest.raises(ConversionError, match='lonely.jpg'):
        class_id_masks.main([str(tmp_path / 'ds'), '-o',
                             str(tmp_path / 'o'), '--quiet'])
    info = class_id_masks.main([str(tmp_path / 'ds'), '-o',
                                str(tmp_path / 'o'), '--skip-unpaired',
                                '--quiet'])
    assert info['classes'] == [f'class_{i}' for i in range(5)]
    assert info['splits'] == dict(train=3, val=1, test=1)
    assert info['skipped'] == ['train/images/lonely.jpg']
    # PNG photos with <stem>_mask.png masks, in one folder
    flat = tmp_path / 'flat'
    flat.mkdir()
    for i in range(4):
        _photo(flat / f'x{i}.png', h=10, w=12, seed=i)
        cv2.imwrite(str(flat / f'x{i}_mask.png'),
                    np.full((10, 12), i % 2, np.uint8))
    info = class_id_masks.main([str(flat), '-o', str(tmp_path / 'f'),
                                '--class-names', 'bg', 'rust', '--quiet'])
    assert sum(info['splits'].values()) == 4
