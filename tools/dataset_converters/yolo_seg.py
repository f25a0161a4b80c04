"""Convert YOLO segmentation labels (Ultralytics / Roboflow "YOLOv8"
export) to the mmseg layout SpotRust-MM reads.

    python tools/dataset_converters/yolo_seg.py --img-dir images/ \
        --label-dir labels/ -o data/my_defects [--classes 0 2 ...]
    python tools/dataset_converters/yolo_seg.py --export-root export/ \
        -o data/my_defects [--resplit]

Each image ``<stem>.<ext>`` pairs with ``<stem>.txt``: one object per line,
``CLASS x1 y1 x2 y2 ...`` with coordinates normalised to [0, 1]. Polygons
of the chosen class ids (default: all) are unioned as defect (label 1):
overlapping instance polygons become one region. An empty .txt is an image
without defects; a missing one is an unlabelled image (an error, or
skipped with ``--skip-unpaired``).

Exports as users get them:

- **Class names** come from the export's ``data.yaml`` (``names``; found
  in the image folder, its parent or grandparent, or the export root, or
  given with ``--data-yaml``). One class: binary, its name recorded as
  ``defect_name``. Several: K classes ``background`` + the names, YOLO
  class ``c`` becoming class ``c + 1`` (later lines painted over earlier
  ones), unless ``--classes`` picks the ids to union as one defect or
  ``--class-names`` names them otherwise.
- **Roboflow's augmented copies** of one photo (``IMG_1_jpg.rf.<hash>.jpg``,
  several per source photo) are split together: every copy of a photo
  lands in the same split, so no photo sits in train and test.
- **The export's own splits**: with ``--export-root`` (folders
  ``train/``, ``valid/`` or ``val/``, ``test/``, each with ``images/`` and
  ``labels/``; or ``images/`` and ``labels/`` alone, split by ``--split``)
  the photos keep the split they came in; an export whose
  splits share a source photo is refused naming it (``--resplit`` splits
  by source photo with ``--split``/``--seed`` instead).
"""
import argparse
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np

from spotrust_mm.datasets.conversion import (
    ConversionError, Sample, add_converter_args, converter_main,
    files_by_stem, parse_classes, rasterise_polygons, roboflow_source,
    run_converter)


def read_yolo_polygons(path: str, classes=None):
    """``(line number, normalised polygon (K, 2), class)`` of the chosen
    classes in a label file."""
    polys = []
    with open(path, encoding='utf-8') as f:
        for num, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                cls = int(parts[0])
                coords = [float(v) for v in parts[1:]]
            except ValueError:
                raise ConversionError(
                    f'{path}:{num}: not "CLASS x1 y1 x2 y2 ..."') from None
            if len(coords) < 6 or len(coords) % 2:
                raise ConversionError(
                    f'{path}:{num}: a polygon needs an even number (>= 6) of '
                    f'coordinates, got {len(coords)}')
            if classes is None or cls in classes:
                polys.append((num, np.asarray(coords).reshape(-1, 2), cls))
    return polys


def yolo_mask(polys, size, path: str, num_classes=None) -> np.ndarray:
    """Union of normalised ``(line number, polygon, YOLO class)``s of
    ``path`` at ``size`` (H, W); with ``num_classes`` each polygon is
    painted with class ``YOLO class + 1`` (0 is the background), later
    lines over earlier ones."""
    h, w = size
    mask = np.zeros(size, np.uint8)
    for num, poly, cls in polys:
        where = f'{path}:{num}'
        if num_classes is None:
            mask |= rasterise_polygons([poly * [w, h]], size, where)
            continue
        if cls + 1 >= num_classes:
            raise ConversionError(
                f'{where}: YOLO class {cls} is class {cls + 1}, beyond the '
                f'{num_classes} --class-names')
        part = rasterise_polygons([poly * [w, h]], size, where)
        mask[part > 0] = cls + 1
    return mask


#: Folder names of an export's splits, and the mmseg split each becomes.
EXPORT_SPLITS = (('train', 'train'), ('valid', 'val'), ('val', 'val'),
                 ('test', 'test'))


def find_data_yaml(*folders) -> Optional[str]:
    """The first ``data.yaml`` in ``folders``, their parents or
    grandparents (``export/train/images`` -> ``export/data.yaml``)."""
    for folder in folders:
        if not folder:
            continue
        parent = osp.dirname(osp.abspath(folder))
        for d in (folder, parent, osp.dirname(parent)):
            path = osp.join(d, 'data.yaml')
            if osp.isfile(path):
                return path
    return None


def yaml_names(path: str) -> List[str]:
    """The class ``names`` of an export's ``data.yaml`` (a list, or a dict
    of id to name), in id order."""
    import yaml
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConversionError(f'{path}: not valid YAML ({e})') from None
    names = data.get('names') if isinstance(data, dict) else None
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise ConversionError(f'{path}: no class "names" list')
    if 'nc' in data and int(data['nc']) != len(names):
        raise ConversionError(f'{path}: nc is {data["nc"]} but names lists '
                              f'{len(names)} classes')
    return [str(n) for n in names]


def export_folders(root: str) -> List[Tuple[Optional[str], str, str]]:
    """``(split, image folder, label folder)`` of each split folder of a
    YOLO export; an export of one folder (``images/`` and ``labels/`` at
    its root) has no split (None)."""
    if osp.isdir(osp.join(root, 'images')):
        return [(None, osp.join(root, 'images'), osp.join(root, 'labels'))]
    out = []
    for folder, split in EXPORT_SPLITS:
        images = osp.join(root, folder, 'images')
        if osp.isdir(images):
            out.append((split, images, osp.join(root, folder, 'labels')))
    if not out:
        raise ConversionError(
            f'{root}: no images/ folder, nor train/, valid/ or test/ with '
            'images/ (a YOLO export); for other folders use --img-dir and '
            '--label-dir')
    return out


def yolo_samples(img_dir: str, label_dir: str, classes=None,
                 num_classes=None):
    images = files_by_stem(img_dir)
    labels = files_by_stem(label_dir, ('.txt', ))
    samples, unpaired = [], []
    for stem, image in images.items():
        if stem not in labels:
            unpaired.append(osp.basename(image))
            continue
        # parsed once, here, so syntax errors fail before anything is written
        polys = read_yolo_polygons(labels[stem], classes)
        samples.append(Sample(
            stem, image,
            lambda size, polys=polys, p=labels[stem]: yolo_mask(
                polys, size, p, num_classes)))
    if not samples and not unpaired:
        raise ConversionError(f'{img_dir}: no images')
    return samples, unpaired


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--img-dir')
    parser.add_argument('--label-dir')
    parser.add_argument('--export-root',
                        help='a YOLO export with train/ valid/ test/ '
                        'folders of images/ and labels/ (instead of '
                        '--img-dir and --label-dir); its splits are kept')
    parser.add_argument('--resplit', action='store_true',
                        help='with --export-root: split by source photo '
                        'with --split/--seed instead of the export\'s splits')
    parser.add_argument('--data-yaml',
                        help="the export's data.yaml (class names); found "
                        'beside the folders by default')
    parser.add_argument('--classes', nargs='+', type=int, metavar='ID',
                        help='defect class ids, unioned as one defect '
                        '(default: all)')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    if bool(args.export_root) == bool(args.img_dir or args.label_dir):
        parser.error('give --export-root, or --img-dir and --label-dir')
    if args.img_dir and not args.label_dir or \
            args.label_dir and not args.img_dir:
        parser.error('--img-dir and --label-dir go together')
    if args.resplit and not args.export_root:
        parser.error('--resplit goes with --export-root')
    folders = export_folders(args.export_root) if args.export_root else [
        (None, args.img_dir, args.label_dir)]
    data_yaml = args.data_yaml or find_data_yaml(
        args.export_root, args.img_dir, args.label_dir)
    yolo_names = yaml_names(data_yaml) if data_yaml else None
    names = parse_classes(args.class_names)
    if names is None and yolo_names and len(yolo_names) > 1 and \
            not args.classes:
        names = ['background'] + yolo_names
        args.class_names = names  # what run_converter writes
        print(f'{data_yaml}: {len(yolo_names)} classes, converted as '
              f'classes {names} (pass --classes to union some as one '
              'defect)')
    samples, unpaired, by_split = [], [], {}
    for split, img_dir, label_dir in folders:
        part, lost = yolo_samples(img_dir, label_dir, args.classes,
                                  len(names) if names else None)
        samples += part
        unpaired += lost
        if split is not None:
            by_split.setdefault(split, []).extend(x.stem for x in part)
    groups = {x.stem: roboflow_source(x.stem) for x in samples}
    info = dict(yolo_classes=args.classes or 'all') if names else \
        dict(classes=args.classes or 'all')
    if yolo_names:
        info.update(yolo_names=yolo_names, data_yaml=osp.abspath(data_yaml))
        if not names:
            picked = args.classes or range(len(yolo_names))
            info['defect_name'] = '+'.join(
                yolo_names[c] for c in picked if c < len(yolo_names))
    source = args.export_root or args.label_dir
    return run_converter(
        args, samples, f'YOLO-seg {osp.abspath(source)}',
        unpaired=unpaired, extra_info=info,
        split=None if args.resplit or not by_split else by_split,
        groups=groups)


if __name__ == '__main__':
    converter_main(main)
