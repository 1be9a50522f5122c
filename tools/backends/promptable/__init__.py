"""Promptable segmentation shared by the backends that mask detection boxes: SAM and its loading.

``lite --sam`` and ``openvocab --sam`` both use it; it imports from neither (the arrows run
backend -> promptable). Modules: :mod:`~tools.backends.promptable.loading` (devices, dtypes,
model locations, ``from_pretrained`` with one-line errors naming the backend),
:mod:`~tools.backends.promptable.sam` (the SAM box maskers and their loading),
:mod:`~tools.backends.promptable.boxes` (one embedding per image, one decode per box) and
:mod:`~tools.backends.promptable.testing` (random-weight SAM checkpoints). Only ``sam`` and
``testing`` import torch.
"""
