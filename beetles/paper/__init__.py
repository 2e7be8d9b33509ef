"""The reproduction of Le Van Linh et al.: the study's settings and choices
(:mod:`~beetles.paper.settings`), preprocessing and augmentation, models 1-3
as data, their training on nolearn and on PyTorch, their weights, and
:class:`~beetles.paper.model.PaperModel` behind the one model interface."""
