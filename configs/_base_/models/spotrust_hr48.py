# HRNetV2-W48, the SpotRust paper's backbone, initialised from ImageNet.
# Expected file (mmseg's 'open-mmlab://msra/hrnetv2_w48'; nothing is
# downloaded here, put it there yourself):
#   checkpoints/hrnetv2_w48-d2186c55.pth
#   from https://download.openmmlab.com/pretrain/third_party/
#        hrnetv2_w48-d2186c55.pth
_base_ = './spotrust_hr18.py'
widths = [48, 96, 192, 384]
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='checkpoints/hrnetv2_w48-d2186c55.pth'),
        extra=dict(
            stage2=dict(num_channels=(48, 96)),
            stage3=dict(num_channels=(48, 96, 192)),
            stage4=dict(num_channels=(48, 96, 192, 384)))),
    decode_head=dict(in_channels=widths, channels=sum(widths)))
