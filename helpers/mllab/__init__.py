"""aws-ml-labs helpers: the lab session, the cost guard, the offline AWS plane.

Start with lab 00: ``from mllab import Lab; lab = Lab("00-orientation")``.
"""

from mllab.guard.errors import CostGuardError
from mllab.lab import Lab

__all__ = ["CostGuardError", "Lab"]
__version__ = "0.1.0"
