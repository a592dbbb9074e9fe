"""Complete, measured training recipes on data the project generates or ships: what the
demo runs, what the benchmarks time and what the slow tests hold to a figure."""
