"""The selection maths against hand-computed values."""
import math

import numpy as np
import pytest
import torch

from spotrust_mm.evaluation.acquisition import (aggregate, cosine_similarities,
                                                diverse_top_k, image_scores,
                                                patch_max, pixel_scores,
                                                random_score, top_fraction)
from spotrust_mm.models.segmentors.summaries import binary_entropies


def test_aggregations_by_hand():
    u = np.zeros((4, 6))
    u[0, 0] = 8.0  # one hot pixel
    u[2:4, 4:6] = 2.0  # one 2x2 region
    assert aggregate(u, 'mean') == pytest.approx(16 / 24)
    # 2x2 windows: the region's mean 2 beats the hot pixel's 8 / 4
    assert patch_max(u, 2) == pytest.approx(2.0)
    # 1x1 windows: the hot pixel
    assert patch_max(u, 1) == pytest.approx(8.0)
    # a window larger than the image is the whole image
    assert patch_max(u, 64) == pytest.approx(16 / 24)
    # top 5/24: 8, 2, 2, 2, 2 -> 16 / 5
    assert top_fraction(u, 5 / 24) == pytest.approx(16 / 5)
    # ceil(0.01 * 24) = 1 pixel
    assert top_fraction(u, 0.01) == pytest.approx(8.0)
    with pytest.raises(ValueError, match='aggregation'):
        aggregate(u, 'median')
    with pytest.raises(ValueError, match='fraction'):
        top_fraction(u, 0)


def test_pixel_scores_and_mutual_information():
    fields = dict(epistemic_uncertainty=np.full((2, 2), 0.1),
                  predictive_entropy=np.array([[0.7, 0.5], [0.1, 0.2]]),
                  expected_entropy=np.array([[0.2, 0.5], [0.1, 0.3]]))
    np.testing.assert_allclose(pixel_scores(fields, 'mutual_information'),
                               [[0.5, 0.0], [0.0, 0.0]])  # clamped at 0
    scores = image_scores(fields, patch=1, fraction=0.25)
    assert scores['entropy/mean'] == pytest.approx(1.5 / 4)
    assert scores['entropy/patch_max'] == pytest.approx(0.7)
    assert scores['mutual_information/top_fraction'] == pytest.approx(0.5)
    assert len(scores) == 9
    with pytest.raises(ValueError, match='strategy'):
        pixel_scores(fields, 'random')


def test_binary_entropies_by_hand():
    # two samples, p = 0.2 and 0.8: mean 0.5, total ln 2, expected H(0.2)
    logits = torch.logit(torch.tensor([0.2, 0.8])).view(2, 1, 1, 1)
    total, expected = binary_entropies(logits)[0, :, 0, 0].tolist()
    h02 = -(0.2 * math.log(0.2) + 0.8 * math.log(0.8))
    assert total == pytest.approx(math.log(2), abs=1e-6)
    assert expected == pytest.approx(h02, abs=1e-6)
    # identical samples: no mutual information
    same = torch.zeros(3, 1, 2, 2)
    t, e = binary_entropies(same)[0]
    torch.testing.assert_close(t, e)


def test_random_score_depends_on_name_and_seed_only():
    a = random_score('photo_001', 0)
    assert a == random_score('photo_001', 0)
    assert 0 <= a < 1
    assert a != random_score('photo_001', 1)
    assert a != random_score('photo_002', 0)


def test_diverse_top_k_skips_near_duplicates_by_hand():
    scores = [0.9, 0.8, 0.7, 0.1]
    features = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [-1.0, -1.0]])
    sim = cosine_similarities(features)
    assert sim[0, 1] > 0.99 and sim[0, 2] < 0.5
    chosen, skipped = diverse_top_k(scores, 2, features, 0.9)
    assert chosen == [0, 2]  # 1 is a near-copy of 0
    assert skipped == {1: (0, pytest.approx(sim[0, 1]))}
    # without the guard the copy is taken
    assert diverse_top_k(scores, 2, features, None)[0] == [0, 1]
    assert diverse_top_k(scores, 2)[0] == [0, 1]
    # too few unlike ones: the skipped copy fills the last place
    chosen, skipped = diverse_top_k(scores, 4, features, 0.9)
    assert chosen == [0, 2, 3, 1] and skipped == {}


def test_the_entropy_request_adds_two_maps_and_changes_nothing_else():
    from mmseg.registry import MODELS

    from spotrust_mm.models.segmentors.sampling_request import \
        SamplingRequest

    from ..conftest import tiny_hrnet_model
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model()).eval()
    x = torch.randn(2, 3, 64, 64)
    plain = model.predict(x)
    extra = model.predict(x, request=SamplingRequest(entropies=True))
    # nothing was set on the model
    assert model.out_channels == 3 and model.num_logits() == 1
    assert not any(hasattr(model, a) for a in (
        'with_entropies', 'fit_transforms', 'window_count',
        'image_rng_states'))
    for a, b in zip(plain, extra):
        for name in ('seg_logits', 'epistemic_uncertainty',
                     'aleatoric_uncertainty', 'pred_sem_seg'):
            torch.testing.assert_close(a.get(name).data, b.get(name).data)
        assert 'predictive_entropy' not in a
        total = b.predictive_entropy.data
        expected = b.expected_entropy.data
        p = torch.sigmoid(b.seg_logits.data)
        # the entropy of the mean is that of the mean probability
        torch.testing.assert_close(
            total, -(p * p.log() + (1 - p) * (1 - p).log()),
            atol=1e-5, rtol=1e-4)
        assert (expected <= total + 1e-6).all()


def test_rank_pool_by_hand():
    """The package's ranking (spotrust_mm.apis.labelling.rank_pool) with
    explicit arguments: the highest scores first, a near-duplicate of a
    chosen photo passed over while the pool has others, then the rest by
    score."""
    from spotrust_mm.apis.labelling import rank_pool
    feats = dict(a=[1.0, 0.0, 0.0], b=[1.0, 0.01, 0.0], c=[0.0, 1.0, 0.0],
                 d=[0.0, 0.0, 1.0])
    scores = dict(a=0.9, b=0.8, c=0.5, d=0.1)
    records = {n: dict(file=f'{n}.jpg', features=feats[n],
                       scores={'entropy/mean': s})
               for n, s in scores.items()}
    rows = rank_pool(records, 'entropy', 'mean', 2)
    assert [r['name'] for r in rows] == ['a', 'c', 'b', 'd']
    assert [r['chosen'] for r in rows] == [True, True, False, False]
    assert rows[2]['similar_to'] == 'a' and rows[2]['similarity'] > 0.9
    plain = rank_pool(records, 'entropy', 'mean', 2, max_similarity=None)
    assert [r['name'] for r in plain] == ['a', 'b', 'c', 'd']
    assert [r['rank'] for r in plain] == [1, 2, 3, 4]
    # random: fixed by name and seed, not by order
    first = [r['name'] for r in rank_pool(records, 'random', 'mean', 4,
                                          seed=3)]
    assert first == [r['name'] for r in rank_pool(
        dict(reversed(list(records.items()))), 'random', 'mean', 4, seed=3)]
    with pytest.raises(ValueError, match='no epistemic/mean score'):
        rank_pool(records, 'epistemic', 'mean', 1)


def test_the_photo_score_as_a_strategy_by_hand():
    """``expected_f1_error`` scores the photo from its defect probability
    and prediction (no aggregation), and ranks a pool by it."""
    from spotrust_mm.apis.labelling import rank_pool
    from spotrust_mm.evaluation.acquisition import score_key
    prob = np.array([[0.9, 0.9], [0.2, 0.0]])
    fields = dict(probability=prob, label_map=(prob > 0.5).astype(np.uint8),
                  predictive_entropy=np.zeros((2, 2)))
    scores = image_scores(fields)
    # expected TP 1.8, FP 0.2, FN 0.2: 1 - (3.6 + 1) / (3.6 + 0.4 + 1)
    assert scores['expected_f1_error'] == pytest.approx(1 - 4.6 / 5.0)
    assert 'expected_f1_error/mean' not in scores
    assert score_key('expected_f1_error', 'patch_max') == 'expected_f1_error'
    assert score_key('entropy', 'mean') == 'entropy/mean'
    # a plain K-class model's fields have no defect probability
    assert 'expected_f1_error' not in image_scores(
        dict(predictive_entropy=np.zeros((2, 2)), label_map=np.zeros(
            (2, 2), np.uint8)))
    records = {n: dict(file=f'{n}.jpg', features=[float(i), 1.0],
                       scores=dict(expected_f1_error=s))
               for i, (n, s) in enumerate(dict(a=0.1, b=0.7, c=0.4).items())}
    rows = rank_pool(records, 'expected_f1_error', 'patch_max', 3,
                     max_similarity=None)
    assert [r['name'] for r in rows] == ['b', 'c', 'a']
