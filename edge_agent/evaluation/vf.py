"""``vitalstream eval vf``: the VF/flutter detector on 4 s windows of every MIT-BIH record (channel 0).

Positives: windows entirely inside a ventricular flutter/fibrillation episode (rhythm annotation
``(VFL``/``(VF``, record 207 only); negatives: every window of every record with no overlap; windows
that straddle an episode edge are left out. The database holds little flutter (29 windows), so the
sensitivity is a rough figure; the false-positive rate over ~21,600 negative windows is the solid one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from edge_agent.evaluation.metrics import ratio, rounded, sensitivity
from edge_agent.evaluation.runner import run_main
from edge_agent.models.vf import NAME, VERSION, WINDOW_S, is_vf
from edge_agent.records import MITDB_RECORDS, read_annotations, read_record

__all__ = ["evaluate", "main"]


def evaluate(data: Path, *, log: TextIO) -> dict[str, Any]:
    """Score ``is_vf`` on every 4-s window of every record (see the module docstring); per record to ``log``."""
    tp = fn = fp = tn = 0
    false_by_record: dict[str, int] = {}
    for record in MITDB_RECORDS:
        path = data / "mitdb" / str(record)
        signal = read_record(path)
        episodes = [(s, e) for s, e, label in read_annotations(path).rhythms if label.startswith("VF")]
        x, fs = signal.channel(0), signal.fs
        n = int(WINDOW_S * fs)
        for start in range(0, len(x) - n, n):
            end = start + n
            inside = any(s <= start and end <= e for s, e in episodes)
            if not inside and any(s < end and start < e for s, e in episodes):
                continue
            flagged, _ = is_vf(x[start:end], fs)
            if inside:
                tp, fn = tp + flagged, fn + (not flagged)
            else:
                fp, tn = fp + flagged, tn + (not flagged)
                if flagged:
                    false_by_record[str(record)] = false_by_record.get(str(record), 0) + 1
        log.write(f"{record}: episodes={len(episodes)} false_positives={false_by_record.get(str(record), 0)}\n")
    return {
        "model": f"{NAME}@{VERSION}",
        "window_s": WINDOW_S,
        "sensitivity": rounded(sensitivity(tp, fn), 4),
        "false_positive_rate": round(ratio(fp, fp + tn), 6),
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "false_positives_by_record": false_by_record,
        "protocol": "MIT-BIH channel 0, non-overlapping 4 s windows; positives entirely inside (VFL/(VF episodes "
        "(record 207), negatives with no overlap",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edge_agent.evaluation.vf --data DIR``: the summary as one JSON line on stdout."""
    return run_main(evaluate, argv, doc=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
