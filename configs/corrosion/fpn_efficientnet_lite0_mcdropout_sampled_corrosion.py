# fpn_efficientnet_lite0_mcdropout_corrosion.py (MC dropout p=0.5 and a
# learned log variance) trained with Kendall and Gal's sampled-logit loss
# for one sigmoid logit (BayesianSampledBCELoss: -log mean_t sigmoid(
# y'(f + sigma eps_t))) in place of the paper's exp(-s)-weighted BCE, whose
# damping of the hard pixels' gradient needs the beta warm-up; this loss has
# no such factor, so no warm-up.
_base_ = './fpn_efficientnet_lite0_mcdropout_corrosion.py'
model = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='BayesianSampledBCELoss',
            class_weight={{_base_.class_weight}})))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5)
]
