"""Balanced class formation (均衡编班) and teacher teams (均衡配班), with their numba kernels.

Imports from :mod:`seats.io` and :mod:`seats.lottery` (seed checks, run folders) only.
Flow: :mod:`cohort` (read) -> :mod:`units` + :mod:`objective` -> :mod:`search` (kernels) ->
:mod:`numbering` (class numbers by lottery) -> :mod:`writers`; :mod:`form` drives it.
"""

from seats.classes.form import TOOL, form_classes, replay_classes

__all__ = ["TOOL", "form_classes", "replay_classes"]
