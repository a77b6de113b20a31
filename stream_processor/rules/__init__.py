"""The alert rules: what each reading says about each alert kind. Pure functions of the reading and
the patient's state; the alert lifecycle (delay, hysteresis, re-open) is applied afterwards.

Four families, from the most to the least certain, one module each or shared where the facts are:

- **hard limits** (``thresholds``): crossing one always alarms; learning cannot change it;
- **rhythm and technical rules** (``rhythm``) from the edge's outputs, with the PhysioNet/CinC 2015
  definitions; ECG-based alarms are cross-checked against the PPG before they page;
- **soft limits** (``thresholds``): ward warning thresholds which the patient's learned normal silences
  when the value is usual *for that patient*;
- **deviations** (``thresholds``): the patient leaves their own band while inside every limit;

plus **NEWS2** on the stream (``early_warning``). ``context`` works out the facts every rule reads,
``kinds`` sets up each kind's lifecycle and groups the kinds that describe one event, and ``quiet``
runs them all, skipping them for the many readings on which none can raise.
"""

from stream_processor.rules.context import Finding, ReadingContext
from stream_processor.rules.early_warning import BAND_PRIORITY, NEWS2_EVERY_MS, news2_of, news2_verdict
from stream_processor.rules.kinds import GROUPS, RuleSpec, rule_specs
from stream_processor.rules.quiet import evaluate_reading, is_quiet

__all__ = [
    "BAND_PRIORITY",
    "GROUPS",
    "NEWS2_EVERY_MS",
    "Finding",
    "ReadingContext",
    "RuleSpec",
    "evaluate_reading",
    "is_quiet",
    "news2_of",
    "news2_verdict",
    "rule_specs",
]
