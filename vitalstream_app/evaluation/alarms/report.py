"""The readable side of the alarm evaluation: a per-type table for stderr."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vitalstream_app.evaluation.alarms.scoring import Counts

__all__ = ["table"]


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _row(name: str, counts: Counts) -> str:
    score = "-" if counts.score is None else f"{counts.score:.2f}"
    return (
        f"{name:<24} {counts.n:>4} {counts.tp:>4} {counts.fn:>4} {counts.fp:>4} {counts.tn:>4} "
        f"{_fraction(counts.tpr):>6} {_fraction(counts.tnr):>6} {score:>7}"
    )


def table(
    overall: Counts,
    by_type: Mapping[str, Counts],
    *,
    strict: Counts,
    errored: Sequence[str],
    absent: int,
    wall_s: float,
    jobs: int,
) -> str:
    lines = [
        "",
        f"{'alarm type':<24} {'n':>4} {'TP':>4} {'FN':>4} {'FP':>4} {'TN':>4} {'TPR':>6} {'TNR':>6} {'score':>7}",
    ]
    lines += [_row(name, counts) for name, counts in by_type.items()]
    lines.append(_row("all", overall))
    lines.append(_row("all, own kind only", strict))
    lines.append("")
    lines.append("score = 100 (TP + TN) / (TP + TN + FP + 5 FN); best real-time entry of 2015: 81.39 (hidden test set)")
    if errored:
        lines.append(f"errors: {len(errored)} record(s) raised an exception (decision false): {', '.join(errored)}")
    if absent:
        lines.append(f"absent: {absent} record(s) listed in ALARMS are not in the folder (not evaluated)")
    lines.append(f"wall time {wall_s:.1f} s with {jobs} process(es)")
    return "\n".join(lines) + "\n"
