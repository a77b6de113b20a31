"""Scripted patient scenarios for the simulator: a profile (the patient's normal) plus episodes.

A scenario spec is a comma-separated list, one entry per patient in order; patients beyond the
list are ``stable``. An entry is a profile or an episode ``kind@onset[+duration]`` in seconds::

    stable, athlete, copd                       profiles (normal adult, HR 48 at rest, SpO2 ~90 %)
    tachycardia@20                              HR rises to ~165/min at t=20 s for 60 s
    desaturation@30+120                         SpO2 falls to ~80 % at t=30 s for 120 s
    bradycardia@, tachypnoea@, fever@           the same for HR ~34/min, RR ~34/min, temperature ~39.9 Cel
    af@40+120                                   atrial fibrillation (irregular, ~115/min) in the waveforms
    pvc@20, vrun@30+8                           frequent PVCs (bigeminy) / a run of ventricular beats
    asystole@30+15, vf@30+20                    no beats at all / ventricular fibrillation (no pulse either)
    motion@25+30, leadoff@25+20                 artefact: motion noise / an electrode off (flat ECG)
    offline@60+180                              sensor loss: the device sends nothing
    sepsis@3600                                 a sepsis-like trend: HR, RR, temperature up, SpO2, BP down over hours
    athlete/motion@300+20/tachycardia@900       a profile and several episodes for one patient, joined by "/"
    mixed                                       (whole spec) a ward where every 4th patient deteriorates

Rhythm episodes only show in the simulated waveforms (``--source sim``); the vitals-only
simulator (``sim:vitals``) shows artefacts as what they do to a wearable's numbers (a jumping pulse
rate, SpO2 dips, a poor signal quality).

Everything here is pure and deterministic.

>>> [s.name for s in parse_scenarios("tachycardia@20,athlete/motion@30+10", patients=3)]
['tachycardia@20+60', 'athlete/motion@30+10', 'stable']
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vitalstream.errors import ConfigError

__all__ = ["COMPOSITES", "EPISODES", "PROFILES", "Episode", "Profile", "Scenario", "parse_scenarios"]


@dataclass(frozen=True, slots=True)
class Profile:
    """A patient's resting normal and how much each vital wanders around it."""

    name: str
    hr: float = 74.0
    spo2: float = 97.0
    rr: float = 15.0
    temp: float = 36.8
    sbp: float = 122.0
    dbp: float = 78.0


PROFILES: dict[str, Profile] = {
    "stable": Profile("stable"),
    "athlete": Profile("athlete", hr=48.0, rr=12.0, sbp=112.0, dbp=68.0),
    "copd": Profile("copd", hr=86.0, spo2=90.0, rr=20.0),
}


@dataclass(frozen=True, slots=True)
class Episode:
    """A deterioration: ``vital`` moves to ``target`` from ``onset_s`` for ``duration_s`` (ramps in and out)."""

    kind: str
    vital: str
    target: float | None  # None: the episode changes the waveform only, not the vital
    onset_s: float = 30.0
    duration_s: float = 60.0
    ramp_s: float = 5.0
    rhythm: str | None = None  # "AF" or "VT" while active (waveforms only)
    artefact: str | None = None  # "motion" or "leadoff" while active (waveforms only)
    pvc_every: int = 0  # a premature ventricular beat every n beats while active
    silent: bool = False  # the device sends nothing while active

    def active(self, t_s: float) -> bool:
        return self.onset_s <= t_s < self.onset_s + self.duration_s

    def weight(self, t_s: float) -> float:
        """0 before and after the episode, 1 in its plateau, linear on the ramps."""
        end = self.onset_s + self.duration_s
        if t_s <= self.onset_s or t_s >= end + self.ramp_s:
            return 0.0
        if self.ramp_s <= 0.0:
            return 1.0 if self.active(t_s) else 0.0
        rise = (t_s - self.onset_s) / self.ramp_s
        fall = (end + self.ramp_s - t_s) / self.ramp_s
        return min(1.0, rise, fall)


EPISODES: dict[str, Episode] = {
    episode.kind: episode
    for episode in (
        Episode("tachycardia", "hr", 165.0),
        Episode("bradycardia", "hr", 34.0),
        Episode("desaturation", "spo2", 80.0),
        Episode("tachypnoea", "rr", 34.0),
        Episode("fever", "temp", 39.9, duration_s=300.0, ramp_s=60.0),
        Episode("af", "hr", 115.0, duration_s=120.0, ramp_s=2.0, rhythm="AF"),
        Episode("pvc", "hr", 80.0, duration_s=120.0, ramp_s=1.0, pvc_every=2),
        Episode("vrun", "hr", 150.0, duration_s=8.0, ramp_s=0.5, rhythm="VT"),
        Episode("asystole", "hr", None, duration_s=15.0, ramp_s=0.5, rhythm="ASYS"),
        Episode("vf", "hr", None, duration_s=20.0, ramp_s=0.5, rhythm="VF"),
        Episode("motion", "hr", None, duration_s=30.0, ramp_s=1.0, artefact="motion"),
        Episode("leadoff", "hr", None, duration_s=20.0, ramp_s=1.0, artefact="leadoff"),
        Episode("offline", "hr", None, duration_s=180.0, ramp_s=0.0, silent=True),
    )
}


# Several vitals moving together. Sepsis-like: over hours, heart and breathing rate and temperature
# climb while SpO2 and blood pressure sag, every vital alone staying near its limits for a long time.
COMPOSITES: dict[str, tuple[Episode, ...]] = {
    "sepsis": tuple(
        Episode("sepsis", vital, target, onset_s=3600.0, duration_s=8 * 3600.0, ramp_s=4 * 3600.0)
        for vital, target in (("hr", 118.0), ("rr", 27.0), ("temp", 38.9), ("spo2", 93.0), ("sbp", 92.0))
    ),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """What one simulated patient does: a profile and zero or more episodes."""

    profile: Profile
    episodes: tuple[Episode, ...] = ()

    @property
    def name(self) -> str:
        parts = [] if self.profile.name == "stable" and self.episodes else [self.profile.name]
        for episode in self.episodes:
            part = f"{episode.kind}@{episode.onset_s:g}+{episode.duration_s:g}"
            if part not in parts:  # a composite's episodes share one name
                parts.append(part)
        return "/".join(parts)

    @property
    def deteriorates(self) -> bool:
        return bool(self.episodes)


def _episodes(part: str, entry: str) -> tuple[Episode, ...]:
    kind, at, timing = part.partition("@")
    if kind not in EPISODES and kind not in COMPOSITES:
        known = ", ".join([*PROFILES, *EPISODES, *COMPOSITES])
        raise ConfigError(f"unknown scenario {entry!r}; known: {known}", source="scenario")
    episodes = COMPOSITES.get(kind) or (EPISODES[kind],)
    if not (at and timing):
        return episodes
    onset, plus, duration = timing.partition("+")
    try:
        onset_s = float(onset)
        durations = [float(duration) if plus else episode.duration_s for episode in episodes]
    except ValueError:
        raise ConfigError(f"bad timing in {entry!r}: expected kind@onset[+duration]", source="scenario") from None
    return tuple(
        replace(episode, onset_s=onset_s, duration_s=length)
        for episode, length in zip(episodes, durations, strict=True)
    )


def _parse_entry(entry: str) -> Scenario:
    parts = [part.strip() for part in entry.split("/") if part.strip()]
    profile = PROFILES["stable"]
    if parts and parts[0] in PROFILES:
        profile = PROFILES[parts.pop(0)]
    episodes = tuple(episode for part in parts for episode in _episodes(part, entry))
    return Scenario(profile, episodes)


def _mixed(patients: int) -> list[Scenario]:
    """A believable ward: mostly stable patients, an athlete and a COPD patient, every 4th one deteriorating."""
    rotation = ["tachycardia@8", "desaturation@12", "bradycardia@20", "tachypnoea@25"]
    calm = ["stable", "athlete", "stable", "copd", "stable", "stable"]
    scenarios = []
    for index in range(patients):
        if index % 4 == 0:
            scenarios.append(_parse_entry(rotation[(index // 4) % len(rotation)]))
        else:
            scenarios.append(_parse_entry(calm[index % len(calm)]))
    return scenarios


def parse_scenarios(spec: str, *, patients: int) -> list[Scenario]:
    """One :class:`Scenario` per patient from a spec string (see the module docstring)."""
    if patients < 1:
        raise ConfigError("need at least one patient", source="patients")
    if spec.strip() == "mixed":
        return _mixed(patients)
    entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
    scenarios = [_parse_entry(entry) for entry in entries[:patients]]
    scenarios += [Scenario(PROFILES["stable"])] * (patients - len(scenarios))
    return scenarios
