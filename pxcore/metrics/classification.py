"""Top-k accuracy, as PaddleX reports it: acc1 and acc{k}, k = min(5, classes)."""

from __future__ import annotations

import numpy as np


class TopKAccuracy:
    def __init__(self, num_classes: int, topk: int = 5) -> None:
        self.k = max(1, min(topk, num_classes))
        self.correct1 = 0
        self.correctk = 0
        self.count = 0

    def update(self, logits: np.ndarray, labels: np.ndarray) -> None:
        self.update_ranked(np.argsort(-np.asarray(logits), axis=1)[:, : self.k], labels)

    def update_ranked(self, ranked: np.ndarray, labels: np.ndarray) -> None:
        """Class ids best first, ``[N, k]`` (what ``predict(topk=k)`` lists per image)."""
        labels = np.asarray(labels).reshape(-1)
        ranked = np.asarray(ranked).reshape(len(labels), -1)[:, : self.k]
        self.correct1 += int((ranked[:, 0] == labels).sum())
        self.correctk += int((ranked == labels[:, None]).any(axis=1).sum())
        self.count += len(labels)

    def result(self) -> dict[str, float]:
        if self.count == 0:
            return {"acc1": 0.0, f"acc{self.k}": 0.0}
        return {"acc1": self.correct1 / self.count, f"acc{self.k}": self.correctk / self.count}
