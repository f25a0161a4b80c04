"""The images a tool is given: files, or folders of them."""
import glob
import os.path as osp
from typing import List, Sequence, Tuple

from ..datasets.conversion import IMAGE_EXTENSIONS


def image_inputs(paths: Sequence[str]) -> List[Tuple[str, str]]:
    """``(path, label)`` of every image named by ``paths``.

    A folder gives its files with an image extension (any case), sorted,
    labelled by their path inside the folder; a file is taken as it is
    (whatever its extension) and labelled as given. A path that does not
    exist, or a folder without images, is an error: those are mistakes in
    the command, not bad files.
    """
    images = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(
                f for f in glob.glob(osp.join(path, '*'))
                if osp.isfile(f) and f.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise FileNotFoundError(f'{path}: no images in folder')
            images += [(f, osp.relpath(f, path)) for f in found]
        elif osp.isfile(path):
            images.append((path, path))
        else:
            raise FileNotFoundError(f'{path}: no such image or folder')
    return images
