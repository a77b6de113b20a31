"""Held-out evaluation of the ``beats`` model: MIT-BIH DS2, inter-patient, reference R peaks.

The de Chazal et al. (2004) protocol: the model was trained on DS1 only; every beat of the 22 DS2
records (paced records excluded) is classified at its reference annotation position, and scored
against the AAMI class of its label. Records 201 (DS1) and 202 (DS2) are the same patient, a
known leak of this split that the published results share.

    python -m edge_agent.evaluation.beats --data /work/shared/data   # JSON summary on the last line

>>> m = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]))
>>> summarize(m)["classes"]["S"]
{'sensitivity': 1.0, 'ppv': 0.5}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from edge_agent.dsp import Array
from edge_agent.evaluation.metrics import ppv, ratio, sensitivity
from edge_agent.evaluation.runner import run_main
from edge_agent.models.beats import CLASSES, BeatClassifier
from edge_agent.records import MITDB_DS1, MITDB_DS2, aami_class, pick_channel, read_annotations, read_record

__all__ = ["LabelledRecord", "confusion_matrix", "evaluate", "load_record", "main", "summarize"]


@dataclass(frozen=True, slots=True)
class LabelledRecord:
    """One MIT-BIH record's ECG lead with every reference beat and the AAMI class of the scored ones."""

    name: str
    signal: Array
    fs: float
    peaks: NDArray[np.int64]  # every beat annotation (QRS), sorted
    targets: NDArray[np.int64]  # positions in `peaks` of beats with an AAMI class
    labels: NDArray[np.int64]  # index into CLASSES, one per target


def load_record(data: Path, record: int | str) -> LabelledRecord:
    """Record ``record`` of ``data/mitdb``: the MLII lead (by name), reference beats and AAMI labels."""
    path = data / "mitdb" / str(record)
    ecg = read_record(path)
    peaks, symbols = read_annotations(path).beats()
    classes = [aami_class(s) for s in symbols]
    targets = np.array([i for i, c in enumerate(classes) if c is not None], dtype=np.int64)
    labels = np.array([CLASSES.index(c) for c in classes if c is not None], dtype=np.int64)
    signal = ecg.channel(pick_channel(ecg))
    return LabelledRecord(str(record), signal, ecg.fs, np.asarray(peaks, dtype=np.int64), targets, labels)


def confusion_matrix(reference: NDArray[np.int64], predicted: NDArray[np.int64]) -> NDArray[np.int64]:
    """Counts, rows = reference class, columns = predicted class, in the order of :data:`CLASSES`."""
    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(matrix, (reference, predicted), 1)
    return matrix


def summarize(matrix: NDArray[np.int64]) -> dict[str, Any]:
    """Sensitivity and positive predictivity per class (0 where undefined), accuracy, the matrix."""
    hits = np.diag(matrix).astype(np.int64)
    reference, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    classes = {
        c: {
            "sensitivity": round(sensitivity(int(hits[i]), int(reference[i] - hits[i]), undefined=0.0), 4),
            "ppv": round(ppv(int(hits[i]), int(predicted[i] - hits[i]), undefined=0.0), 4),
        }
        for i, c in enumerate(CLASSES)
    }
    total = int(matrix.sum())
    return {
        "classes": classes,
        "confusion": {"labels": list(CLASSES), "matrix": matrix.tolist()},
        "accuracy": round(ratio(int(hits.sum()), total, undefined=0.0), 4),
        "beats": total,
    }


def _table(matrix: NDArray[np.int64]) -> str:
    return " ".join(f"{CLASSES[i]}:" + ",".join(str(int(v)) for v in row) for i, row in enumerate(matrix))


def evaluate(
    data: Path,
    *,
    log: TextIO,
    records: tuple[int, ...] = MITDB_DS2,
    classifier: BeatClassifier | None = None,
) -> dict[str, Any]:
    """Classify every beat of ``records`` (default DS2) and score it; per-record confusions go to ``log``."""
    model = classifier if classifier is not None else BeatClassifier()
    total = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    print(f"# {model.ref} on {len(records)} records; rows = reference, columns = predicted N,S,V,F,Q", file=log)
    for record in records:
        rec = load_record(data, record)
        _, proba = model.classify(rec.signal, rec.fs, rec.peaks, rec.targets)
        matrix = confusion_matrix(rec.labels, proba.argmax(axis=1).astype(np.int64))
        total += matrix
        print(f"{rec.name}: {_table(matrix)}", file=log)
    summary = summarize(total)
    summary["model"] = model.ref
    summary["train_records"] = list(MITDB_DS1)
    summary["test_records"] = list(records)
    for c, scores in summary["classes"].items():
        print(f"{c}: Se {scores['sensitivity']:.3f}  +P {scores['ppv']:.3f}", file=log)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edge_agent.evaluation.beats --data DIR``: the summary as one JSON line on stdout."""
    return run_main(evaluate, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
