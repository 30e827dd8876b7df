"""Report sections, one module per topic: each takes result objects and returns HTML.

A section never computes a result (no solver, no replay): the library computes, the section
formats. ``classes`` (critical services), ``capacity`` (capacity plan), ``whatif`` (failures),
``learned`` (the learned policy).
"""
