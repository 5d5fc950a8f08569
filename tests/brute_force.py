"""Brute-force references shared by several test modules."""


def iou_voc(p, q):
    """IoU of two 1-based inclusive VOC boxes (x1, y1, x2, y2), the devkit's +1 convention."""
    iw = min(p[2], q[2]) - max(p[0], q[0]) + 1
    ih = min(p[3], q[3]) - max(p[1], q[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    area_p = (p[2] - p[0] + 1) * (p[3] - p[1] + 1)
    area_q = (q[2] - q[0] + 1) * (q[3] - q[1] + 1)
    return iw * ih / (area_p + area_q - iw * ih)
