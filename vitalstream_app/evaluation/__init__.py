"""Whole-system evaluations: the processor's alerts on a scenario library and on real recordings, through the
edge pipeline (the edge models' own evaluations live with them, in ``edge_agent.evaluation``)."""

__all__: list[str] = []
