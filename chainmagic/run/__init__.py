"""Running chains for display: results as plain data, events recorded live, a private loop."""

from chainmagic.run.batching import batch
from chainmagic.run.execute import execute, execute_batch
from chainmagic.run.ratelimit import RateLimit
from chainmagic.run.result import BatchResult, BranchResult, ChainResult, StepRecord

__all__ = [
    "BatchResult",
    "BranchResult",
    "ChainResult",
    "RateLimit",
    "StepRecord",
    "batch",
    "execute",
    "execute_batch",
]
