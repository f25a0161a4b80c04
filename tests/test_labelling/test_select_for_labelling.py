"""tools/select_for_labelling.py on a pool the test makes, scored by a
tiny MC-dropout HRNet trained here for a few seconds on grey photos with
dark cracks."""
import hashlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from ..conftest import REPO, load_tool, tiny_hrnet_model

SIZE = 64



def crack_photo(rng, size=SIZE):
    """A grey photo (RGB) with one dark horizontal crack, and its mask."""
    img = np.full((size, size, 3), 128.0) + rng.normal(0, 8, (size, size, 1))
    mask = np.zeros((size, size), np.uint8)
    y = rng.integers(8, size - 8)
    mask[y:y + 3, 4:size - 4] = 1
    img[mask == 1] = 40
    return img.clip(0, 255).astype(np.uint8), mask


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, checkpoint) of the tiny model trained on crack photos."""
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    folder = tmp_path_factory.mktemp('model')
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = tiny_hrnet_model(loss_decode=dict(type='BayesianBCELoss',
                                            class_weight=[1.0, 5.0]))
    model = MODELS.build(cfg)
    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(150):
        batch = [crack_photo(rng) for _ in range(4)]
        samples = []
        for _, mask in batch:
            s = SegDataSample(gt_sem_seg=PixelData(
                data=torch.from_numpy(mask.astype(np.int64))[None]))
            s.set_metainfo(dict(img_shape=(SIZE, SIZE),
                                ori_shape=(SIZE, SIZE),
                                pad_shape=(SIZE, SIZE)))
            samples.append(s)
        data = model.data_preprocessor(dict(inputs=[
            torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)
            for img, _ in batch], data_samples=samples), True)
        losses = model.loss(**data)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        opt.zero_grad()
        loss.backward()
        opt.step()
    config = osp.join(str(folder), 'tiny.py')
    with open(config, 'w') as f:
        base = osp.join(REPO, 'configs/spotrust_mcdropout.py')
        f.write(f'_base_ = [{base!r}]\n'
                f'model = {dict(cfg, _delete_=True)!r}\n')
    checkpoint = osp.join(str(folder), 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(
        dataset_meta=dict(classes=('background', 'crack')))), checkpoint)
    return config, checkpoint


@pytest.fixture(scope='module')
def select():
    return load_tool('tools/select_for_labelling.py')


def write_pool(folder, photos):
    os.makedirs(folder, exist_ok=True)
    for name, img in photos.items():
        cv2.imwrite(osp.join(folder, name), img[..., ::-1])
    return str(folder)


def ranking(out):
    with open(osp.join(out, 'selection', 'ranking.json')) as f:
        return json.load(f)


def test_unlike_photo_is_ranked_first_by_epistemic(trained, select,
                                                   tmp_path):
    rng = np.random.default_rng(1)
    photos = {f'like_{i}.png': crack_photo(rng)[0] for i in range(4)}
    photos['unlike.png'] = rng.integers(0, 256, (SIZE, SIZE, 3)).astype(
        np.uint8)  # colour noise: nothing like the grey training photos
    pool = write_pool(tmp_path / 'pool', photos)
    out = str(tmp_path / 'out')
    for aggregation in ('mean', 'top_fraction'):
        assert select.main([*trained, pool, '-k', '1', '--out', out,
                            '--strategy', 'epistemic', '--aggregation',
                            aggregation, '--pre-annotate', '--quiet']) == 0
        rows = ranking(out)['ranking']
        assert [r['name'] for r in rows][0] == 'unlike', rows
        assert rows[0]['chosen'] and not any(r['chosen'] for r in rows[1:])
        assert rows[0]['score'] > max(r['score'] for r in rows[1:])
    assert sorted(os.listdir(out)) == ['.lock', 'selection', 'unlike.png']
    assert sorted(os.listdir(osp.join(out, 'selection'))) == [
        'ranking.csv', 'ranking.json', 'scores']
    # the review page's photo score ranks too (scored in the same pass)
    assert select.main([*trained, pool, '-k', '1', '--out', out,
                        '--strategy', 'expected_f1_error', '--quiet']) == 0
    rows = ranking(out)['ranking']
    scores = ranking(out)['scores']
    assert [r['score'] for r in rows] == sorted(
        (round(s['expected_f1_error'], 6) for s in scores.values()),
        reverse=True)
    # random does not look at the photos: the same choice for a seed
    select.main([*trained, pool, '-k', '2', '--out', out, '--strategy',
                 'random', '--seed', '3', '--pre-annotate', '--quiet'])
    first = [r['name'] for r in ranking(out)['ranking']]
    select.main([*trained, pool, '-k', '2', '--out', out, '--strategy',
                 'random', '--seed', '3', '--pre-annotate', '--quiet'])
    assert [r['name'] for r in ranking(out)['ranking']] == first


def test_near_duplicates_are_not_picked_twice(trained, select, tmp_path):
    rng = np.random.default_rng(2)
    unlike = rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8)
    photos = {f'like_{i}.png': crack_photo(rng)[0] for i in range(4)}
    photos['unlike.png'] = unlike
    photos['unlike_shifted.png'] = np.roll(unlike, 2, axis=1)
    photos['unlike_noisy.png'] = (unlike + rng.normal(0, 3, unlike.shape)
                                  ).clip(0, 255).astype(np.uint8)
    pool = write_pool(tmp_path / 'pool', photos)
    out = str(tmp_path / 'out')
    args = [*trained, pool, '-k', '3', '--out', out, '--strategy',
            'epistemic', '--aggregation', 'mean', '--pre-annotate',
            '--quiet']
    select.main(args + ['--no-diversity'])
    unguarded = [r['name'] for r in ranking(out)['ranking'] if r['chosen']]
    assert sum(n.startswith('unlike') for n in unguarded) >= 2  # can fail
    select.main(args)
    rows = ranking(out)['ranking']
    chosen = [r['name'] for r in rows if r['chosen']]
    assert len(chosen) == 3
    assert sum(n.startswith('unlike') for n in chosen) == 1, rows
    passed_over = [r for r in rows if r['similar_to']]
    assert passed_over and all(r['similar_to'].startswith('unlike') and
                               r['similarity'] > 0.9 for r in passed_over)
    with open(osp.join(out, 'selection', 'ranking.csv')) as f:
        assert f.readline().strip() == ('rank,name,file,score,chosen,'
                                        'similar_to,similarity')


def test_resume_and_bad_files(trained, select, tmp_path, capsys):
    rng = np.random.default_rng(3)
    pool = write_pool(tmp_path / 'pool', {
        f'p{i}.png': crack_photo(rng)[0] for i in range(3)})
    with open(osp.join(pool, 'broken.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    out = str(tmp_path / 'out')
    args = [*trained, pool, '-k', '2', '--out', out, '--pre-annotate',
            '--quiet']
    assert select.main(args) == 1
    text = capsys.readouterr()
    assert '3 photo(s) scored, 0 already scored, 1 failed' in text.out
    assert 'broken.jpg' in text.err
    report = ranking(out)
    assert [e['file'] for e in report['errors']] == ['broken.jpg']
    assert len(report['ranking']) == 3
    os.remove(osp.join(pool, 'broken.jpg'))
    assert select.main(args + ['--strategy', 'entropy']) == 0
    assert '0 photo(s) scored, 3 already scored' in capsys.readouterr().out
    # a changed photo is scored again
    cv2.imwrite(osp.join(pool, 'p0.png'), crack_photo(rng)[0])
    select.main(args)
    assert '1 photo(s) scored, 2 already scored' in capsys.readouterr().out
    chosen = [r['name'] + '.png' for r in ranking(out)['ranking']
              if r['chosen']]
    assert all(osp.isfile(osp.join(out, n)) and not osp.islink(
        osp.join(out, n)) for n in chosen)
    linked = str(tmp_path / 'linked')
    select.main(args[:-3] + [linked, '--link', '--pre-annotate', '--quiet'])
    assert all(osp.realpath(osp.join(linked, n)) == osp.realpath(
        osp.join(pool, n)) for n in chosen)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_preannotations_round_trip_labelme_and_coco(trained, select,
                                                    tmp_path):
    from pycocotools.coco import COCO

    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.apis.labelling import prediction_fields
    rng = np.random.default_rng(4)
    photos = {f'p{i}.png': crack_photo(rng)[0] for i in range(3)}
    pool = write_pool(tmp_path / 'pool', photos)
    out = str(tmp_path / 'out')
    assert select.main([*trained, pool, '-k', '3', '--out', out,
                        '--min-area', '1', '--quiet']) == 0
    model = init_checked_model(load_inference_config(trained[0],
                                                     trained[1]),
                               trained[1], trained[0])
    predicted = {}
    for name, img in photos.items():
        fields = prediction_fields(model, img)
        predicted[name[:-4]] = fields['label_map'] == 1
        assert predicted[name[:-4]].sum() > 50  # the crack is found
    # LabelMe: the photos and their JSON, read back by the converter
    labelme = load_tool('tools/dataset_converters/labelme.py')
    data = str(tmp_path / 'converted')
    labelme.main([out, '-o', data, '--split', '1', '0', '0', '--quiet'])
    for stem, mask in predicted.items():
        back = cv2.imread(osp.join(data, 'ann_dir', 'train', stem + '.png'),
                          cv2.IMREAD_UNCHANGED) == 1
        assert _iou(back, mask) >= 0.99, (back.sum(), mask.sum())
        with open(osp.join(out, stem + '.json')) as f:
            doc = json.load(f)
        assert doc['imagePath'] == stem + '.png'
        labels = {s['label'] for s in doc['shapes']}
        assert 'crack' in labels
        assert all('low_confidence' in s['flags'] for s in doc['shapes'])
    # COCO: loads in pycocotools; each area is its mask's; same masks
    coco = COCO(osp.join(out, 'selection', 'annotations_coco.json'))
    names = {c['name']: c['id'] for c in coco.loadCats(coco.getCatIds())}
    assert names == {'crack': 1, 'uncertain': 2}
    for img in coco.loadImgs(coco.getImgIds()):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        union = np.zeros((img['height'], img['width']), bool)
        for ann in anns:
            m = coco.annToMask(ann).astype(bool)
            assert ann['area'] == m.sum() > 0
            assert set(ann['attributes']) == {
                'low_confidence', 'mean_confidence', 'mean_epistemic'}
            if ann['category_id'] == 1:
                union |= m
        assert _iou(union, predicted[img['file_name'][:-4]]) >= 0.99
    # an annotation file already there is kept (it may hold corrections)
    path = osp.join(out, 'p0.json')
    with open(path, 'w') as f:
        f.write('{"corrected": true}')
    select.main([*trained, pool, '-k', '3', '--out', out, '--quiet'])
    with open(path) as f:
        assert json.load(f) == {'corrected': True}


def test_mask_polygons_keep_holes_and_thin_lines():
    from spotrust_mm.datasets.conversion import (coco_polygons_mask,
                                                 mask_polygons,
                                                 rasterise_polygons)
    mask = np.zeros((60, 80), np.uint8)
    cv2.circle(mask, (30, 30), 20, 1, -1)
    cv2.circle(mask, (30, 30), 8, 0, -1)  # a hole
    cv2.circle(mask, (22, 22), 3, 0, -1)  # a second hole
    cv2.circle(mask, (30, 30), 3, 1, -1)  # an island inside the hole
    cv2.line(mask, (55, 5), (75, 50), 1, 1)  # a one-pixel crack
    mask[2, 2] = 1  # a single pixel
    mask = mask.astype(bool)
    regions = mask_polygons(mask, tolerance=0)
    assert len(regions) == 4
    assert sum(r['area'] for r in regions) == mask.sum()
    polys = [r['polygon'] for r in regions]
    filled = rasterise_polygons(polys, mask.shape, 'x').astype(bool)
    np.testing.assert_array_equal(filled, mask)  # exact at tolerance 0
    coco = coco_polygons_mask([(p + 0.5).ravel().tolist() for p in polys],
                              mask.shape, 'x', tolerance=2).astype(bool)
    np.testing.assert_array_equal(coco, mask)
    simplified = mask_polygons(mask, tolerance=0.5)
    back = rasterise_polygons([r['polygon'] for r in simplified],
                              mask.shape, 'x').astype(bool)
    assert _iou(back, mask) >= 0.99
    assert sum(len(r['polygon']) for r in simplified) < sum(
        len(p) for p in polys)


def _digest(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def _converted(folder, stems, rng, split=(0.5, 0.25, 0.25), classes=None):
    from spotrust_mm.datasets.conversion import Sample, write_dataset
    samples = []
    for stem in stems:
        img, mask = crack_photo(rng, 40)
        mask[:2] = 255
        path = osp.join(str(folder), 'src', stem + '.jpg')
        os.makedirs(osp.dirname(path), exist_ok=True)
        cv2.imwrite(path, img)
        samples.append(Sample(stem, path, lambda size, m=mask: m))
    write_dataset(samples, str(folder / 'data'), 'test', split=split,
                  quiet=True, classes=classes)
    return str(folder / 'data')


def test_merge_leaves_val_and_test_byte_identical(tmp_path):
    from spotrust_mm.datasets.conversion import ConversionError
    from spotrust_mm.datasets.conversion.merge import merge_into_train
    rng = np.random.default_rng(5)
    data = _converted(tmp_path / 'a', [f'old{i}' for i in range(8)], rng)
    new = _converted(tmp_path / 'b', ['new0', 'new1', 'new2'], rng,
                     split=(1, 0, 0))
    held_out = {k: v for k, v in _digest(data).items()
                if k.split(os.sep)[1:2] in (['val'], ['test'])}
    assert held_out
    with open(osp.join(data, 'dataset_info.json')) as f:
        before = json.load(f)
    merge = load_tool('tools/merge_labels.py')
    info = merge.main([new, data])
    after = _digest(data)
    assert {k: after[k] for k in held_out} == held_out
    assert sorted(os.listdir(osp.join(data, 'img_dir', 'train'))) == sorted(
        [f'{s}.jpg' for s in before['stems']['train']] +
        ['new0.jpg', 'new1.jpg', 'new2.jpg'])
    assert info['splits'] == dict(before['splits'],
                                  train=before['splits']['train'] + 3)
    assert info['stems']['val'] == before['stems']['val']
    # the class weight is the converter's, over the grown training split
    from spotrust_mm.datasets.conversion import (defect_class_weight,
                                                 label_counts)
    counts = sum(np.array(label_counts(cv2.imread(
        osp.join(data, 'ann_dir', 'train', f), cv2.IMREAD_UNCHANGED)))
        for f in os.listdir(osp.join(data, 'ann_dir', 'train')))
    assert info['class_weight'] == [1.0, round(defect_class_weight(
        int(counts[0]), int(counts[1])), 3)]
    assert info['pixels']['train'] == dict(
        background=int(counts[0]), defect=int(counts[1]),
        ignored=int(counts[2]))
    assert info['merged'][-1]['stems'] == ['new0', 'new1', 'new2']
    # the same stems again: refused, nothing changed
    snapshot = _digest(data)
    with pytest.raises(ConversionError, match='already in'):
        merge_into_train(new, data)
    assert _digest(data) == snapshot
    # other classes: refused
    other = _converted(tmp_path / 'c', ['k0', 'k1'], rng, split=(1, 0, 0),
                       classes=['bg', 'crack', 'rust'])
    with pytest.raises(ConversionError, match='classes'):
        merge_into_train(other, data)
    assert _digest(data) == snapshot


def test_k_classes_and_mixed_sizes(select, tmp_path):
    """A 4-class model (untrained: many small regions of every class) on
    photos of three sizes: every strategy ranks, and the LabelMe and COCO
    pre-annotations give the predicted class map back exactly at
    tolerance 0."""
    from mmseg.registry import MODELS
    from pycocotools.coco import COCO

    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.apis.labelling import prediction_fields

    from ..test_multiclass.test_class_models import class_model
    classes = ('good', 'fair', 'poor', 'severe')
    cfg = class_model('MCDropoutHRHead', k=4)
    config = str(tmp_path / 'k4.py')
    with open(config, 'w') as f:
        base = osp.join(REPO, 'configs/spotrust_mcdropout.py')
        f.write(f'_base_ = [{base!r}]\nmodel = {dict(cfg, _delete_=True)!r}\n')
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'k4.pth')
    torch.save(dict(state_dict=MODELS.build(cfg).state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))),
               checkpoint)
    rng = np.random.default_rng(6)
    photos = {f'{w}x{h}.png': rng.integers(0, 256, (h, w, 3)).astype(
        np.uint8) for w, h in ((40, 30), (64, 64), (100, 70))}
    pool = write_pool(tmp_path / 'pool', photos)
    out = str(tmp_path / 'out')
    for strategy in ('epistemic', 'entropy', 'mutual_information'):
        assert select.main([config, checkpoint, pool, '-k', '3', '--out',
                            out, '--strategy', strategy, '--tolerance',
                            '0', '--min-area', '1', '--overwrite',
                            '--quiet']) == 0
        rows = ranking(out)['ranking']
        assert len(rows) == 3 and all(r['chosen'] for r in rows)
    # the photo score is a binary one: refused at start-up, exit 2
    assert select.main([config, checkpoint, pool, '-k', '1', '--out',
                        out, '--strategy', 'expected_f1_error']) == 2
    model = init_checked_model(load_inference_config(config, checkpoint),
                               checkpoint, config)
    labelme = load_tool('tools/dataset_converters/labelme.py')
    data = str(tmp_path / 'converted')
    labelme.main([out, '-o', data, '--split', '1', '0', '0', '--quiet',
                  '--class-names', *classes])
    coco = COCO(osp.join(out, 'selection', 'annotations_coco.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == [
        'fair', 'poor', 'severe', 'uncertain']
    files = {img['file_name']: img for img in coco.loadImgs(
        coco.getImgIds())}
    for name, img in photos.items():
        labels = prediction_fields(model, img)['label_map']
        assert len(np.unique(labels)) > 1
        back = cv2.imread(osp.join(data, 'ann_dir', 'train',
                                   name[:-4] + '.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(back, labels)
        painted = np.zeros_like(labels)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=files[name]['id'])):
            if ann['category_id'] < len(classes):
                m = coco.annToMask(ann).astype(bool)
                assert not painted[m].any()  # regions do not overlap
                painted[m] = ann['category_id']
        np.testing.assert_array_equal(painted, labels)
