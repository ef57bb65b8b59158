"""The error the cost guard raises (introduced in lab 00)."""

from __future__ import annotations


class CostGuardError(RuntimeError):
    """A billable request was refused before it was sent.

    Attributes:
        operation: ``service:Operation`` of the refused request.
        reason: why it was refused.
        estimate_usd: the worst-case estimate, when one could be made.
        remaining_usd: the lab's remaining budget.
        fix: what to change so that the request is allowed.
    """

    def __init__(
        self,
        operation: str,
        reason: str,
        fix: str,
        estimate_usd: float | None = None,
        remaining_usd: float | None = None,
    ) -> None:
        self.operation = operation
        self.reason = reason
        self.fix = fix
        self.estimate_usd = estimate_usd
        self.remaining_usd = remaining_usd
        parts = [f"Cost guard refused {operation}: {reason}."]
        if estimate_usd is not None:
            parts.append(f"Worst-case estimate: ${estimate_usd:,.4f}.")
        if remaining_usd is not None:
            parts.append(f"Remaining lab budget: ${remaining_usd:,.4f}.")
        parts.append(f"Fix: {fix}. Nothing was sent to AWS.")
        super().__init__(" ".join(parts))
