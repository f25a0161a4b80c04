import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from spotrust_mm.datasets import (ensure_synthetic_dataset,
                                  generate_synthetic_dataset,
                                  labels_from_mask, read_label_mask,
                                  render_image)


def test_label_formats_are_read_as_stated_never_guessed():
    m01 = np.array([[0, 1], [1, 0]], np.uint8)
    assert np.array_equal(labels_from_mask(m01, 'a.png'), m01)
    ign = np.array([[0, 1], [255, 0]], np.uint8)
    assert np.array_equal(labels_from_mask(ign, 'a.png'), ign)
    # background and an ignored region, no defect: stays ignored (it was
    # read as defect when 0/255 masks were guessed per file)
    only_ignored = np.array([[0, 255], [255, 0]], np.uint8)
    assert np.array_equal(labels_from_mask(only_ignored, 'a.png'),
                          only_ignored)
    # a raw 0/255 mask is read as such only when declared
    assert np.array_equal(
        labels_from_mask(m01 * 255, 'a.png', label_format='0/255'), m01)
    with pytest.raises(ValueError, match=r"b\.png: mask values \[1\] are "
                       r"not 0 or 255 \(label format '0/255'"):
        labels_from_mask(m01, 'b.png', label_format='0/255')
    with pytest.raises(ValueError, match=r'bad\.png: mask values \[2, 7\]'):
        labels_from_mask(np.array([[0, 2, 7]], np.uint8), 'bad.png')
    assert labels_from_mask(np.array([[0, 2]], np.uint8), 'k.png',
                            num_classes=3).tolist() == [[0, 2]]
    rgb = np.stack([m01] * 3, -1)
    assert np.array_equal(labels_from_mask(rgb, 'a.png'), m01)
    rgb[0, 0, 1] = 1
    with pytest.raises(ValueError, match='a.png: mask has 3 channels'):
        labels_from_mask(rgb, 'a.png')
    with pytest.raises(ValueError, match='label_format must be one of'):
        labels_from_mask(m01, 'a.png', label_format='guess')


def test_jpeg_masks_are_snapped_as_0_255_and_refused_as_labels(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 255
    path = str(tmp_path / 'm.jpg')
    cv2.imwrite(path, mask, [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert len(np.unique(cv2.imread(path, 0))) > 2  # compression noise
    labels = read_label_mask(path, '0/255')
    assert labels[4:12, 4:12].all() and labels.sum() == 64
    with pytest.raises(ValueError, match=r'm\.jpg: a JPEG mask cannot'):
        read_label_mask(path, 'labels')


def test_synthetic_images_are_seeded_and_non_trivial():
    a_img, a_mask = render_image(np.random.default_rng(3), 64)
    b_img, b_mask = render_image(np.random.default_rng(3), 64)
    assert np.array_equal(a_img, b_img) and np.array_equal(a_mask, b_mask)
    masks = [render_image(np.random.default_rng(i), 64)[1] for i in range(8)]
    frac = np.mean([m.mean() for m in masks])
    assert 0.02 < frac < 0.5  # corrosion present but not everywhere
    ood, ood_mask = render_image(np.random.default_rng(0), 64, 'ood')
    assert ood.shape == (64, 64, 3) and ood_mask.max() == 0


def _write_set(root, masks):
    for sub in ('img_dir/train', 'ann_dir/train'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for i, mask in enumerate(masks):
        cv2.imwrite(osp.join(root, 'img_dir/train', f'{i}.png'),
                    np.zeros(mask.shape + (3, ), np.uint8))
        cv2.imwrite(osp.join(root, 'ann_dir/train', f'{i}.png'), mask)


def _dataset(root, **kw):
    return DATASETS.build(
        dict(
            type='CorrosionDataset',
            data_root=str(root),
            data_prefix=dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadDefectAnnotations'),
                dict(type='PackSegInputs')
            ],
            **kw))


def test_dataset_reads_0_255_masks_only_when_declared(tmp_path):
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 255
    _write_set(tmp_path, [mask])
    ds = _dataset(tmp_path)  # converted labels: 255 is ignored
    assert ds.metainfo['classes'] == ('background', 'corrosion')
    gt = ds[0]['data_samples'].gt_sem_seg.data
    assert gt.unique().tolist() == [0, 255] and int((gt == 1).sum()) == 0
    raw = DATASETS.build(dict(
        type='CorrosionDataset', data_root=str(tmp_path),
        label_format='0/255',
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadDefectAnnotations', label_format='0/255'),
                  dict(type='PackSegInputs')]))
    gt = raw[0]['data_samples'].gt_sem_seg.data
    assert gt.unique().tolist() == [0, 1] and int(gt.sum()) == 9


def test_converted_defect_free_mask_with_ignored_region_has_no_defect(
        tmp_path):
    """The held-out case: mask_folder.py --map 0=0 255=1 128=ignore on a
    photo without defect but with an ignored region writes {0, 255}; the
    dataset, the KL normaliser's count and class_weight.py must all see
    background and ignored pixels, no defect."""
    import importlib.util
    from spotrust_mm.engine.hooks import count_label_pixels
    photos, masks = tmp_path / 'photos', tmp_path / 'masks'
    photos.mkdir()
    masks.mkdir()
    for name, value in (('clean', 0), ('rusty', 255)):
        cv2.imwrite(str(photos / f'{name}.jpg'),
                    np.full((12, 10, 3), 90, np.uint8))
        m = np.zeros((12, 10), np.uint8)
        m[:, :4] = 128  # ignored region
        m[6:, 6:] = value
        cv2.imwrite(str(masks / f'{name}.png'), m)
    spec = importlib.util.spec_from_file_location(
        'mask_folder', osp.join(osp.dirname(osp.dirname(osp.dirname(
            osp.abspath(__file__)))), 'tools/dataset_converters/'
            'mask_folder.py'))
    mask_folder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mask_folder)
    out = tmp_path / 'out'
    info = mask_folder.main([
        '--img-dir', str(photos), '--mask-dir', str(masks), '-o', str(out),
        '--map', '0=0', '255=1', '128=ignore', '--split-file',
        str(_split_file(tmp_path)), '--quiet'])
    assert info["pixels"]["train"] == dict(background=120, defect=24,
                                           ignored=96)
    ds = DATASETS.build(dict(
        type='CorrosionDataset', data_root=str(out),
        img_suffix=['.jpg'],
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadDefectAnnotations'),
                  dict(type='PackSegInputs')]))
    clean = [i for i in range(len(ds))
             if 'clean' in ds.get_data_info(i)['img_path']][0]
    gt = ds[clean]['data_samples'].gt_sem_seg.data
    assert int((gt == 1).sum()) == 0 and int((gt == 255).sum()) == 48
    assert count_label_pixels(ds) == 120 + 24


def _split_file(tmp_path):
    path = tmp_path / 'split.txt'
    path.write_text('train clean\ntrain rusty\n')
    return path


def test_dataset_rejects_bad_mask_naming_the_file(tmp_path):
    _write_set(tmp_path, [np.zeros((8, 8), np.uint8), np.full((8, 8), 3,
                                                                np.uint8)])
    with pytest.raises(ValueError, match=r'ann_dir/train/1\.png: mask values'):
        _dataset(tmp_path)


def test_dataset_missing_mask_and_empty_folder(tmp_path):
    _write_set(tmp_path, [np.zeros((8, 8), np.uint8)])
    os.remove(osp.join(tmp_path, 'ann_dir/train/0.png'))
    with pytest.raises(FileNotFoundError, match='0.png: its mask'):
        _dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match='image folder does not'):
        _dataset(tmp_path / 'nowhere')


def test_ensure_synthetic_generates_once_and_never_overwrites(tmp_path):
    root = str(tmp_path / 'syn')
    args = dict(num_images=dict(train=2, val=1), size=32, seed=1)
    assert ensure_synthetic_dataset(root, **args) is True
    first = cv2.imread(osp.join(root, 'img_dir/train/0000.png'))
    assert ensure_synthetic_dataset(root, **args) is False
    with pytest.raises(FileExistsError, match='made with'):
        ensure_synthetic_dataset(root, **dict(args, seed=2))
    assert np.array_equal(
        cv2.imread(osp.join(root, 'img_dir/train/0000.png')), first)
    other = tmp_path / 'user_data'
    other.mkdir()
    (other / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not a SpotRust synthetic'):
        ensure_synthetic_dataset(str(other), **args)
    assert (other / 'keep.txt').read_text() == 'mine'
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []


def test_generated_layout_is_readable_by_the_dataset(tmp_path):
    generate_synthetic_dataset(str(tmp_path), dict(train=3), size=32)
    assert len(_dataset(tmp_path)) == 3


def test_dataset_with_several_image_suffixes(tmp_path):
    """Converted photos keep their own formats: a list of suffixes reads
    them all (any case), each with its .png mask."""
    for split in ('img_dir/train', 'ann_dir/train'):
        os.makedirs(tmp_path / split)
    for name in ('a.jpg', 'b.PNG', 'c.tif', 'notes.txt'):
        path = str(tmp_path / 'img_dir/train' / name)
        if name.endswith('.txt'):
            open(path, 'w').close()
            continue
        assert cv2.imwrite(path, np.zeros((8, 8, 3), np.uint8))
        cv2.imwrite(str(tmp_path / 'ann_dir/train' / (name[0] + '.png')),
                    np.zeros((8, 8), np.uint8))
    ds = DATASETS.build(
        dict(type='CrackDataset', data_root=str(tmp_path),
             img_suffix=['.jpg', '.png', '.tif'],
             data_prefix=dict(img_path='img_dir/train',
                              seg_map_path='ann_dir/train'),
             pipeline=[]))
    names = [osp.basename(ds.get_data_info(i)['img_path'])
             for i in range(len(ds))]
    assert names == ['a.jpg', 'b.PNG', 'c.tif']
    assert osp.basename(ds.get_data_info(1)['seg_map_path']) == 'b.png'
    assert ds.metainfo['classes'] == ('background', 'crack')


def test_mask_size_is_checked_against_the_loaded_image(tmp_path):
    """mmseg test pipelines resize before loading the annotations: the mask
    must match the image as loaded, not as resized."""
    from mmengine.dataset import Compose
    img, mask = str(tmp_path / 'i.png'), str(tmp_path / 'm.png')
    cv2.imwrite(img, np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(mask, np.zeros((20, 30), np.uint8))
    pipeline = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(60, 40), keep_ratio=True),
        dict(type='LoadDefectAnnotations')
    ])
    out = pipeline(dict(img_path=img, seg_map_path=mask, seg_fields=[],
                        reduce_zero_label=False))
    assert out['img'].shape[:2] == (40, 60)
    assert out['gt_seg_map'].shape == (20, 30)
    cv2.imwrite(mask, np.zeros((20, 31), np.uint8))
    with pytest.raises(ValueError, match=r'm\.png: mask size \(20, 31\) '
                       r'differs from image .*i\.png size \(20, 30\)'):
        pipeline(dict(img_path=img, seg_map_path=mask, seg_fields=[],
                      reduce_zero_label=False))
