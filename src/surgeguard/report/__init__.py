"""Reports: self-contained HTML pages (inline CSS and SVG, no external resources).

:func:`write_replay_report` writes the page of a replay; :mod:`surgeguard.report.svg` has the
drawings (network map, time-series chart) for other sections to reuse.
"""

from .html import render_replay_report, write_replay_report

__all__ = ["write_replay_report", "render_replay_report"]
