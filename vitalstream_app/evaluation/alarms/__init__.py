"""``vitalstream eval alarms``: the ICU-alarm evaluation of the PhysioNet/CinC Challenge 2015, on our system.

Each record ends at an alarm raised by a bedside monitor at 300 s (asystole, extreme bradycardia,
extreme tachycardia, ventricular tachycardia, ventricular flutter/fibrillation), labelled true or
false by expert annotators. We replay the record's first 300 s through the edge pipeline and the
processor exactly as on a ward (:mod:`.record`) and keep the alarm when one of our alerts that fits
it is active between 284 s and 300 s (:mod:`.decision`, which also says which kinds fit which
alarm and why). The score is the challenge's real-time one, a missed true alarm costing five false
ones (:mod:`.scoring`); the folder layout is read by :mod:`.layout`, the table for people is in
:mod:`.report`.

Output: one JSON line per record (``record``, ``alarm``, ``truth``, ``decision``, plus the outcome,
the kinds active in the window, every alert with its ``t`` and ``cleared_t``, the record's signals,
and ``error`` when its replay raised), in ``ALARMS`` order, then the summary as the last line. The
records run in parallel processes (``jobs``), each loading the edge models once.

Data: PhysioNet/CinC Challenge 2015 training set (Clifford et al., Physiol Meas 37(8):E5-E23, 2016) via
PhysioNet (Goldberger et al. 2000), ODC-By 1.0.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

from edge_agent.pipeline import EdgeModels
from vitalstream.settings import AlertingSettings, LimitsSettings
from vitalstream_app.bench.machine import machine
from vitalstream_app.evaluation.alarms.decision import ALARM_AT_S, ALARM_KINDS, WINDOW_START_S, decide
from vitalstream_app.evaluation.alarms.layout import ALARM_TYPES, Alarm, Layout, read_layout
from vitalstream_app.evaluation.alarms.record import RecordResult, evaluate_record
from vitalstream_app.evaluation.alarms.report import table
from vitalstream_app.evaluation.alarms.scoring import Counts, tally

__all__ = [
    "ALARM_KINDS",
    "Alarm",
    "Counts",
    "Layout",
    "RecordResult",
    "decide",
    "evaluate",
    "evaluate_record",
    "read_layout",
    "summarize",
]

# One worker's state: the edge models (loaded once per process) and the settings.
_worker: dict[str, object] = {}


def _start_worker(limits: LimitsSettings, alerting: AlertingSettings) -> None:
    _worker.update(models=EdgeModels.load(), limits=limits, alerting=alerting)


def _run(header: Path, alarm: Alarm) -> RecordResult:
    models, limits, alerting = _worker["models"], _worker["limits"], _worker["alerting"]
    assert isinstance(models, EdgeModels)
    assert isinstance(limits, LimitsSettings)
    assert isinstance(alerting, AlertingSettings)
    return evaluate_record(header, alarm, models=models, limits=limits, alerting=alerting)


def _results(
    layout: Layout, *, jobs: int, limits: LimitsSettings, alerting: AlertingSettings
) -> Iterator[RecordResult]:
    """Every present record's result, in ``ALARMS`` order, as soon as it (and all before it) are done."""
    work = [(layout.header(alarm), alarm) for alarm in layout.alarms]
    if jobs <= 1 or len(work) <= 1:
        _start_worker(limits, alerting)
        yield from (_run(header, alarm) for header, alarm in work)
        return
    # fork: the workers inherit the imported code; `python -m vitalstream` cannot be re-imported by a spawned
    # child (its __main__ runs the command line). The models are loaded in each worker, never before the fork.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(work)), mp_context=context, initializer=_start_worker, initargs=(limits, alerting)
    ) as pool:
        futures: list[Future[RecordResult]] = [pool.submit(_run, header, alarm) for header, alarm in work]
        for (_, alarm), future in zip(work, futures, strict=True):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 -- a worker that died (BrokenProcessPool): that record's error
                yield RecordResult.failed(alarm, exc)


def summarize(
    results: Sequence[RecordResult], *, layout: Layout, wall_s: float, jobs: int
) -> tuple[dict[str, object], str]:
    """The summary line and the table for people."""
    overall, by_type = tally(((r.alarm.type, r.alarm.truth, r.decision) for r in results), ALARM_TYPES)
    strict, _ = tally(((r.alarm.type, r.alarm.truth, r.strict) for r in results), ALARM_TYPES)
    errored = [r.alarm.record for r in results if r.error is not None]
    summary: dict[str, object] = {
        "summary": True,
        "score": overall.score,
        "tpr": overall.tpr,
        "tnr": overall.tnr,
        "by_type": {name: counts.as_json() for name, counts in by_type.items()},
        "counts": {"tp": overall.tp, "fn": overall.fn, "fp": overall.fp, "tn": overall.tn},
        "strict": {"score": strict.score, "tpr": strict.tpr, "tnr": strict.tnr},
        "records": len(results),
        "listed": layout.listed,
        "absent": len(layout.absent),
        "errors": len(errored),
        "errored": errored,
        "window_s": [WINDOW_START_S, ALARM_AT_S],
        "kinds": {name: list(kinds) for name, kinds in ALARM_KINDS.items()},
        "data": str(layout.directory),
        "jobs": jobs,
        "wall_s": round(wall_s, 1),
        "machine": machine(),
    }
    readable = table(
        overall, by_type, strict=strict, errored=errored, absent=len(layout.absent), wall_s=wall_s, jobs=jobs
    )
    return summary, readable


def evaluate(
    data: Path,
    *,
    emit: Callable[[dict[str, object]], None],
    log: TextIO = sys.stderr,
    jobs: int | None = None,
    limits: LimitsSettings | None = None,
    alerting: AlertingSettings | None = None,
) -> dict[str, object]:
    """Evaluate every record present at ``data``: each record's line goes to ``emit`` in ``ALARMS`` order, the
    table to ``log``; returns the summary (``errors`` > 0 when some record's replay raised)."""
    started = time.perf_counter()
    layout = read_layout(data)
    jobs = max(1, jobs if jobs is not None else os.cpu_count() or 1)
    limits = limits or LimitsSettings()
    alerting = alerting or AlertingSettings()
    log.write(
        f"eval alarms: {len(layout.alarms)} of {layout.listed} records listed in {layout.directory / 'ALARMS'} "
        f"are present; {jobs} process(es)\n"
    )
    results: list[RecordResult] = []
    step = max(1, len(layout.alarms) // 10)
    for result in _results(layout, jobs=jobs, limits=limits, alerting=alerting):
        results.append(result)
        emit(result.as_json())
        if result.error is not None:
            log.write(f"eval alarms: {result.alarm.record}: {result.error}\n")
        if len(results) % step == 0 or len(results) == len(layout.alarms):
            log.write(f"eval alarms: {len(results)}/{len(layout.alarms)} records done\n")
    summary, readable = summarize(results, layout=layout, wall_s=time.perf_counter() - started, jobs=jobs)
    log.write(readable)
    return summary
