"""Running chains for display: results as plain data, events recorded live, a private loop."""

from chainmagic.run.execute import execute, execute_batch
from chainmagic.run.result import BatchResult, BranchResult, ChainResult, StepRecord

__all__ = ["BatchResult", "BranchResult", "ChainResult", "StepRecord", "execute", "execute_batch"]
