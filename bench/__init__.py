"""kluis benchmarks (`make bench`): each figure next to its floor, the same work done bare."""
