"""Dataset converters: the shared maths by hand, and what every
converter does with files (nothing from ../shared)."""
import json

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

from .converter_helpers import (_read_out,
                                _rle_to_string, mask_folder)


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
