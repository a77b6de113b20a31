"""``python -m edge_agent.evaluation.rhythm --data DIR``: the package's command line (see ``main``)."""

from edge_agent.evaluation.rhythm import main

if __name__ == "__main__":
    raise SystemExit(main())
