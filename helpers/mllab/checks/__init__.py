"""Checks for lab check cells: requirements, state inspectors, choices, drills.

Introduced in lab 00. A check cell opens a :func:`requirement`, reads the real state through
the lab session with an inspector (:func:`stream`, :func:`training_job`, ...) and states what
must hold; a miss raises :class:`CheckFailed` saying what is missing and how to find out.
See ``docs/lab-style.md`` for the pattern.
"""

from mllab.checks.core import CheckFailed, Requirement, fail, parse_results, requirement

__all__ = ["CheckFailed", "Requirement", "fail", "parse_results", "requirement"]
