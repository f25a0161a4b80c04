"""Dataset converters: the shared maths by hand, each converter script on
fixtures made here (nothing from ../shared), and every bad-input case."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from spotrust_mm.datasets.conversion import (ConversionError,
                                             apply_value_map, decode_rle,
                                             defect_class_weight,
                                             parse_value_map,
                                             rasterise_polygons,
                                             read_split_file,
                                             rle_string_counts,
                                             split_stems)

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


# ------------------------------------------------------------- the maths
def test_split_sizes_by_largest_remainder_and_seed():
    stems = [f'{i:03d}' for i in range(118)]
    split = split_stems(stems, (0.7, 0.15, 0.15), seed=0)
    # 82.6, 17.7, 17.7 -> floors 82, 17, 17; the two .7 remainders get +1
    assert [len(split[k]) for k in ('train', 'val', 'test')] == [82, 18, 18]
    assert sorted(sum(split.values(), [])) == stems
    assert split == split_stems(list(reversed(stems)), seed=0)
    assert split != split_stems(stems, seed=1)
    # a wanted split is never left empty
    small = split_stems(['a', 'b', 'c'], (0.9, 0.05, 0.05))
    assert all(len(v) == 1 for v in small.values())
    with pytest.raises(ConversionError, match='sum to 1'):
        split_stems(stems, (0.5, 0.2, 0.2))


def test_split_file_text_and_json(tmp_path):
    txt = tmp_path / 's.txt'
    txt.write_text('# comment\ntrain a\ntrain b\nval c\ntest d\n')
    assert read_split_file(str(txt)) == dict(
        train=['a', 'b'], val=['c'], test=['d'])
    js = tmp_path / 's.json'
    js.write_text(json.dumps(dict(train=['b', 'a'], val=['c'])))
    assert read_split_file(str(js))['train'] == ['a', 'b']
    txt.write_text('train a\nval a\n')
    with pytest.raises(ConversionError, match='both train and val'):
        read_split_file(str(txt))
    txt.write_text('holdout a\n')
    with pytest.raises(ConversionError, match=r's.txt:1'):
        read_split_file(str(txt))


def test_class_weight_formula():
    assert defect_class_weight(900, 100) == pytest.approx(3.0)
    assert defect_class_weight(9801, 199) == pytest.approx(7.01793, abs=1e-5)
    assert defect_class_weight(100, 0) == 1.0


def test_value_map_parse_apply_and_snap():
    assert parse_value_map(['0=0', '255=1', '128=ignore']) == {
        0: 0, 255: 1, 128: 255}
    rgb = parse_value_map(['0,0,0=0', '255,0,0=1'])
    assert rgb == {(0, 0, 0): 0, (255, 0, 0): 1}
    for bad in (['0:1'], ['0=2'], ['1,2=1'], ['0=0', '0,0,0=1'], ['a=1']):
        with pytest.raises(ConversionError):
            parse_value_map(bad)
    values = np.array([[0, 255], [250, 3]], np.uint8)
    with pytest.raises(ConversionError, match=r'm\.png.*\[3, 250\]'):
        apply_value_map(values, {0: 0, 255: 1}, 'm.png')
    labels, snapped = apply_value_map(values, {0: 0, 255: 1}, 'm.jpg',
                                      snap_tolerance=float('inf'))
    assert labels.tolist() == [[0, 1], [1, 0]] and snapped == 2


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


def test_rle_decode_by_hand_and_compressed_roundtrip():
    # column-major runs 0,1,1 | 0,0,0 of a 2x3 mask
    mask = decode_rle(dict(size=[2, 3], counts=[1, 2, 3]), 'x')
    assert mask.tolist() == [[0, 1, 0], [1, 0, 0]]
    rng = np.random.default_rng(0)
    counts = [int(c) for c in rng.integers(0, 40, 30)]
    assert rle_string_counts(_rle_to_string(counts)) == counts
    with pytest.raises(ConversionError, match='sum to'):
        decode_rle(dict(size=[2, 3], counts=[1, 2]), 'ann 7')


def test_polygon_fill_and_outside():
    mask = rasterise_polygons([np.array([[1, 1], [4, 1], [4, 3], [1, 3]])],
                              (5, 6), 'p')
    assert mask.sum() == 12 and mask[1:4, 1:5].all()
    with pytest.raises(ConversionError, match='outside the 6x5 image'):
        rasterise_polygons([np.array([[0, 0], [9, 0], [9, 3]])], (5, 6),
                           'f.json')


# --------------------------------------------------------- mask_folder.py
@pytest.fixture
def mask_pairs(tmp_path):
    imgs, masks = tmp_path / 'img', tmp_path / 'mask'
    imgs.mkdir()
    masks.mkdir()
    for i in range(6):
        _photo(imgs / f'p{i}.jpg', seed=i)
        m = np.zeros((24, 32), np.uint8)
        m[4:10, 5:5 + 2 * i + 1] = 255
        cv2.imwrite(str(masks / f'p{i}.png'), m)
    return imgs, masks


def test_mask_folder_0_255_pngs(mask_pairs, tmp_path):
    imgs, masks = mask_pairs
    out = tmp_path / 'out'
    info = mask_folder.main(['--img-dir', str(imgs), '--mask-dir',
                             str(masks), '-o', str(out), '--quiet'])
    got = _by_stem(_read_out(out))
    assert sorted(got) == [f'p{i}' for i in range(6)]
    for i in range(6):
        assert set(np.unique(got[f'p{i}'])) == {0, 1}
        assert got[f'p{i}'].sum() == 6 * (2 * i + 1)
    assert sum(info['splits'].values()) == 6
    assert osp.isfile(out / 'img_dir' / 'train' /
                      (info['stems']['train'][0] + '.jpg'))
    saved = json.loads((out / 'dataset_info.json').read_text())
    total = sum(6 * (2 * i + 1) for i in range(6))
    train_fg = sum(6 * (2 * int(s[1]) + 1) for s in saved['stems']['train'])
    n_train = len(saved['stems']['train'])
    assert saved['pixels']['train']['defect'] == train_fg
    assert saved['class_weight'][1] == pytest.approx(
        np.sqrt((n_train * 768 - train_fg) / train_fg), abs=1e-3)
    assert saved['split_seed'] == 0 and total > 0
    assert _no_leftovers(tmp_path)


def test_mask_folder_rgb_palette_and_jpeg_snapping(tmp_path):
    imgs, masks = tmp_path / 'img', tmp_path / 'mask'
    imgs.mkdir()
    masks.mkdir()
    _photo(imgs / 'a.png')
    _photo(imgs / 'b.png')
    pal = np.zeros((24, 32, 3), np.uint8)  # RGB
    pal[:8] = (255, 0, 0)
    pal[8:12] = (0, 255, 0)
    pal[12:14] = (255, 255, 0)
    cv2.imwrite(str(masks / 'a.png'), pal[..., ::-1])
    cv2.imwrite(str(masks / 'b.jpg'), pal[..., ::-1],
                [cv2.IMWRITE_JPEG_QUALITY, 70])
    out = tmp_path / 'out'
    args = ['--img-dir', str(imgs), '--mask-dir', str(masks), '-o',
            str(out), '--quiet', '--map', '0,0,0=0', '255,0,0=1',
            '0,255,0=1', '255,255,0=ignore']
    info = mask_folder.main(args)
    got = _by_stem(_read_out(out))
    assert (got['a'][:12] == 1).all() and (got['a'][12:14] == 255).all()
    assert (got['a'][14:] == 0).all()
    assert info['snapped_pixels']['b'] > 0
    assert 'a' not in info['snapped_pixels']
    # JPEG: mostly right after snapping to the nearest colour
    assert (got['b'] == got['a']).mean() > 0.9
    # an unmapped colour in a lossless mask fails, naming the file
    pal[20:, :4] = (0, 0, 255)
    cv2.imwrite(str(masks / 'a.png'), pal[..., ::-1])
    with pytest.raises(ConversionError, match=r'a\.png.*\(0, 0, 255\)'):
        mask_folder.main(args + ['--overwrite'])
    # a colour mask without --map is refused
    with pytest.raises(ConversionError, match='colour mask'):
        mask_folder.main(args[:6] + ['--overwrite'])


def test_mask_folder_0_1_with_ignore_and_jpeg_default(tmp_path):
    imgs, masks = tmp_path / 'img', tmp_path / 'mask'
    imgs.mkdir()
    masks.mkdir()
    _photo(imgs / 'a.jpg')
    _photo(imgs / 'b.jpg')
    m = np.zeros((24, 32), np.uint8)
    m[:4] = 1
    m[-2:] = 255
    cv2.imwrite(str(masks / 'a.png'), m)
    m2 = np.zeros((24, 32), np.uint8)
    m2[8:16, 8:24] = 255
    cv2.imwrite(str(masks / 'b.jpg'), m2)
    info = mask_folder.main(['--img-dir', str(imgs), '--mask-dir',
                             str(masks), '-o', str(tmp_path / 'o'),
                             '--quiet', '--split', '1', '0', '0'])
    got = _by_stem(_read_out(tmp_path / 'o'))
    assert set(np.unique(got['a'])) == {0, 1, 255}
    assert (got['b'] == (m2 > 127)).mean() > 0.97
    assert info['splits'] == dict(train=2, val=0, test=0)


@pytest.mark.parametrize('case', [
    'unpaired', 'corrupt_image', 'empty_mask', 'size', 'values',
    'not_empty_out'
])
def test_mask_folder_bad_input(mask_pairs, tmp_path, case):
    imgs, masks = mask_pairs
    out = tmp_path / 'out'
    expect = None
    if case == 'unpaired':
        _photo(imgs / 'lonely.jpg')
        expect = 'lonely.jpg'
    elif case == 'corrupt_image':
        (imgs / 'p2.jpg').write_bytes(b'\xff\xd8\xff\xe0 not a jpeg')
        expect = r'p2\.jpg: not a readable image'
    elif case == 'empty_mask':
        (masks / 'p3.png').write_bytes(b'')
        expect = r'p3\.png: mask file is empty'
    elif case == 'size':
        cv2.imwrite(str(masks / 'p1.png'), np.zeros((10, 10), np.uint8))
        expect = r'p1\.jpg: its mask is 10x10 but the image is 32x24'
    elif case == 'values':
        cv2.imwrite(str(masks / 'p4.png'),
                    np.full((24, 32), 7, np.uint8))
        expect = r'p4\.png: mask values \[7\]'
    else:
        out.mkdir()
        (out / 'keep.txt').write_text('mine')
        expect = 'not empty; pass --overwrite'
    argv = ['--img-dir', str(imgs), '--mask-dir', str(masks), '-o',
            str(out), '--quiet']
    with pytest.raises(ConversionError, match=expect):
        mask_folder.main(argv)
    if case == 'not_empty_out':
        assert (out / 'keep.txt').read_text() == 'mine'
        mask_folder.main(argv + ['--overwrite'])
        assert not (out / 'keep.txt').exists()
    else:
        assert not out.exists()  # nothing half-written
    if case == 'unpaired':
        info = mask_folder.main(argv + ['--skip-unpaired'])
        assert info['skipped'] == ['lonely.jpg']
    assert _no_leftovers(tmp_path)


def test_failed_overwrite_keeps_the_old_dataset(mask_pairs, tmp_path):
    imgs, masks = mask_pairs
    out = tmp_path / 'out'
    argv = ['--img-dir', str(imgs), '--mask-dir', str(masks), '-o',
            str(out), '--quiet']
    mask_folder.main(argv)
    before = _read_out(out)
    cv2.imwrite(str(masks / 'p5.png'), np.full((24, 32), 9, np.uint8))
    with pytest.raises(ConversionError, match='p5.png'):
        mask_folder.main(argv + ['--overwrite'])
    after = _read_out(out)
    assert before.keys() == after.keys()
    assert all((before[k] == after[k]).all() for k in before)
    assert _no_leftovers(tmp_path)


def test_split_file_must_match(mask_pairs, tmp_path):
    imgs, masks = mask_pairs
    sf = tmp_path / 'split.txt'
    sf.write_text(''.join(f'train p{i}\n' for i in range(5)) + 'test p5\n')
    out = tmp_path / 'o'
    base = ['--img-dir', str(imgs), '--mask-dir', str(masks), '-o',
            str(out), '--quiet', '--split-file', str(sf)]
    info = mask_folder.main(base)
    assert info['stems']['test'] == ['p5'] and info['split_seed'] is None
    sf.write_text('train p0\n')
    with pytest.raises(ConversionError, match='not listed'):
        mask_folder.main(base + ['--overwrite'])


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
    assert info['skipped_line_shapes'] == 1
    with pytest.raises(ConversionError, match=r"no shape has the labels"):
        labelme.main([str(d), '-o', str(tmp_path / 'o2'), '--labels',
                      'crack', '--quiet'])


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


def test_exif_rotated_photo_takes_a_mask_in_displayed_orientation(tmp_path):
    """A phone JPEG stored 40 wide x 20 high with EXIF orientation 6 shows
    (and loads in mmseg) as 20 wide x 40 high: its mask must be too."""
    from PIL import Image
    imgs, masks = tmp_path / 'img', tmp_path / 'mask'
    imgs.mkdir()
    masks.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(np.full((20, 40, 3), 128, np.uint8)).save(
        imgs / 'phone.jpg', exif=exif.tobytes())
    displayed = np.zeros((40, 20), np.uint8)
    displayed[:10] = 255
    cv2.imwrite(str(masks / 'phone.png'), displayed)
    argv = ['--img-dir', str(imgs), '--mask-dir', str(masks), '-o',
            str(tmp_path / 'o'), '--quiet', '--split', '1', '0', '0']
    mask_folder.main(argv)
    assert _read_out(tmp_path / 'o')['train/phone'].shape == (40, 20)
    cv2.imwrite(str(masks / 'phone.png'), displayed.T.copy())  # as stored
    with pytest.raises(ConversionError,
                       match=r'its mask is 40x20 but the image is 20x40'):
        mask_folder.main(argv + ['--overwrite'])


def test_converted_dataset_is_readable_by_others_under_umask_022(
        mask_pairs, tmp_path):
    import stat
    imgs, masks = mask_pairs
    old = os.umask(0o022)
    try:
        mask_folder.main(['--img-dir', str(imgs), '--mask-dir', str(masks),
                          '-o', str(tmp_path / 'o'), '--quiet'])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / 'o').st_mode) == 0o755
    assert stat.S_IMODE(
        os.stat(tmp_path / 'o' / 'dataset_info.json').st_mode) == 0o644


def test_files_by_stem_and_two_files_for_one_stem(tmp_path):
    from spotrust_mm.datasets.conversion import files_by_stem
    for name in ('a.JPG', 'b_mask.png', 'c.txt', 'b.png'):
        (tmp_path / name).write_bytes(b'x')
    assert files_by_stem(str(tmp_path)) == {
        'a': str(tmp_path / 'a.JPG'), 'b': str(tmp_path / 'b.png'),
        'b_mask': str(tmp_path / 'b_mask.png')}
    assert files_by_stem(str(tmp_path), ('.png', ), '_mask') == {
        'b': str(tmp_path / 'b_mask.png')}
    (tmp_path / 'a.png').write_bytes(b'x')
    with pytest.raises(ConversionError, match='two files for a: a.JPG and '
                       'a.png'):
        files_by_stem(str(tmp_path))
    with pytest.raises(ConversionError, match='folder not found'):
        files_by_stem(str(tmp_path / 'nowhere'))
