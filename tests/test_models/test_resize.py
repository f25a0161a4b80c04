"""bilinear_matrix and bilinear_resize: F.interpolate's bilinear weights,
as matrices."""
import pytest
import torch
import torch.nn.functional as F

from spotrust_mm.models.layers.resize import bilinear_matrix, bilinear_resize


def test_bilinear_matrix_by_hand():
    # 2 -> 4, half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75,
    # 1.25 (past the last input, which repeats)
    torch.testing.assert_close(
        bilinear_matrix(2, 4), torch.tensor([[1.0, 0.0], [0.75, 0.25],
                                             [0.25, 0.75], [0.0, 1.0]]))
    # align_corners: sources 0, 1/3, 2/3, 1
    torch.testing.assert_close(
        bilinear_matrix(2, 4, align_corners=True),
        torch.tensor([[1.0, 0.0], [2 / 3, 1 / 3], [1 / 3, 2 / 3],
                      [0.0, 1.0]]))
    # 4 -> 2: sources 0.5 and 2.5
    torch.testing.assert_close(
        bilinear_matrix(4, 2), torch.tensor([[0.5, 0.5, 0.0, 0.0],
                                             [0.0, 0.0, 0.5, 0.5]]))
    # one output, align_corners: the first input
    torch.testing.assert_close(bilinear_matrix(3, 1, align_corners=True),
                               torch.tensor([[1.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match='sizes must be >= 1'):
        bilinear_matrix(0, 3)


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('shape,size', [
    ((2, 5, 16, 16), (128, 128)),  # the head's 8x upsampling
    ((1, 3, 7, 5), (20, 13)),  # odd factors
    ((2, 4, 10, 10), (3, 4)),  # downsampling
    ((1, 2, 1, 6), (4, 6)),  # one row; width unchanged
    ((1, 2, 70, 20), (140, 40)),  # taller than max_dense: interpolated
])
def test_bilinear_resize_equals_interpolate(shape, size, align_corners):
    torch.manual_seed(0)
    x = torch.randn(shape)
    ref = F.interpolate(x, size=size, mode='bilinear',
                        align_corners=align_corners)
    out = bilinear_resize(x, size, align_corners)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # the dense products also for the large input
    torch.testing.assert_close(
        bilinear_resize(x, size, align_corners, max_dense=1000), ref,
        atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('max_dense', [64, 4, None])
def test_bilinear_resize_adds_into_a_given_tensor(max_dense):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 6)
    base = torch.randn(2, 3, 32, 24)
    ref = base + F.interpolate(x, size=(32, 24), mode='bilinear',
                               align_corners=False)
    target = base.clone()
    out = bilinear_resize(x, (32, 24), max_dense=max_dense, add_to=target)
    assert out is target
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
