"""warroom evals."""
