"""``beetles review``: check, correct or place landmarks in the browser.

:mod:`~beetles.tool.review.session` holds a review (the photos, their
landmarks and statuses) and saves it at every change;
:mod:`~beetles.tool.review.start` gathers the photos and their predictions
(a file, or a model run now) into one; :mod:`~beetles.tool.review.server`
serves it to the page in ``static/``.
"""
