"""Maths and the shared predict path of the uncertainty segmentors."""
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from .summaries import (CLASS_UNCERTAINTY_FIELDS, binary_entropies,
                        loss_class_weight, mean_probability, mean_softmax_at,
                        prior_correction, probability_logit,
                        summarize_class_samples, summarize_samples)
from .head_outputs import (_restore_original_shape,  # noqa: F401
                           predicts_log_var, split_head_output)
from .random_streams import (get_rng_state, seeded,  # noqa: F401
                             set_rng_state)
from .sampling_request import (BINARY_ENTROPY_FIELDS,  # noqa: F401
                               UNCERTAINTY_FIELDS, SamplingRequest,
                               summary_channels)
from .windows import slide_inference

class UncertaintyPredictorMixin:
    """Predict path shared by :class:`BayesianEncoderDecoder` and
    :class:`EnsembleSegmentor`.

    A subclass implements :meth:`sample_outputs`, returning S stochastic
    (or member) logits and log variances at the input's size. This mixin
    reduces them in ``encode_decode`` (:func:`summarize_samples`, or
    :func:`summarize_class_samples` for K classes), so mmseg's whole-image
    and sliding-window inference both carry every field, and writes them
    into each :class:`SegDataSample`. What a call asks of the sampling
    (samples, entropies, calibration transforms, random streams, windows
    batched) is one :class:`SamplingRequest`, passed from the predictor to
    :meth:`sample_outputs`. Binary (a sigmoid head):

    - ``seg_logits``: the logit of the mean defect probability, as mmseg's
      one-channel heads give a logit (its sigmoid is the probability,
      :func:`probability_logit`);
    - ``pred_sem_seg``: mean probability ``> threshold`` (0/1);
    - ``epistemic_uncertainty``: std of the probability over samples;
    - ``aleatoric_uncertainty``: mean predicted variance ``exp(s)``.

    K classes (a softmax head, docs/multiclass.md):

    - ``seg_logits``: (K, H, W) log of the mean softmax over samples, so
      that its softmax (as mmseg takes it) is the predictive distribution;
    - ``pred_sem_seg``: the class of largest mean probability;
    - ``epistemic_uncertainty``: mutual information (nats);
    - ``aleatoric_uncertainty``: mean predicted variance ``exp(s)``;
    - ``predictive_entropy``: entropy of the mean softmax (nats, total);
    - ``expected_entropy``: mean entropy of the samples (nats, aleatoric).

    The subclass sets ``threshold``, ``seed``, ``log_var_range``,
    ``align_corners``, ``test_cfg`` and ``out_channels``
    (:func:`summary_channels`).
    """

    def inference(self, inputs: Tensor, batch_img_metas: List[dict],
                  request: Optional[SamplingRequest] = None) -> Tensor:
        """mmseg's ``EncoderDecoder.inference`` (whole image or sliding
        windows by ``test_cfg.mode``), passing ``request`` on."""
        mode = (self.test_cfg or {}).get('mode', 'whole')
        if mode not in ('slide', 'whole'):
            raise ValueError(f"test_cfg.mode must be 'slide' or 'whole', got "
                             f'{mode!r}')
        if mode == 'slide':
            return self.slide_inference(inputs, batch_img_metas, request)
        return self.encode_decode(inputs, batch_img_metas, request)

    def whole_inference(self, inputs: Tensor, batch_img_metas: List[dict],
                        request: Optional[SamplingRequest] = None) -> Tensor:
        return self.encode_decode(inputs, batch_img_metas, request)

    def slide_inference(self, inputs: Tensor, batch_img_metas: List[dict],
                        request: Optional[SamplingRequest] = None) -> Tensor:
        """mmseg's sliding-window inference, batching windows when
        ``test_cfg.window_batch`` asks (:func:`~.windows.slide_inference`).
        """
        return slide_inference(self, inputs, batch_img_metas, request)

    def sample_outputs(self, inputs: Tensor, batch_img_metas: List[dict],
                       request: Optional[SamplingRequest] = None
                       ) -> Tuple[Tensor, Tensor]:
        """Return logits and log variances, each (S, N, H, W)."""
        raise NotImplementedError

    @contextmanager
    def image_streams(self, inputs: Tensor
                      ) -> Iterator[Optional[List[Tensor]]]:
        """Seed the sampling (if ``seed`` is set): yields one random stream
        per image of the batch, each starting at the seed, for a
        :class:`SamplingRequest`'s ``rng_states``, so an image gets the maps
        it gets alone (None when unseeded); the global RNG is restored
        after."""
        with seeded(self.seed, inputs.device):
            yield [get_rng_state(inputs.device)] * len(inputs) \
                if self.seed is not None else None

    def backbone_input(self, module, x: Tensor) -> Tensor:
        """``x`` for ``module``'s backbone: with ``test_cfg.channels_last``
        the backbone (once) and ``x`` go channels-last, which oneDNN runs
        about 2.4x faster on the CPU (docs/benchmarks.md)."""
        if not (self.test_cfg or {}).get('channels_last'):
            return x
        if not getattr(module.backbone, 'channels_last', False):
            module.backbone.to(memory_format=torch.channels_last)
            module.backbone.channels_last = True
        return x.contiguous(memory_format=torch.channels_last)

    @staticmethod
    def head_features(feats):
        """Features in the default memory format, as the fused head's
        products flatten them (a no-op unless channels-last)."""
        return [f.contiguous() for f in feats]

    @property
    def temperature(self) -> float:
        """Post-hoc temperature, ``test_cfg.temperature`` (1 if unset;
        written by tools/calibrate.py, see :func:`summarize_samples`)."""
        return float((self.test_cfg or {}).get('temperature', 1.0))

    @property
    def logit_bias(self):
        """Post-hoc logit bias, ``test_cfg.logit_bias`` (None if unset;
        written by tools/calibrate.py, see :func:`scaled_logits`); the
        string 'prior' is the prior correction of the loss's class weight
        (:func:`prior_correction`)."""
        bias = (self.test_cfg or {}).get('logit_bias')
        if not isinstance(bias, str):
            return bias
        weight = loss_class_weight(self)
        if bias != 'prior' or weight is None:
            raise ValueError(f"test_cfg.logit_bias={bias!r}: a list of "
                             "biases, or 'prior' for a model whose loss has "
                             'a class weight')
        return prior_correction(weight)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict],
                      request: Optional[SamplingRequest] = None) -> Tensor:
        """The summary (:func:`summary_channels`, with the binary
        entropies if ``request.entropies``); or, for a request with
        ``transforms``, the mean probabilities at each (temperature, bias)
        pair: (N, T, H, W) binary, (N, T * K, H, W) for K classes."""
        request = request or SamplingRequest()
        logits, log_vars = self.sample_outputs(inputs, batch_img_metas,
                                               request)
        binary = logits.dim() == 4
        if request.transforms is not None:
            if binary:
                return torch.stack([mean_probability(logits, t, b)
                                    for t, b in request.transforms], 1)
            return torch.cat(mean_softmax_at(logits, request.transforms), 1)
        summarize = summarize_samples if binary else summarize_class_samples
        summary = summarize(logits, log_vars, self.log_var_range,
                            self.temperature, self.logit_bias)
        if binary and request.entropies:
            summary = torch.cat([summary, binary_entropies(
                logits, self.temperature, self.logit_bias)], 1)
        return summary

    def num_logits(self) -> int:
        """Logits per sample: 1 (binary sigmoid) or K."""
        return 1 if self.out_channels == len(UNCERTAINTY_FIELDS) else \
            self.out_channels - len(CLASS_UNCERTAINTY_FIELDS)

    def num_output_samples(self) -> int:
        """S, the samples (or members) :meth:`sample_outputs` returns."""
        raise NotImplementedError

    def predict_at_temperatures(
            self,
            inputs: Tensor,
            data_samples: SampleList,
            temperatures: Sequence[float],
            pixels: Optional[Sequence[Tensor]] = None,
            chunk: int = 8,
            biases: Optional[Sequence] = None) -> List[Tensor]:
        """The mean probability that :meth:`predict` gives at each of K
        temperatures, from one pass of the backbone and the samples: what
        tools/calibrate.py fits a temperature on, so that it fits the
        predictor that is deployed.

        Each temperature's probability is made as :meth:`predict` makes it
        with ``test_cfg.temperature`` set to it (the same
        :func:`mean_probability`): averaged over overlapping windows in
        slide mode and resized to the original image as probabilities.
        Seeded like :meth:`predict`.

        Args:
            inputs (Tensor): (N, C, H, W) images.
            data_samples (list[SegDataSample]): With metainfo.
            temperatures (Sequence[float]): K temperatures (> 0).
            pixels (Sequence[Tensor], optional): Per image, flat indices
                into the original H x W to return (bounds memory for
                large photos and many temperatures); None for all.
            chunk (int): Temperatures resized to the original size at a
                time. Defaults to 8.
            biases (Sequence, optional): A logit bias per temperature
                (``test_cfg.logit_bias`` values: see :func:`scaled_logits`),
                paired with ``temperatures``; None for none.

        Returns:
            list[Tensor]: Per image, (T, H, W) at the original size, or
            (T, P) at ``pixels``; for K classes (T, K, H, W) or (T, K, P).
            ``chunk`` counts channels then (a temperature has K).
        """
        if len(temperatures) == 0 or min(temperatures) <= 0:
            raise ValueError(f'temperatures must be > 0: {temperatures}')
        biases = [None] * len(temperatures) if biases is None else biases
        if len(biases) != len(temperatures):
            raise ValueError(f'{len(biases)} biases for '
                             f'{len(temperatures)} temperatures')
        metas = [ds.metainfo for ds in data_samples]
        per_temperature = self.num_logits()
        with self.image_streams(inputs) as streams:
            out = self.inference(inputs, metas, SamplingRequest(
                transforms=[(float(t), b)
                            for t, b in zip(temperatures, biases)],
                rng_states=streams))
        results = []
        for i, (field, meta) in enumerate(zip(out, metas)):
            parts = []
            for start in range(0, len(field), chunk):
                part = _restore_original_shape(
                    field[None, start:start + chunk], meta,
                    self.align_corners)[0]
                if pixels is not None:
                    part = part.flatten(1)[:, pixels[i]]
                parts.append(part)
            out_t = torch.cat(parts)
            if per_temperature > 1:
                out_t = out_t.unflatten(0, (len(temperatures),
                                            per_temperature))
            results.append(out_t)
        return results

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None,
                request: Optional[SamplingRequest] = None) -> SampleList:
        """Predict the defect and its uncertainty, seeded if ``seed`` is set.

        With a seed, each image's noise comes from its own random stream
        started at the seed (the request's ``rng_states``, used by
        :meth:`sample_outputs`), so an image gets the same maps in a batch
        as alone, up to float rounding of the batched backbone.

        Args:
            inputs (Tensor): Images, (N, C, H, W).
            data_samples (list[SegDataSample], optional): With metainfo.
            request (SamplingRequest, optional): e.g.
                ``SamplingRequest(entropies=True)`` for a binary model's
                entropies (tools/select_for_labelling.py); its random
                streams are set here.

        Returns:
            list[SegDataSample]: With the fields described above.
        """
        if data_samples is not None:
            batch_img_metas = [ds.metainfo for ds in data_samples]
        else:
            batch_img_metas = [
                dict(
                    ori_shape=inputs.shape[2:],
                    img_shape=inputs.shape[2:],
                    pad_shape=inputs.shape[2:],
                    padding_size=[0, 0, 0, 0])
            ] * inputs.shape[0]
        with self.image_streams(inputs) as streams:
            summary = self.inference(inputs, batch_img_metas, replace(
                request or SamplingRequest(), rng_states=streams))
        return self.postprocess_result(summary, data_samples)

    def postprocess_result(self,
                           summary: Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """Write the summary into :class:`SegDataSample`s (the fields in
        the class docstring)."""
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(len(summary))]
            metas = [None] * len(summary)
        else:
            metas = [ds.metainfo for ds in data_samples]
        for data_sample, field, meta in zip(data_samples, summary, metas):
            field = field[None]
            if meta is not None:
                field = _restore_original_shape(field, meta,
                                                self.align_corners)
            field = field[0]
            k = self.num_logits()
            if k == 1:
                prob = field[0:1]
                data_sample.set_data({
                    name: PixelData(data=field[i:i + 1])
                    for i, name in enumerate(UNCERTAINTY_FIELDS +
                                             BINARY_ENTROPY_FIELDS)
                    if 0 < i < len(field)
                })
                data_sample.set_data(
                    {'seg_logits': PixelData(data=probability_logit(prob))})
                pred = (prob > self.threshold).long()
            else:
                probs = field[:k]
                data_sample.set_data({
                    name: PixelData(data=field[k + i:k + i + 1])
                    for i, name in enumerate(CLASS_UNCERTAINTY_FIELDS)
                })
                data_sample.set_data({
                    'seg_logits':
                    PixelData(data=probs.clamp_min(1e-12).log())
                })
                pred = probs.argmax(0, keepdim=True)
            data_sample.set_data({'pred_sem_seg': PixelData(data=pred)})
        return data_samples
