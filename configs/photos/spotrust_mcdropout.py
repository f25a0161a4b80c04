# MC dropout on your own photos, converted into data/defects by a script in
# tools/dataset_converters. Recipe: _base_/recipes/spotrust_mcdropout_warmup.py
# (HRNetV2-W18, warm-up, Adam 1e-3), 480x480 crops, from mmseg's ImageNet
# weights ('open-mmlab://msra/hrnetv2_w18': mmengine downloads them on first
# use into torch's hub cache; offline, tools/train.py names the file to place
# there). Set the class weight your converter printed:
#   python tools/train.py configs/photos/spotrust_mcdropout.py \
#       --cfg-options model.decode_head.loss_decode.class_weight=[1.0,W]
# From scratch: add model.backbone.init_cfg=None to the options.
# For the paper's W48 recipe see configs/paper/.
_base_ = [
    '../_base_/recipes/spotrust_mcdropout_warmup.py',
    '../_base_/datasets/defect_photos.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(loss_decode=dict(class_weight={{_base_.class_weight}})))
