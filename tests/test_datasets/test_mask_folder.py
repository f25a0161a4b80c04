"""tools/dataset_converters/mask_folder.py on fixtures made here."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from spotrust_mm.datasets.conversion import ConversionError

from .converter_helpers import (_by_stem, _no_leftovers, _photo, _read_out,
                                mask_folder)


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
    assert saved['split_seed'] == 0
    assert sum(saved['pixels'][k]['defect'] for k in saved['pixels']) == \
        total
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


def test_mask_folder_refuses_a_folder_of_two_formats(tmp_path):
    """Without --map, a mask holding only 0 and 255 means background and
    ignored pixels in a folder of 0/1 masks, and a defect in a folder of
    0/255 masks: a folder holding both kinds is refused, naming both, and
    --label-format settles it."""
    imgs, masks = tmp_path / 'i', tmp_path / 'm'
    imgs.mkdir()
    masks.mkdir()
    a = np.zeros((8, 8), np.uint8)
    a[1, 1], a[2, 2] = 1, 255  # 0/1 with an ignored pixel
    b = np.zeros((8, 8), np.uint8)
    b[3:5, 3:5] = 255  # only 0 and 255
    for name, m in (('a', a), ('b', b)):
        _photo(imgs / f'{name}.png', h=8, w=8)
        cv2.imwrite(str(masks / f'{name}.png'), m)
    split = tmp_path / 'split.txt'
    split.write_text('train a\ntrain b\n')
    argv = ['--img-dir', str(imgs), '--mask-dir', str(masks), '-o',
            str(tmp_path / 'o'), '--split-file', str(split), '--quiet']
    with pytest.raises(ConversionError, match=r'a\.png.*b\.png.*'
                       r'--label-format labels'):
        mask_folder.main(argv)
    assert not (tmp_path / 'o').exists()
    info = mask_folder.main(argv + ['--label-format', 'labels'])
    assert info['label_format'] == 'labels'
    assert info["pixels"]["train"] == dict(background=122, defect=1,
                                           ignored=5)
    # stated as 0/255, the mask holding 1 is an error naming --threshold
    with pytest.raises(ConversionError, match=r'a\.png.*--threshold 128'):
        mask_folder.main(argv + ['--label-format', '0/255', '--overwrite'])
    os.remove(masks / 'a.png')
    os.remove(imgs / 'a.png')
    split.write_text('train b\n')
    info = mask_folder.main(['--img-dir', str(imgs), '--mask-dir',
                             str(masks), '-o', str(tmp_path / 'o2'),
                             '--split-file', str(split), '--quiet'])
    assert info['label_format'] == '0/255'
    assert info['pixels']['train']['defect'] == 4


def _rust_masks(tmp_path, n=6, stray=None, aa=False):
    """``n`` photos with 0/255 masks of a disc (anti-aliased edges with
    ``aa``); mask ``stray`` gets one pixel of value 1."""
    imgs, masks = tmp_path / 'img', tmp_path / 'mask'
    imgs.mkdir()
    masks.mkdir()
    refs = {}
    for i in range(n):
        _photo(imgs / f'p{i}.jpg', h=40, w=48, seed=i)
        m = np.zeros((40, 48), np.uint8)
        cv2.circle(m, (24, 20), 6 + i, 255, -1,
                   lineType=cv2.LINE_AA if aa else cv2.LINE_8)
        if i == stray:
            m[0, 0] = 1
        cv2.imwrite(str(masks / f'p{i}.png'), m)
        refs[f'p{i}'] = m
    return ['--img-dir', str(imgs), '--mask-dir', str(masks), '--quiet'], \
        refs


def test_stray_one_in_0_255_masks_is_never_silent_label_loss(
        tmp_path, capsys):
    """A folder of 0/255 masks where one mask holds a single pixel of 1
    used to convert as 0/1 labels: every defect pixel became "ignore"."""
    argv, refs = _rust_masks(tmp_path, stray=3)
    out = tmp_path / 'out'
    with pytest.raises(ConversionError, match=r'p3\.png \(1 px of 1.*'
                       r'--threshold 128'):
        mask_folder.main(argv + ['-o', str(out)])
    assert not out.exists()
    info = mask_folder.main(argv + ['-o', str(out), '--threshold', '128'])
    got = _by_stem(_read_out(out))
    for stem, m in refs.items():
        assert np.array_equal(got[stem], (m >= 128).astype(np.uint8)), stem
    total = sum(int((m == 255).sum()) for m in refs.values())
    assert sum(p['defect'] for p in info['pixels'].values()) == total
    assert info['snapped_pixels'] == {'p3': 1}
    printed = capsys.readouterr().out
    assert f'defect {total} px in 6 masks' in printed
    # read as labels on purpose: converted, with a warning for the class
    # left with almost nothing
    mask_folder.main(argv + ['-o', str(out), '--overwrite',
                             '--label-format', 'labels'])
    printed = capsys.readouterr().out
    assert "warning: class 'defect' has 1 of" in printed


def test_anti_aliased_grey_masks_with_threshold_or_ranges(tmp_path):
    argv, refs = _rust_masks(tmp_path, aa=True)
    soft = sum(int(((m > 0) & (m < 255)).sum()) for m in refs.values())
    assert soft > 0
    out = tmp_path / 'out'
    with pytest.raises(ConversionError, match=r'p0\.png: mask values .*'
                       r'--threshold 128'):
        mask_folder.main(argv + ['-o', str(out)])
    with pytest.raises(ConversionError, match='--tolerance D'):
        mask_folder.main(argv + ['-o', str(out), '--map', '0=0', '255=1'])
    info = mask_folder.main(argv + ['-o', str(out), '--threshold', '128'])
    assert sum(info['snapped_pixels'].values()) == soft
    got = _by_stem(_read_out(out))
    ranged = tmp_path / 'ranged'
    mask_folder.main(argv + ['-o', str(ranged), '--map', '0-127=0',
                             '128-254=1', '255=1'])
    by_range = _by_stem(_read_out(ranged))
    for stem, m in refs.items():
        assert np.array_equal(got[stem], (m >= 128).astype(np.uint8)), stem
        assert np.array_equal(by_range[stem], got[stem]), stem
    # --tolerance on a grey map: each value to the nearer of 0 and 255
    near = tmp_path / 'near'
    mask_folder.main(argv + ['-o', str(near), '--map', '0=0', '255=1',
                             '--tolerance', '128'])
    for stem, m in _by_stem(_read_out(near)).items():
        assert np.array_equal(m, (refs[stem] >= 128).astype(np.uint8))


def test_anti_aliased_colour_masks_snap_within_the_tolerance(tmp_path):
    imgs, masks = tmp_path / 'img', tmp_path / 'mask'
    imgs.mkdir()
    masks.mkdir()
    expected = {}
    for i in range(3):
        _photo(imgs / f'c{i}.png', h=40, w=48, seed=i)
        bgr = np.zeros((40, 48, 3), np.uint8)
        cv2.circle(bgr, (16, 20), 8, (0, 0, 255), -1, cv2.LINE_AA)  # red
        cv2.circle(bgr, (34, 20), 6, (0, 255, 0), -1, cv2.LINE_AA)  # green
        cv2.imwrite(str(masks / f'c{i}.png'), bgr)
        rgb = bgr[..., ::-1].astype(np.int64)
        palette = np.array([(0, 0, 0), (255, 0, 0), (0, 255, 0)])
        dist = np.sqrt(((rgb[..., None, :] - palette) ** 2).sum(-1))
        expected[f'c{i}'] = (np.array([0, 1, 2])[dist.argmin(-1)],
                             dist.min(-1))
    argv = ['--img-dir', str(imgs), '--mask-dir', str(masks), '--quiet',
            '--class-names', 'background', 'rust', 'paint', '--map',
            '0,0,0=0', '255,0,0=1', '0,255,0=2']
    with pytest.raises(ConversionError, match=r'c0\.png.*--tolerance'):
        mask_folder.main(argv + ['-o', str(tmp_path / 'o')])
    info = mask_folder.main(argv + ['-o', str(tmp_path / 'o'),
                                    '--tolerance', '200'])
    got = _by_stem(_read_out(tmp_path / 'o'))
    for stem, (labels, dist) in expected.items():
        assert np.array_equal(got[stem], labels), stem
        assert info['snapped_pixels'][stem] == int((dist > 0).sum())
    # a colour farther than the tolerance is still an error
    with pytest.raises(ConversionError, match=r'not covered.*within 20'):
        mask_folder.main(argv + ['-o', str(tmp_path / 'o2'),
                                 '--tolerance', '20'])


def test_map_hints_and_option_conflicts(tmp_path):
    argv, _ = _rust_masks(tmp_path)
    out = ['-o', str(tmp_path / 'o')]
    with pytest.raises(ConversionError, match='--class-names'):
        mask_folder.main(argv + out + ['--map', '0=0', '1=1', '2=2'])
    with pytest.raises(ConversionError, match='LOW <= HIGH'):
        mask_folder.main(argv + out + ['--map', '200-100=1'])
    with pytest.raises(ConversionError, match='two labels'):
        mask_folder.main(argv + out + ['--map', '0-200=0', '100-255=1'])
    for extra in (['--threshold', '128', '--map', '0=0'],
                  ['--threshold', '0'],
                  ['--label-format', 'labels', '--map', '0=0', '255=1']):
        with pytest.raises(SystemExit):
            mask_folder.main(argv + out + extra)


def test_readme_conversion_command_on_anti_aliased_masks(tmp_path):
    """The README's mask_folder.py command fails on anti-aliased 0/255
    masks naming one option, and works with it added."""
    import re
    import shlex
    import subprocess
    import sys

    from ..conftest import REPO
    readme = open(osp.join(REPO, 'README.md')).read()
    line = next(x for x in readme.splitlines()
                if x.startswith('python tools/dataset_converters/'
                                'mask_folder.py'))
    words = shlex.split(line.split('#')[0])
    _rust_masks(tmp_path, aa=True)
    words = [{'photos/': str(tmp_path / 'img'),
              'masks/': str(tmp_path / 'mask'),
              'data/defects': str(tmp_path / 'out')}.get(w, w)
             for w in words]
    cmd = [sys.executable, osp.join(REPO, words[1])] + words[2:]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    option = re.search(r'pass (--\S+ \d+)', proc.stderr).group(1)
    proc = subprocess.run(cmd + option.split(), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'out' / 'dataset_info.json').is_file()


def test_mask_kind_of_every_kind_of_mask():
    from spotrust_mm.datasets.conversion import mask_kind
    assert mask_kind(np.array([[0, 0]], np.uint8)) == 'blank'
    assert mask_kind(np.array([[0, 255]], np.uint8)) == '0/255'
    assert mask_kind(np.array([[0, 1, 255]], np.uint8)) == 'labels'
    assert mask_kind(np.array([[0, 128, 255]], np.uint8)) == 'other'
    # a 16-bit grey mask: other, not an index error
    assert mask_kind(np.array([[0, 1000]], np.uint16)) == 'other'
