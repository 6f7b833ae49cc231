"""Tests of the scenario runner (evals/) and the public scenario suite."""
