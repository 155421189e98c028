"""Generated forward (placeholder; see the issue 'Backends: one seam')."""


def render_classes(bp):
    raise NotImplementedError("generated forward is not written yet")
