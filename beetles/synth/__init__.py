"""Synthetic beetle photos with landmarks: the data every experiment runs on
until real photos are given.

Modules: :mod:`~beetles.synth.shapes` (shape models of the published
landmarks), :mod:`~beetles.synth.specimens` (randomness, landmarks),
:mod:`~beetles.synth.geometry`, :mod:`~beetles.synth.scene` and
:mod:`~beetles.synth.anatomy` (what is drawn), :mod:`~beetles.synth.render`
(painting and the camera), :mod:`~beetles.synth.dataset` (datasets and the
default one), :mod:`~beetles.synth.difficulty` (the trivial predictor).

The study's 293 photos were never published, so this module draws realistic
stand-ins and writes them in exactly the layout of real data
(:mod:`beetles.formats.dataset`)::

    <out>/<part>/images/<part>_0001.jpg ...   4:3 RGB JPEG photos
    <out>/<part>/landmarks.tps                y up, in each photo's own frame

How a specimen is made:

1. **Landmarks** come from the part's statistical shape model
   (:mod:`beetles.synth.shapes`): Procrustes mean and principal modes of the
   published manual landmarks, plus the pose (position, size, orientation) of
   the real photos, all fitted to the published landmarks.  They are drawn in
   the 256×192 network frame and scaled to the photo.
   :func:`beetles.synth.specimens.sample_landmarks` gives them without
   rendering anything.
2. **Anatomy** is drawn through them: each landmark is a corner of an outline
   or the end of an internal feature (pronotum midline, elytral suture and
   scutellum, eye and labrum corners, mandible teeth), so that it can be
   found from the image alone.  Body parts are dark, glossy domes with
   micro-texture, punctures and grooves, lit by one lamp, with the
   neighbouring parts of the beetle around them (head, pronotum, elytra),
   legs and antennae crossing the frame, on a light, uneven background with a
   soft shadow.  Mandibles are translucent brown, alone on a clean background.
3. **Camera**: per specimen lighting gradient, contrast and gamma, a slight
   colour cast, optical blur, sensor noise and JPEG compression (quality 75–95).

All randomness of specimen ``i`` of part ``p`` comes from generators seeded by
``(seed, p, i)``: a specimen does not depend on how many others are made, on
the order, or on the number of worker processes, and the same seed gives
byte-identical files (with the same NumPy and Pillow).

Difficulty is matched to the real data through the trivial predictor (always
answer the training set's mean landmarks): see
:func:`beetles.synth.difficulty.trivial_errors` and
:data:`beetles.synth.difficulty.REAL_TRIVIAL_ERRORS`.
"""
