"""The COCO, LabelMe, YOLO and CrackForest converters and the class
weight tool, on fixtures made here, with every bad-input case."""
import json
import os

import numpy as np
import pytest

from spotrust_mm.datasets.conversion import ConversionError

from .converter_helpers import (_by_stem, _photo, _read_out, _rle_to_string,
                                class_weight_tool, coco, crackforest,
                                labelme, make_crackforest, yolo_seg)


# ----------------------------------------------------------------- coco.py
def _coco_fixture(tmp_path):
    d = tmp_path / 'coco'
    d.mkdir()
    for name in ('a.jpg', 'b.jpg', 'c.jpg'):
        _photo(d / name, h=20, w=30)
    hole = np.zeros((20, 30), np.uint8)
    hole[2:12, 2:12] = 1
    hole[5:8, 5:8] = 0  # a hole, through RLE
    flat = hole.T.ravel()
    runs, cur, n = [], 0, 0
    for v in flat:
        if v == cur:
            n += 1
        else:
            runs.append(n)
            cur, n = v, 1
    runs.append(n)
    anns = [
        dict(id=1, image_id=1, category_id=1, iscrowd=0,
             segmentation=[[20, 2, 28, 2, 28, 10, 20, 10]]),
        dict(id=2, image_id=1, category_id=1, iscrowd=0,  # overlaps id 1
             segmentation=[[24, 6, 29, 6, 29, 14, 24, 14]]),
        dict(id=3, image_id=1, category_id=1, iscrowd=1,
             segmentation=dict(size=[20, 30],
                               counts=_rle_to_string(runs))),
        dict(id=4, image_id=2, category_id=2, iscrowd=0,  # not a defect
             segmentation=[[0, 0, 10, 0, 10, 10]]),
        dict(id=5, image_id=2, category_id=1, iscrowd=0,
             segmentation=dict(size=[20, 30], counts=runs)),
    ]
    doc = dict(
        images=[dict(id=i + 1, file_name=n, height=20, width=30)
                for i, n in enumerate(('a.jpg', 'b.jpg', 'c.jpg'))],
        annotations=anns,
        categories=[dict(id=1, name='rust'), dict(id=2, name='paint')])
    path = d / '_annotations.coco.json'
    path.write_text(json.dumps(doc))
    return path, doc, hole


def test_coco_polygons_rle_holes_overlaps_and_empty(tmp_path):
    path, _, hole = _coco_fixture(tmp_path)
    out = tmp_path / 'out'
    coco.main([str(path), '-o', str(out), '--categories', 'rust',
               '--quiet'])
    got = _by_stem(_read_out(out))
    a = got['a']
    assert (a[2:12, 2:12] == hole[2:12, 2:12]).all()
    assert a[6, 6] == 0  # the hole stays background
    assert a[3, 22] == 1 and a[12, 26] == 1  # union of overlapping parts
    assert (got['b'] == hole).all()  # 'paint' left out
    assert got['c'].sum() == 0  # no annotation: empty mask


@pytest.mark.parametrize('case', ['outside', 'missing_image', 'size',
                                  'category', 'not_json'])
def test_coco_bad_input(tmp_path, case):
    path, doc, _ = _coco_fixture(tmp_path)
    if case == 'outside':
        doc['annotations'][0]['segmentation'] = [[0, 0, 50, 0, 50, 5]]
        expect = r'annotation 1, .*a\.jpg.*outside the 30x20 image'
    elif case == 'missing_image':
        os.remove(path.parent / 'c.jpg')
        expect = 'c.jpg'
    elif case == 'size':
        doc['images'][1]['height'] = 40
        expect = r'b\.jpg: the image is 30x20 but .* says 30x40'
    elif case == 'category':
        expect = r"no categories \['steel'\]"
    path.write_text('{broken' if case == 'not_json' else json.dumps(doc))
    if case == 'not_json':
        expect = 'not valid JSON'
    argv = [str(path), '-o', str(tmp_path / 'out'), '--quiet']
    if case == 'category':
        argv += ['--categories', 'steel']
    with pytest.raises(ConversionError, match=expect):
        coco.main(argv)
    assert not (tmp_path / 'out').exists()
    if case == 'missing_image':
        info = coco.main(argv + ['--skip-unpaired'])
        assert info['skipped'] == ['c.jpg']


# -------------------------------------------------------------- labelme.py
def _labelme_fixture(tmp_path):
    d = tmp_path / 'lm'
    d.mkdir()
    _photo(d / 'x.jpg', h=40, w=40)
    _photo(d / 'y.png', h=40, w=40)
    shapes = [
        dict(label='rust', shape_type='polygon',
             points=[[2, 2], [10, 2], [10, 10], [2, 10]]),
        dict(label='rust', shape_type='rectangle', points=[[20, 20],
                                                            [30, 25]]),
        dict(label='rust', shape_type='circle', points=[[30, 8], [34, 8]]),
        dict(label='rust', shape_type='line', points=[[0, 39], [39, 39]]),
        dict(label='weld', shape_type='polygon',
             points=[[2, 30], [8, 30], [8, 36]]),
    ]
    (d / 'x.json').write_text(json.dumps(dict(
        imagePath='x.jpg', imageHeight=40, imageWidth=40, shapes=shapes)))
    (d / 'y.json').write_text(json.dumps(dict(
        imagePath=None, imageHeight=40, imageWidth=40, shapes=[])))
    return d


def test_labelme_shapes_and_labels(tmp_path):
    d = _labelme_fixture(tmp_path)
    info = labelme.main([str(d), '-o', str(tmp_path / 'o'), '--labels',
                         'rust', '--quiet'])
    got = _by_stem(_read_out(tmp_path / 'o'))
    x = got['x']
    assert x[2:11, 2:11].all() and x[20:26, 20:31].all()
    assert x[8, 30] == 1 and x[8, 35] == 0  # circle of radius 4
    assert x[39].sum() == 0  # line: no area
    assert x[33, 4] == 0  # 'weld' left out
    assert got['y'].sum() == 0
    assert info['skipped_shapes'] == 1
    with pytest.raises(ConversionError, match=r"no shape has the labels"):
        labelme.main([str(d), '-o', str(tmp_path / 'o2'), '--labels',
                      'crack', '--quiet'])


def test_labelme_leaves_out_the_uncertain_marks(tmp_path):
    """Pre-annotations mark unsure regions with the label 'uncertain'
    (tools/select_for_labelling.py): not a defect unless asked."""
    d = tmp_path / 'lm'
    d.mkdir()
    _photo(d / 'x.jpg', h=40, w=40)
    (d / 'x.json').write_text(json.dumps(dict(
        imagePath='x.jpg', imageHeight=40, imageWidth=40, shapes=[
            dict(label='rust', shape_type='polygon',
                 points=[[2, 2], [10, 2], [10, 10], [2, 10]]),
            dict(label='uncertain', shape_type='polygon',
                 points=[[20, 20], [30, 20], [30, 30]],
                 flags=dict(low_confidence=True))])))
    info = labelme.main([str(d), '-o', str(tmp_path / 'o'), '--quiet'])
    x = _by_stem(_read_out(tmp_path / 'o'))['x']
    assert x[2:11, 2:11].all() and x.sum() == 81
    assert info['skipped_shapes'] == 1
    labelme.main([str(d), '-o', str(tmp_path / 'o2'), '--quiet',
                  '--skip-labels'])
    assert _by_stem(_read_out(tmp_path / 'o2'))['x'][25, 28] == 1


def test_labelme_bad_input(tmp_path):
    d = _labelme_fixture(tmp_path)
    doc = json.loads((d / 'x.json').read_text())
    doc['shapes'][0]['points'] = [[2, 2], [90, 2], [10, 10]]
    (d / 'x.json').write_text(json.dumps(doc))
    with pytest.raises(ConversionError, match=r'x\.json: polygon outside'):
        labelme.main([str(d), '-o', str(tmp_path / 'o'), '--quiet'])
    os.remove(d / 'y.png')
    with pytest.raises(ConversionError, match=r'y\.json'):
        labelme.main([str(d), '-o', str(tmp_path / 'o'), '--quiet'])
    assert not (tmp_path / 'o').exists()


# ------------------------------------------------------------- yolo_seg.py
def test_yolo_seg_classes_and_bad_input(tmp_path):
    imgs, labels = tmp_path / 'images', tmp_path / 'labels'
    imgs.mkdir()
    labels.mkdir()
    _photo(imgs / 'a.jpg', h=20, w=40)
    _photo(imgs / 'b.jpg', h=20, w=40)
    (labels / 'a.txt').write_text(
        '0 0.1 0.1 0.4 0.1 0.4 0.6 0.1 0.6\n'
        '3 0.6 0.1 0.9 0.1 0.9 0.9\n')
    (labels / 'b.txt').write_text('')  # background image
    out = tmp_path / 'o'
    yolo_seg.main(['--img-dir', str(imgs), '--label-dir', str(labels), '-o',
                   str(out), '--classes', '0', '--quiet'])
    got = _by_stem(_read_out(out))
    assert got['a'][2:12, 4:16].all() and got['a'][:, 24:].sum() == 0
    assert got['b'].sum() == 0
    (labels / 'b.txt').write_text('0 0.1 0.2 0.3\n')
    with pytest.raises(ConversionError, match=r'b\.txt:1: .*even number'):
        yolo_seg.main(['--img-dir', str(imgs), '--label-dir', str(labels),
                       '-o', str(tmp_path / 'o2'), '--quiet'])
    (labels / 'b.txt').write_text('0 0.1 0.1 1.5 0.1 0.5 0.5\n')
    with pytest.raises(ConversionError, match=r'b\.txt:1: polygon outside'):
        yolo_seg.main(['--img-dir', str(imgs), '--label-dir', str(labels),
                       '-o', str(tmp_path / 'o2'), '--quiet'])
    os.remove(labels / 'b.txt')
    with pytest.raises(ConversionError, match='b.jpg'):
        yolo_seg.main(['--img-dir', str(imgs), '--label-dir', str(labels),
                       '-o', str(tmp_path / 'o2'), '--quiet'])
    assert not (tmp_path / 'o2').exists()


# ----------------------------------------------------------- crackforest.py


def test_crackforest_converter(tmp_path):
    root = make_crackforest(tmp_path / 'cf')
    out = tmp_path / 'out'
    info = crackforest.main([str(root), '-o', str(out), '--quiet'])
    assert sum(info['splits'].values()) == 8
    assert info['unlabelled'] == ['009', '010']
    masks = _read_out(out)
    assert len(masks) == 8
    for m in masks.values():
        assert set(np.unique(m)) == {0, 1}
        assert m.sum() == (48 - 8) + 10  # labels 2 and 4; 3 is background
    assert info['classes'] == ['background', 'crack']
    with pytest.raises(ConversionError, match='not empty'):
        crackforest.main([str(root), '-o', str(out), '--quiet'])
    (root / 'groundTruth' / '003.mat').write_bytes(b'garbage')
    with pytest.raises(ConversionError, match=r'003\.mat: not a readable'):
        crackforest.main([str(root), '-o', str(tmp_path / 'o2'),
                          '--quiet'])


def test_class_weight_tool(tmp_path, capsys):
    root = make_crackforest(tmp_path / 'cf')
    out = tmp_path / 'out'
    info = crackforest.main([str(root), '-o', str(out), '--quiet'])
    weight = class_weight_tool.main([str(out)])
    assert weight == pytest.approx(info['class_weight'][1], abs=1e-3)
    n = info['splits']['train']
    assert weight == pytest.approx(np.sqrt((n * 48 * 32 - n * 50) /
                                           (n * 50)), abs=1e-6)
    assert 'sqrt(background / defect)' in capsys.readouterr().out


def _roboflow_export(root, sources=12, copies=3, splits=('train', )):
    """A Roboflow-style YOLOv8 export: ``copies`` augmented copies of each
    source photo (``img<i>_jpg.rf.<hash>.jpg``), overlapping polygons, a
    data.yaml with the class names; photos spread over ``splits``."""
    rng = np.random.default_rng(0)
    for split in splits:
        (root / split / 'images').mkdir(parents=True)
        (root / split / 'labels').mkdir(parents=True)
    (root / 'data.yaml').write_text(
        "train: ../train/images\nval: ../valid/images\nnc: 1\n"
        "names: ['Corrosion']\n")
    for i in range(sources):
        split = splits[i % len(splits)]
        for c in range(copies):
            stem = f'img{i}_jpg.rf.{rng.integers(1 << 40):x}'
            _photo(root / split / 'images' / f'{stem}.jpg', seed=i * 10 + c)
            # two overlapping squares: their union is the corrosion
            (root / split / 'labels' / f'{stem}.txt').write_text(
                '0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n'
                '0 0.3 0.3 0.7 0.3 0.7 0.7 0.3 0.7\n')
    return root


def test_roboflow_copies_of_a_photo_stay_in_one_split(tmp_path):
    root = _roboflow_export(tmp_path / 'export')
    out = tmp_path / 'out'
    info = yolo_seg.main(['--img-dir', str(root / 'train' / 'images'),
                          '--label-dir', str(root / 'train' / 'labels'),
                          '-o', str(out), '--quiet', '--seed', '3'])
    assert info['defect_name'] == 'Corrosion'
    assert info['source_photos'] == 12 and info['num_masks'] == 36
    where = {}
    for split, stems in info['stems'].items():
        for stem in stems:
            source = stem.split('.rf.')[0]
            assert where.setdefault(source, split) == split, source
    assert sorted(len(v) % 3 for v in info['stems'].values()) == [0, 0, 0]
    # overlapping polygons: the union, once
    mask = next(iter(_read_out(out).values()))
    assert set(np.unique(mask)) == {0, 1}
    # the union of two 0.4-wide squares overlapping by 0.2
    assert mask.sum() == pytest.approx(24 * 32 * (2 * 0.16 - 0.04), rel=0.2)


def test_export_splits_are_kept_and_leaks_refused(tmp_path):
    root = _roboflow_export(tmp_path / 'export', sources=9, copies=2,
                            splits=('train', 'valid', 'test'))
    info = yolo_seg.main(['--export-root', str(root), '-o',
                          str(tmp_path / 'out'), '--quiet'])
    for split, folder in (('train', 'train'), ('val', 'valid'),
                          ('test', 'test')):
        want = sorted(p.stem for p in (root / folder / 'images').iterdir())
        assert info['stems'][split] == want, split
    # a copy of a training photo in the test folder: refused, named
    leak = next((root / 'train' / 'images').iterdir())
    stem = leak.stem.split('.rf.')[0] + '.rf.feedbeef'
    _photo(root / 'test' / 'images' / f'{stem}.jpg')
    (root / 'test' / 'labels' / f'{stem}.txt').write_text('')
    with pytest.raises(ConversionError, match=leak.stem.split('.rf.')[0] +
                       r".* both train and test.*--resplit"):
        yolo_seg.main(['--export-root', str(root), '-o',
                       str(tmp_path / 'out2'), '--quiet'])
    info = yolo_seg.main(['--export-root', str(root), '-o',
                          str(tmp_path / 'out2'), '--quiet', '--resplit'])
    homes = {s.split('.rf.')[0]: k for k, v in info['stems'].items()
             for s in v if s.startswith(stem.split('.rf.')[0])}
    assert len(homes) == 1


def test_data_yaml_names_give_the_classes(tmp_path):
    root = _roboflow_export(tmp_path / 'export', sources=4, copies=1)
    (root / 'data.yaml').write_text("nc: 2\nnames: ['rust', 'paint']\n")
    for label in (root / 'train' / 'labels').iterdir():
        label.write_text('0 0.1 0.1 0.5 0.1 0.5 0.5\n'
                         '1 0.6 0.6 0.9 0.6 0.9 0.9\n')
    info = yolo_seg.main(['--export-root', str(root), '-o',
                          str(tmp_path / 'out'), '--quiet', '--split',
                          '1', '0', '0'])
    assert info['classes'] == ['background', 'rust', 'paint']
    assert set(np.unique(next(iter(_read_out(tmp_path / 'out').values()))
                         )) == {0, 1, 2}
    # --classes unions the chosen ids as one binary defect
    info = yolo_seg.main(['--export-root', str(root), '-o',
                          str(tmp_path / 'bin'), '--quiet', '--split',
                          '1', '0', '0', '--classes', '0'])
    assert info['defect_name'] == 'rust' and 'palette' not in info
    (root / 'data.yaml').write_text("nc: 3\nnames: ['rust', 'paint']\n")
    with pytest.raises(ConversionError, match='nc is 3'):
        yolo_seg.main(['--export-root', str(root), '-o',
                       str(tmp_path / 'bad'), '--quiet'])
