"""VOC2007 AP against hand-worked cases and a literal port of VOCevalcls."""

import numpy as np
import pytest

from layerwise.analysis.ap import average_precision, precision_recall, voc07_ap


def devkit_ap(scores, labels):
    """Line-by-line port of VOCevalcls.m + the VOC2007 11-point loop.

    Keeps the 0-labelled samples in the ranking (neither tp nor fp), as the
    devkit does, and lets MATLAB's NaN-skipping max decide.
    """
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable, like MATLAB
    tp = fp = 0
    npos = sum(1 for g in labels if g > 0)
    rec, prec = [], []
    for i in order:
        tp += labels[i] > 0
        fp += labels[i] < 0
        rec.append(tp / npos)
        prec.append(tp / (tp + fp) if tp + fp else float("nan"))
    ap = 0.0
    for k in range(11):
        t = k / 10
        ps = [p for r, p in zip(rec, prec) if r >= t and p == p]
        ap += (max(ps) if ps else 0.0) / 11
    return ap


def test_hand_worked_no_ties():
    # ranked labels + - + - +, npos = 3
    # rank: 1      2     3     4     5
    # rec : 1/3   1/3   2/3   2/3   1
    # prec: 1     1/2   2/3   1/2   3/5
    # t = 0, .1, .2, .3 -> max over all        = 1    (4 points)
    # t = .4, .5, .6    -> max over ranks 3..5 = 2/3  (3 points)
    # t = .7 .. 1.0     -> rank 5              = 3/5  (4 points)
    # AP = (4 + 3 * 2/3 + 4 * 3/5) / 11 = 8.4 / 11
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    labels = [1, -1, 1, -1, 1]
    assert average_precision(scores, labels) == pytest.approx(8.4 / 11, abs=1e-15)


def test_zero_labels_are_ignored():
    # Same as above with three "difficult only" samples inserted, one of them
    # ranked first and one in the middle: AP unchanged, 8.4 / 11.
    scores = [2.0, 0.9, 0.8, 0.75, 0.7, 0.6, 0.5, 0.1]
    labels = [0, 1, -1, 0, 1, -1, 1, 0]
    assert average_precision(scores, labels) == pytest.approx(8.4 / 11, abs=1e-15)


def test_ties_follow_input_order_like_the_devkit():
    # Scores tie. Stable sort keeps input order.
    # labels (-1, 1): rank 1 fp -> rec 0, prec 0; rank 2 tp -> rec 1, prec 1/2.
    #   every t: max precision at rec >= t = 1/2 -> AP = 0.5
    # labels (1, -1): rank 1 tp -> rec 1, prec 1 -> AP = 1
    assert average_precision([0.5, 0.5], [-1, 1]) == pytest.approx(0.5)
    assert average_precision([0.5, 0.5], [1, -1]) == pytest.approx(1.0)
    # Three-way tie in the middle: ranked labels + (- + -) +, npos = 3
    # rec : 1/3 1/3 2/3 2/3 1 ; prec: 1 1/2 2/3 1/2 3/5 -> 8.4 / 11 as above
    scores = [3.0, 2.0, 2.0, 2.0, 1.0]
    assert average_precision(scores, [1, -1, 1, -1, 1]) == pytest.approx(8.4 / 11)


def test_recall_exactly_on_a_threshold():
    # npos = 5, ranked labels + + + - + +
    # rec : .2 .4 .6 .6 .8 1 ; prec: 1 1 1 3/4 4/5 5/6
    # t = 0 .. .6 (7 points): rank 3 has rec .6 >= .6 -> 1
    # t = .7 .. 1 (4 points): max(4/5, 5/6) = 5/6
    # AP = (7 + 4 * 5/6) / 11. With t = 0.6000000000000001 (np.arange) the
    # t = .6 point would drop to 5/6: this test catches that.
    scores = [6, 5, 4, 3, 2, 1]
    labels = [1, 1, 1, -1, 1, 1]
    assert average_precision(scores, labels) == pytest.approx((7 + 4 * 5 / 6) / 11, abs=1e-15)


def test_no_positives_raises_naming_the_class():
    with pytest.raises(ValueError, match="'sofa'"):
        average_precision([0.3, 0.2], [-1, 0], cls="sofa")
    with pytest.raises(ValueError, match="no positive"):
        average_precision([0.3], [0])


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        average_precision([0.1, 0.2], [1, 2])
    with pytest.raises(ValueError):
        average_precision([np.nan, 0.2], [1, -1])
    with pytest.raises(ValueError):
        average_precision([0.1], [1, -1])


def test_voc07_ap_empty_threshold_gives_zero_and_skips_nan():
    # recall never passes 0.5: t = 0, .1, .2 -> max(1, .5) = 1 ; t = .3, .4 ->
    # only rec .45 -> .5 ; t = .5 .. 1 (6 points) -> nothing -> 0
    assert voc07_ap([0.2, 0.45], [1.0, 0.5]) == pytest.approx((3 + 2 * 0.5) / 11)
    # a leading NaN (ignored items ranked first, VOCevaldet) is skipped
    assert voc07_ap([0.0, 1.0], [np.nan, 0.25]) == pytest.approx(0.25)


def test_partial_ap_up_to_a_recall():
    # Ranked labels + - - + + +, npos = 4
    # rec : .25 .25 .25 .5  .75 1
    # prec: 1   1/2 1/3 1/2 3/5 2/3
    # max_recall = .5: t = 0, .05, ..., .5
    #   t = 0 .. .25 (6 points) -> rank 1 -> 1
    #   t = .3 .. .5 (5 points) -> max(1/2, 3/5, 2/3) = 2/3
    #   partial AP = (6 + 5 * 2/3) / 11
    # full: t = 0, .1, .2 -> 1 ; t = .3 .. 1 (8 points) -> 2/3 -> (3 + 8 * 2/3) / 11
    scores, labels = [6, 5, 4, 3, 2, 1], [1, -1, -1, 1, 1, 1]
    partial = average_precision(scores, labels, max_recall=0.5)
    assert partial == pytest.approx((6 + 5 * 2 / 3) / 11, abs=1e-15)
    assert average_precision(scores, labels) == pytest.approx((3 + 8 * 2 / 3) / 11, abs=1e-15)
    # max_recall = 1 is the devkit AP itself
    assert average_precision(scores, labels, max_recall=1.0) == average_precision(scores, labels)


def test_matches_the_devkit_port_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        scores = rng.integers(0, 6, n).astype(float)  # many ties
        labels = rng.choice([-1, 0, 1], n)
        if not (labels > 0).any():
            labels[0] = 1
        expected = devkit_ap(list(scores), list(labels))
        assert average_precision(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_precision_recall_curve_values():
    recall, precision = precision_recall([0.1, 0.9, 0.5], [-1, 1, 1])
    np.testing.assert_allclose(recall, [0.5, 1.0, 1.0])
    np.testing.assert_allclose(precision, [1.0, 1.0, 2 / 3])
