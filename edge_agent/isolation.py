"""The one place where the edge pipeline catches a model failure: that output is withheld, counted and logged.

Every model call of :class:`edge_agent.pipeline.DevicePipeline` (QRS detector and heart rate, beat
classifier, rhythm, ECG quality, PPG pulse rate, VF detector) goes through :meth:`ModelFaults.run`.
A model that raises on a window (a bug, a signal shape it was never shown, an ONNX Runtime error)
costs that output for that second and nothing else: the reading still goes out with every other
output and a ``faults`` entry naming the withheld one (:class:`vitalstream.wire.Fault`), the other
patients' pipelines never see it, and the next second runs the model again. Outside the pipeline
(evaluations, training) the models still raise, so that a failure there stops the run that hit it.

Logging is rate-limited per output: the first failure, the first of each new exception type, then
the 10th, 100th, 1000th, ... with the count so far, so a model that fails every second on every device
writes a handful of lines a day and not one per reading. Only the output's name and the exception's
type are logged: an exception's message can quote sample values, and no signal or patient data may
reach a log.

>>> faults, withheld = ModelFaults(), {}
>>> faults.run("sqi", withheld, lambda window: sum(window) / len(window), [])
>>> withheld, faults.failures
({'sqi': <Fault.MODEL_ERROR: 'model_error'>}, {'sqi': 1})
>>> faults.run("sqi", withheld, len, [1, 2, 3])
3
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from vitalstream.wire import Fault

__all__ = ["ModelFaults"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class ModelFaults:
    """Counts model failures by output name (``hr``, ``beats``, ``rhythm``, ``sqi``, ``ppg_hr``, ``vf``).

    One instance serves every device of a :class:`edge_agent.pipeline.PipelineSource`, so the log is
    rate-limited per model, not per patient. It holds only counts and exception type names: it pickles
    with the device state and never keeps a signal alive.
    """

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}
        self._seen: dict[str, set[str]] = {}

    def run(
        self, output: str, withheld: dict[str, Fault], call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T | None:
        """``call(*args, **kwargs)``; if it raises, ``None`` and ``withheld[output] = Fault.MODEL_ERROR``.

        ``None`` is also what some models answer when they abstain; callers that must tell the two
        apart look for ``output`` in ``withheld``.
        """
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 -- the isolation point: any failure of any model costs its output only
            withheld[output] = Fault.MODEL_ERROR
            self._record(output, type(exc).__name__)
            return None

    def _record(self, output: str, kind: str) -> None:
        count = self.failures[output] = self.failures.get(output, 0) + 1
        kinds = self._seen.setdefault(output, set())
        new_kind = kind not in kinds
        kinds.add(kind)
        if new_kind or _is_power_of_ten(count):
            log.warning(
                "edge model failed on a window; its output is withheld, the other outputs go on",
                extra={"model": output, "error": kind, "failures": count},
            )


def _is_power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1
