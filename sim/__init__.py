"""sim: demand projection, Monte Carlo forecasts and the district's school network (networkx)."""
