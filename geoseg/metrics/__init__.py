"""Scoring: pixel metrics (IoU and friends, relaxed) and road-graph metrics (APLS)."""
