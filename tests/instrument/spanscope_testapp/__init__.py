"""A tiny Django app (label ``inventory``) with every relation kind spanscope names."""
