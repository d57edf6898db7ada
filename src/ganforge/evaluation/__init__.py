"""Evaluation: image sources -> features -> registered metrics -> scores with protocol cards.

``ganforge eval`` and training with ``eval.every`` both come here; ``ganforge.metrics`` holds
the pure functions of arrays (and the metric registry) that this package orchestrates.

* ``sources``: a data set split, a .npy of uint8 images, an image folder or a run folder ->
  uint8 ``[N, C, H, W]``;
* ``cache``: real-data features, cached per data set, feature network and n;
* ``scoring``: which metrics were asked for, their values and protocol cards (from the registry);
* ``context``: real-vs-real and trivial-generator baselines printed beside a figure;
* ``compare``: two image sources -> a report; ``runs``: a run folder -> a report (image,
  conditional or 2-D); ``conditional`` and ``points`` sample a run's G for those;
* ``during_training``: ``TrainingEvaluator``, what ``eval.every`` runs;
* ``report``: the printed table and the JSON file.
"""
