"""Seeded synthetic corrosion images: the embedded default dataset.

Each image is a painted steel surface (smooth paint colour, brush texture,
lighting gradient) with, on most images, rust patches: irregular blobs of
dull orange-brown with strong pitting texture. Two things make the task
more than a colour threshold: soft shadows that darken paint and rust
alike, and red-primer patches whose colour is close to rust but whose
surface is smooth (label 0). The ``ood`` style swaps the scene for foliage
and water-like textures with no rust, for out-of-distribution checks.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ..fileio import make_temp_dir

PAINT_COLOURS = np.array([  # RGB in [0, 1]
    [0.55, 0.57, 0.60],  # grey
    [0.25, 0.38, 0.55],  # blue
    [0.30, 0.45, 0.35],  # green
    [0.80, 0.78, 0.70],  # off-white
    [0.78, 0.66, 0.25],  # safety yellow
])
RUST_COLOUR = np.array([0.50, 0.25, 0.12])
PRIMER_COLOUR = np.array([0.62, 0.16, 0.13])
META_FILE = 'spotrust_synthetic.json'
DEFAULT_NUM_IMAGES = {'train': 48, 'val': 16}


def smooth_noise(rng: np.random.Generator, size: int,
                 cells: int) -> np.ndarray:
    """Noise in [0, 1] that varies over about ``size / cells`` pixels."""
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    field = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    field -= field.min()
    return field / max(float(field.max()), 1e-6)


def blob_mask(rng: np.random.Generator, size: int,
              radius: Tuple[float, float]) -> np.ndarray:
    """A boolean irregular blob: a noisy-edged ellipse."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.1, 0.9, 2) * size
    ry, rx = rng.uniform(*radius, 2) * size
    angle = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
    dist = np.sqrt(u * u + v * v)
    edge = 0.55 * smooth_noise(rng, size, 6) + 0.15 * smooth_noise(
        rng, size, 20)
    return dist < 0.6 + edge


def render_image(rng: np.random.Generator,
                 size: int = 128,
                 style: str = 'steel') -> Tuple[np.ndarray, np.ndarray]:
    """Render one RGB image (uint8) and its 0/1 corrosion mask.

    Args:
        rng (np.random.Generator): Source of randomness.
        size (int): Side length in pixels. Defaults to 128.
        style (str): 'steel' (in-distribution) or 'ood'.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W, 3) RGB uint8, (H, W) uint8.
    """
    mask = np.zeros((size, size), bool)
    if style == 'steel':
        paint = PAINT_COLOURS[rng.integers(len(PAINT_COLOURS))]
        paint = np.clip(paint + rng.normal(0, 0.04, 3), 0, 1)
        img = np.broadcast_to(paint, (size, size, 3)).copy()
        brush = cv2.GaussianBlur(
            rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0),
            sigmaX=6, sigmaY=0.5)
        img *= (1 + 0.05 * brush)[..., None]
        for _ in range(rng.integers(0, 3)):  # red primer: smooth, unlabelled
            primer = blob_mask(rng, size, (0.08, 0.25))
            colour = np.clip(PRIMER_COLOUR + rng.normal(0, 0.04, 3), 0, 1)
            img[primer] = colour * (0.95 + 0.05 * smooth_noise(
                rng, size, 4)[primer, None])
        if rng.random() > 0.1:  # rust: textured, labelled
            for _ in range(rng.integers(1, 4)):
                rust = blob_mask(rng, size, (0.06, 0.22))
                colour = np.clip(RUST_COLOUR + rng.normal(0, 0.05, 3), 0, 1)
                pits = rng.random((size, size)).astype(np.float32)
                pits = cv2.GaussianBlur(pits, (0, 0), 0.8)
                tone = 0.55 + 0.9 * pits + 0.3 * smooth_noise(rng, size, 10)
                img[rust] = np.clip(colour * tone[rust, None], 0, 1)
                mask |= rust
    elif style == 'ood':
        leaf = np.array([0.15, 0.45, 0.12]) + rng.normal(0, 0.05, 3)
        water = np.array([0.10, 0.30, 0.50]) + rng.normal(0, 0.05, 3)
        mix = smooth_noise(rng, size, 3)[..., None]
        grain = smooth_noise(rng, size, 40)[..., None]
        img = np.clip(mix * leaf + (1 - mix) * water, 0, 1) * (0.6 +
                                                                0.8 * grain)
    else:
        raise ValueError(f'unknown style {style!r}: use steel or ood')
    light = 0.8 + 0.4 * smooth_noise(rng, size, 2)
    img *= light[..., None]
    for _ in range(rng.integers(0, 3)):  # soft shadows over everything
        shadow = blob_mask(rng, size, (0.15, 0.45)).astype(np.float32)
        shadow = cv2.GaussianBlur(shadow, (0, 0), 4)
        img *= (1 - rng.uniform(0.3, 0.6) * shadow)[..., None]
    img += rng.normal(0, 0.015, img.shape)  # sensor noise
    img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return img, mask.astype(np.uint8)


def generate_synthetic_dataset(root: str,
                               num_images: Optional[Dict[str, int]] = None,
                               size: int = 128,
                               seed: int = 0,
                               ood_split: Optional[str] = None) -> None:
    """Write the synthetic set in mmseg's layout under ``root``.

    Writes ``img_dir/<split>/<i>.png`` (RGB) and ``ann_dir/<split>/<i>.png``
    (0/1) for each split, and ``spotrust_synthetic.json`` with the
    arguments. Images depend only on (seed, split, index).

    Args:
        root (str): Output folder; must not exist yet.
        num_images (dict[str, int], optional): Images per split. Defaults to
            48 train and 16 val.
        size (int): Side length. Defaults to 128.
        seed (int): Seed. Defaults to 0.
        ood_split (str, optional): Name of a split rendered in the 'ood'
            style (e.g. 'ood'); its masks are all background.
    """
    num_images = dict(num_images or DEFAULT_NUM_IMAGES)
    for split, count in num_images.items():
        style = 'ood' if split == ood_split else 'steel'
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for i in range(count):
            rng = np.random.default_rng(
                [seed, sum(map(ord, split)), len(split), i])
            img, mask = render_image(rng, size, style)
            name = f'{i:04d}.png'
            cv2.imwrite(
                osp.join(root, 'img_dir', split, name),
                cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            cv2.imwrite(osp.join(root, 'ann_dir', split, name), mask)
    meta = dict(num_images=num_images, size=size, seed=seed,
                ood_split=ood_split)
    with open(osp.join(root, META_FILE), 'w') as f:
        json.dump(meta, f, indent=2, sort_keys=True)


def ensure_synthetic_dataset(root: str, **kwargs) -> bool:
    """Generate the synthetic set into ``root`` unless it is already there.

    The set is written to a temporary folder beside ``root`` and renamed
    into place, so an interrupted run leaves no half-written dataset. An
    existing ``root`` is never modified: if it holds a synthetic set made
    with other arguments, or anything else, a ``FileExistsError`` names it.

    Args:
        root (str): Dataset folder.
        **kwargs: :func:`generate_synthetic_dataset` arguments.

    Returns:
        bool: True if the set was generated now.
    """
    wanted = dict(num_images=dict(kwargs.get('num_images') or
                                  DEFAULT_NUM_IMAGES),
                  size=kwargs.get('size', 128), seed=kwargs.get('seed', 0),
                  ood_split=kwargs.get('ood_split'))
    meta_path = osp.join(root, META_FILE)
    if osp.exists(root):
        if not osp.isfile(meta_path):
            raise FileExistsError(
                f'{root}: exists but is not a SpotRust synthetic dataset '
                f'(no {META_FILE}); choose another data_root')
        with open(meta_path) as f:
            found = json.load(f)
        if found != json.loads(json.dumps(wanted, sort_keys=True)):
            raise FileExistsError(
                f'{meta_path}: synthetic dataset made with {found}, but '
                f'{wanted} was asked for; remove it or use another data_root')
        return False
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = make_temp_dir(parent, '.spotrust-synthetic-')
    try:
        generate_synthetic_dataset(tmp, **wanted)
        try:
            os.rename(tmp, root)
        except OSError:
            if not osp.isfile(meta_path):  # not a concurrent twin: re-raise
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True
