"""Admission declarations, one module per service family (see :mod:`mllab.guard.admission`).

Each module calls :func:`mllab.guard.admission.read`, ``free``, ``billable`` and ``deleter`` at
import time. :func:`mllab.guard.admission.load_all` imports them all.
"""
