"""``msp report``: time worked, sessions, progress, decisions and blockers per day, project,
issue or engineer, as a terminal table, JSON, CSV or one self-contained HTML page of SVG charts.

- :mod:`~msp._report.window`: the report's window and time zone, and a span split at local
  midnights (pure).
- :mod:`~msp._report.gather`: the rows a report needs, read through the store interface from
  the projections (one row per session and per blocker, never a session's events, except the
  progress points of the few sessions the HTML chart draws).
- :mod:`~msp._report.aggregate`: those rows folded into groups and chart series (pure).
- :mod:`~msp._report.text`, :mod:`~msp._report.page`, :mod:`~msp._report.svg`: the renderers
  (pure); :mod:`~msp._report.palette`: the fixed colours, one per project.
"""
