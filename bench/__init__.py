"""Benchmarks: chainmagic side by side with langchain-core (when installed), measured in one run."""
