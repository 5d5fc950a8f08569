"""R-CNN detection on cached features (SPEC §9; thesis §1.2, Tables 2.3, 4.2, 5.2).

boxes: VOC-convention IoU and NMS; svm: feature scaling, liblinear SVMs and hard-negative
mining (rcnn_train); evaluate: per-class NMS at test time and VOC2007 detection AP (VOCevaldet).
"""
