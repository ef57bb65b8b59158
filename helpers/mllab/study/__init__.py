"""The study system: question bank, quizzes, practice exams, audit, plan and progress.

Introduced in lab 00 (audit and plan); every lab's "exam angle" section calls :func:`quiz`, and
every lab's check cells call :func:`record_lab_result`. The terminal commands are in
:mod:`mllab.study.cli` (``mllab quiz``, ``exam``, ``audit``, ``plan``, ``progress``, ``bank``).
"""

from mllab.study.audit import gap_chart
from mllab.study.bank import load_bank
from mllab.study.progress import progress_chart
from mllab.study.store import record_lab_result
from mllab.study.widgets import audit_widget, quiz

__all__ = [
    "audit_widget",
    "gap_chart",
    "load_bank",
    "progress_chart",
    "quiz",
    "record_lab_result",
]
