"""A project test with no invariant: a run of only these writes no report unless asked."""


def test_plain():
    pass
