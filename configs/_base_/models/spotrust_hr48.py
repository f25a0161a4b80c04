# HRNetV2-W48, the SpotRust paper's backbone, initialised from ImageNet:
# mmseg's 'open-mmlab://msra/hrnetv2_w48', which mmengine downloads on first
# use into torch's hub cache ($TORCH_HOME/hub/checkpoints/
# hrnetv2_w48-d2186c55.pth). Offline, tools/train.py names the URL and the
# file to place; --cfg-options model.backbone.init_cfg=None trains from
# scratch.
_base_ = './spotrust_hr18.py'
widths = [48, 96, 192, 384]
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='open-mmlab://msra/hrnetv2_w48'),
        extra=dict(
            stage2=dict(num_channels=(48, 96)),
            stage3=dict(num_channels=(48, 96, 192)),
            stage4=dict(num_channels=(48, 96, 192, 384)))),
    decode_head=dict(in_channels=widths, channels=sum(widths)))
