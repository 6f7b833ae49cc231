"""warroom tools/catalogue."""
