"""Tests of chainmagic.display (a package, so module names never clash with other test folders)."""
