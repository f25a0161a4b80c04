# MC dropout on your own photos, converted into data/defects by a script in
# tools/dataset_converters. Recipe: _base_/recipes/spotrust_mcdropout_warmup.py
# (HRNetV2-W18 from scratch, warm-up, Adam 1e-3), 480x480 crops. Set the
# class weight your converter printed:
#   python tools/train.py configs/photos/spotrust_mcdropout.py \
#       --cfg-options model.decode_head.loss_decode.class_weight=[1.0,W]
# For the paper's W48 recipe with ImageNet weights see configs/paper/.
_base_ = [
    '../_base_/recipes/spotrust_mcdropout_warmup.py',
    '../_base_/datasets/defect_photos.py'
]
model = dict(
    decode_head=dict(loss_decode=dict(class_weight={{_base_.class_weight}})))
