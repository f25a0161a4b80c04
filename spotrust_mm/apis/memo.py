"""What the post-hoc fits of :mod:`spotrust_mm.apis.calibration` compute
once per image: they pass over the validation split some ten times, each
time with other (temperature, bias) pairs, and the model's output before
those transforms is the same on every pass."""
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample


class _KeptWithin:
    """Outputs kept by key while their bytes stay within ``max_bytes``
    (the budget both memos share)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.kept, self.nbytes = {}, 0

    def keep(self, key, value, nbytes: int) -> None:
        """Keep ``value`` under ``key`` if it is new and fits."""
        if key not in self.kept and self.nbytes + nbytes <= self.max_bytes:
            self.kept[key] = value
            self.nbytes += nbytes


class MemoizedPredictions(_KeptWithin):
    """A deterministic segmentor whose ``predict`` runs once per image: the
    fits pass over the validation split some ten times, and a plain mmseg
    model (or the classical detector) gives the same logits each time, so
    they are kept (``seg_logits`` only, keyed by the image path) up to
    ``max_bytes`` and given back after; every other attribute is the
    model's. Not for sampling segmentors, whose draws are made per call.

    Args:
        model: The segmentor, in eval mode.
        max_bytes (int): The most memory the kept logits take; images
            beyond it are predicted again each time. Defaults to 4 GiB.
    """

    def __init__(self, model, max_bytes: int = 4 << 30):
        super().__init__(max_bytes)
        self.model = model

    def __getattr__(self, name):
        return getattr(self.model, name)

    def predict(self, inputs, data_samples) -> list:
        keys = [ds.get('img_path') for ds in data_samples]
        if None in keys or any(k not in self.kept for k in keys):
            results = self.model.predict(inputs, data_samples)
            for key, r in zip(keys, results):
                if key is not None:
                    self.keep(key, r.seg_logits.data, r.seg_logits.data.nbytes)
            return results
        return [SegDataSample(seg_logits=PixelData(data=self.kept[k]))
                for k in keys]


class MemoizedSamples(_KeptWithin):
    """While entered, a sampling segmentor's ``sample_outputs`` runs once
    per image: each image's samples are kept (keyed by the image path,
    the input shape and the request's sample and window counts) up to
    ``max_bytes`` and given back on the fits' later passes over the
    validation split, so the backbone and the samples run once per image
    and only the (T, b) transforms per pass. Exact, and used, only where
    an image's samples are the same on every call: a seeded model (each
    image's draws start at the seed) or a deterministic one (an
    ensemble's members), in whole-image inference (slide windows share
    their image's path); otherwise the model runs as it is.

    Args:
        model: A :class:`UncertaintyPredictorMixin` segmentor, in eval
            mode.
        max_bytes (int): The most memory the kept samples take; images
            beyond it are sampled again each time. Defaults to 4 GiB.
    """

    def __init__(self, model, max_bytes: int = 4 << 30):
        super().__init__(max_bytes)
        self.model = model
        self.calls = 0

    @staticmethod
    def exact_for(model) -> bool:
        """Whether ``model``'s samples of an image are the same on every
        call, in whole-image inference."""
        mode = (getattr(model, 'test_cfg', None) or {}).get('mode', 'whole')
        return mode == 'whole' and (
            getattr(model, 'seed', None) is not None
            or not getattr(model, 'is_stochastic', False))

    def __enter__(self):
        if self.exact_for(self.model):
            self.model.sample_outputs = self._sample_outputs
        return self.model

    def __exit__(self, *exc):
        self.model.__dict__.pop('sample_outputs', None)
        return False

    def _sample_outputs(self, inputs, batch_img_metas, request=None):
        paths = tuple(m.get('img_path') for m in batch_img_metas)
        key = (paths, tuple(inputs.shape),
               None if request is None else request.num_samples,
               1 if request is None else request.window_count)
        if key in self.kept:
            return self.kept[key]
        self.calls += 1
        out = type(self.model).sample_outputs(self.model, inputs,
                                              batch_img_metas, request)
        if None not in paths:
            self.keep(key, out, sum(t.nbytes for t in out if t is not None))
        return out
