"""Beyond the paper: compact landmark models that learn in CPU minutes (networks,
losses, augmentation, trainer, and :class:`~beetles.compact.model.CompactModel`)."""
