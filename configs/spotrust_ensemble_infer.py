# SpotRust deep ensemble, inference form: K members trained separately,
# combined by EnsembleSegmentor (mean probability, std across members,
# mean aleatoric variance). tools/train_ensemble.py writes a copy of this
# with the members' checkpoints filled in; edit the paths below to use it
# by hand. Use with tools/test.py or tools/infer.py (no checkpoint argument).
_base_ = [
    '_base_/datasets/corrosion_synthetic.py',
    '_base_/schedules/schedule_adam_plateau.py', '_base_/default_runtime.py'
]
member_config = 'configs/spotrust_ensemble.py'
model = dict(
    type='EnsembleSegmentor',
    members=[
        dict(
            config=member_config,
            checkpoint=f'work_dirs/spotrust_ensemble/member_{k}/'
            'epoch_100.pth') for k in range(3)
    ],
    threshold=0.5,
    test_cfg=dict(mode='whole'))
